"""The policy's `teams:` section: where incidents declared in Microsoft Teams go when they
were declared from somewhere that cannot hold them (a personal chat, an alert), where
Teams incidents are announced, and whether each gets a thread or a channel of its own."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import Field as PydanticField

# A Teams channel's id, as Teams shows it ("19:…@thread.tacv2").
TeamsChannelId = Annotated[str, PydanticField(pattern=r"^19:[^\s]+$", max_length=400)]
# A team's Microsoft 365 group id (Graph's team id): a GUID, as the Teams admin centre and
# "Get link to team" (groupId=…) show it.
TeamGroupId = Annotated[
    str,
    PydanticField(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ),
]


class TeamsPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The channel a new incident's thread opens in when it was declared in a personal
    # or group chat (a thread needs a channel).
    incidents_channel: TeamsChannelId | None = None
    # Teams incidents are announced here (never in the Slack announce channel).
    announce_channel: TeamsChannelId | None = None
    # thread: each incident is a new thread in the channel it was declared from (no extra
    # permission). channel: each gets a new standard channel in `team_id`, made through
    # Microsoft Graph (the app needs the Channel.Create application permission).
    incident_space: Literal["thread", "channel"] = "thread"
    # The team (its group id) incident channels are made in, and whose channels' files
    # (SharePoint, through Graph: Files.ReadWrite.All) hold postmortem documents.
    team_id: TeamGroupId | None = None

    @model_validator(mode="after")
    def _channel_mode_names_its_team(self) -> TeamsPolicy:
        if self.incident_space == "channel" and self.team_id is None:
            raise ValueError(
                "teams.incident_space: channel needs teams.team_id (the team's group id)"
            )
        return self

    @property
    def uses_graph(self) -> bool:
        return self.team_id is not None
