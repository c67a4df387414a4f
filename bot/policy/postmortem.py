"""The policy's `postmortem:` section: when the postmortem is due after a resolution, for
which severities it is required, and where the document is published besides the channel.

The runbook: hold the post-mortem within 24 h, complete the document within 48 h.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic import Field as PydanticField

from bot.policy.fields import Duration

EnvName = Annotated[str, PydanticField(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
# Severities whose postmortem is required when the policy does not say: the runbook's
# SEV1 and SEV2, or the first two of a ladder of the team's own.
REQUIRED_BY_RANK = 2


class ConfluenceSettings(BaseModel):
    """A Confluence space the document is published to (REST API, storage format).

    Credentials come from the environment only: Confluence Cloud takes the account's
    email (`user_env`) and an API token (`token_env`) as basic auth; Confluence Data
    Center takes a personal access token (`token_env` alone) as a bearer token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: Annotated[str, PydanticField(pattern=r"^https?://[^\s]+$")]
    space: Annotated[str, PydanticField(min_length=1, max_length=255)]
    parent_id: str | None = None  # the page the postmortems are filed under
    user_env: EnvName | None = None
    token_env: EnvName
    timeout: Duration = timedelta(seconds=10)

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, url: str) -> str:
        return url.rstrip("/")

    def environment_names(self) -> tuple[str, ...]:
        return tuple(name for name in (self.user_env, self.token_env) if name)


class PostmortemPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # From the resolution: when the meeting should be held, when the document is complete.
    meet_within: Duration = timedelta(hours=24)
    complete_within: Duration = timedelta(hours=48)
    # Once overdue, the channel is reminded this often until the incident is closed.
    remind_every: Duration = timedelta(hours=24)
    # Severities whose postmortem is required (None: the ladder's first two); for the
    # others it is optional: offered, never chased.
    required: tuple[str, ...] | None = None
    confluence: ConfluenceSettings | None = None

    @model_validator(mode="after")
    def _meeting_before_document(self) -> PostmortemPolicy:
        if self.meet_within <= timedelta(0) or self.complete_within <= timedelta(0):
            raise ValueError("postmortem.meet_within and complete_within must be longer than 0s")
        if self.complete_within < self.meet_within:
            raise ValueError(
                "postmortem.complete_within must not be shorter than meet_within: "
                "the document is completed after the meeting"
            )
        if self.remind_every < timedelta(hours=1):
            raise ValueError("postmortem.remind_every must be at least 1h")
        return self

    def required_severities(self, ladder: list[str]) -> tuple[str, ...]:
        return self.required if self.required is not None else tuple(ladder[:REQUIRED_BY_RANK])
