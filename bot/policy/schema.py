"""The incident policy: severities, their SLAs and update cadence, channel naming,
escalation, permissions, roles, alert routes (`bot.policy.alerts`).

Defaults come from the runbook (`bot.policy.defaults`). A YAML file (``WARROOM_CONFIG``,
read by `bot.policy.policy_file`) overrides only what it names; `load_policy` merges it
over the defaults and validates the result, fields one by one and then across each other
(`bot.policy.checks`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic import Field as PydanticField

from bot.errors import ConfigurationError, UnknownSeverity
from bot.policy.alerts import AlertRoute, AlertSourceConfig, AlertSources, AlertsPolicy
from bot.policy.checks import inconsistencies
from bot.policy.defaults import DEFAULT_POLICY_DATA, NEXT_BUSINESS_DAY, merge_policy_data
from bot.policy.diagnostics import DiagnosticsPolicy
from bot.policy.fields import Duration
from bot.policy.fields import _to_timedelta as _to_timedelta  # for imports from here
from bot.policy.policy_file import describe_invalid, read_policy_file
from bot.policy.postmortem import ConfluenceSettings, PostmortemPolicy
from bot.policy.status_page import StatusPagePolicy, status_page_problems
from bot.policy.teams import TeamsPolicy

__all__ = [  # what the rest of warroom imports from here
    "NEXT_BUSINESS_DAY",
    "Action",
    "AlertRoute",
    "AlertSourceConfig",
    "AlertSources",
    "AlertsPolicy",
    "BusinessHours",
    "ConfluenceSettings",
    "Contacts",
    "DiagnosticsPolicy",
    "Duration",
    "EscalationLevel",
    "PagerDutyTarget",
    "Permission",
    "Policy",
    "PostmortemPolicy",
    "SeverityLevel",
    "StatusPagePolicy",
    "WebhookTarget",
    "default_policy",
    "load_policy",
]

CHANNEL_NAME_FIELDS = frozenset({"number", "slug", "severity"})


def _to_time_of_day(value: Any) -> Any:
    """`9:00` or `09:00`, stored as `09:00`."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"invalid time of day {value!r}: write it as HH:MM, like 09:00")
    return f"{int(match[1]):02d}:{match[2]}"


TimeOfDay = Annotated[str, BeforeValidator(_to_time_of_day)]


class SeverityLevel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, PydanticField(min_length=1, max_length=40)]
    description: str = ""
    aliases: tuple[str, ...] = ()
    response: Duration | Literal["next_business_day"]
    update_every: Duration | None = None

    @field_validator("name")
    @classmethod
    def _name_is_a_word(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
            raise ValueError(f"severity name {name!r} must be one word of letters, digits, - or _")
        return name

    @field_validator("update_every")
    @classmethod
    def _cadence_is_positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("update_every must be longer than 0s (or null for no reminders)")
        return value

    def names(self) -> tuple[str, ...]:
        """Every spelling accepted for this severity, name first."""
        return (self.name, *self.aliases)


class BusinessHours(BaseModel):
    """When the team works: what "next business day" means."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = (
        "mon", "tue", "wed", "thu", "fri",
    )  # fmt: skip
    start: TimeOfDay = "09:00"
    end: TimeOfDay = "18:00"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (use e.g. Europe/Paris)") from None
        return name

    @field_validator("days")
    @classmethod
    def _some_day(cls, days: tuple[str, ...]) -> tuple[str, ...]:
        if not days:
            raise ValueError("business_hours.days needs at least one day")
        return days


class PagerDutyTarget(BaseModel):
    """A PagerDuty service, by the environment variable holding its routing key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    routing_key_env: Annotated[str, PydanticField(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class WebhookTarget(BaseModel):
    """Any other pager (Opsgenie, a phone bridge, a status page): a signed JSON POST."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: Annotated[str, PydanticField(pattern=r"^https?://")]
    secret_env: Annotated[str, PydanticField(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None


class Contacts(BaseModel):
    """Who a level reaches: people and groups to invite and notify."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: tuple[str, ...] = ()
    usergroups: tuple[str, ...] = ()
    # People in Microsoft Teams, by their Entra object id (reached on Teams incidents).
    teams_users: tuple[str, ...] = ()
    pagerduty: PagerDutyTarget | None = None
    webhook: WebhookTarget | None = None

    def reaches_anyone(self) -> bool:
        return bool(
            self.users or self.usergroups or self.teams_users or self.pagerduty or self.webhook
        )

    def pager_targets(self) -> list[dict[str, Any]]:
        """Where this level pages, as stored with each page (secrets stay in the environment)."""
        targets: list[dict[str, Any]] = []
        if self.pagerduty:
            targets.append({"pagerduty": self.pagerduty.model_dump()})
        if self.webhook:
            targets.append({"webhook": self.webhook.model_dump()})
        return targets


class EscalationLevel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    level: Annotated[str, PydanticField(min_length=1, max_length=20)]
    name: str = ""
    severities: tuple[str, ...] = ()  # empty: every severity
    after: Duration = timedelta(0)  # from declaration, while unresolved
    contacts: Contacts = Contacts()

    def label(self) -> str:
        return f"{self.level} {self.name}".strip()


class Permission(BaseModel):
    """Who may make a guarded change: holders of these roles, and these people."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: tuple[str, ...] = ()
    users: tuple[str, ...] = ()


# Everything a person can do to an incident; each can be given its own permission rule.
Action = Literal[
    "acknowledge",
    "status",
    "severity",
    "note",
    "update",
    "resolve",
    "reopen",
    "escalate",
    "role",
    "capture",
    "silence",
    "diagnose",
    "postmortem",
    "close",
    "action",
]


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    severities: tuple[SeverityLevel, ...]
    channel_name: str = "inc-{number}-{slug}"
    announce_channel: str | None = None
    escalation: tuple[EscalationLevel, ...] = ()
    business_hours: BusinessHours = BusinessHours()
    pagerduty_url: Annotated[str, PydanticField(pattern=r"^https?://")] = (
        "https://events.pagerduty.com"
    )
    # action -> who may; absent: anyone in the incident's channel or one of its people.
    permissions: dict[Action, Permission] = PydanticField(default_factory=dict)
    # True: actions without a rule are for the incident's people only (declarer, roles,
    # people called by its escalation), not for everyone who can reach its channel.
    restrict_to_members: bool = False
    # A reaction with this emoji on a message in an incident channel adds it to the timeline.
    timeline_emoji: Annotated[str, PydanticField(pattern=r"^[a-z0-9_+\-']+$")] = "pushpin"
    # Role name -> what the holder does; told to them when they are assigned.
    roles: dict[str, str] = PydanticField(default_factory=dict)
    # Where alerts come from, and which become incidents (bot.alerts.routing).
    alerts: AlertsPolicy = AlertsPolicy()
    # Checks and runbooks responders may run from an incident (bot.diagnostics).
    diagnostics: DiagnosticsPolicy = DiagnosticsPolicy()
    # When the postmortem is due, for which severities, where it is published.
    postmortem: PostmortemPolicy = PostmortemPolicy()
    # Where Teams incidents open and are announced (bot.chat.teams).
    teams: TeamsPolicy = TeamsPolicy()
    # The public status page (bot.status); None: there is none.
    status_page: StatusPagePolicy | None = None

    @field_validator("roles")
    @classmethod
    def _role_names(cls, roles: dict[str, str]) -> dict[str, str]:
        for name in roles:
            if not re.fullmatch(r"[a-z][a-z0-9_-]{0,39}", name):
                raise ValueError(f"role name {name!r} must be one lowercase word")
        return roles

    @field_validator("severities")
    @classmethod
    def _at_least_one(cls, value: tuple[SeverityLevel, ...]) -> tuple[SeverityLevel, ...]:
        if not value:
            raise ValueError("at least one severity is needed")
        return value

    @field_validator("channel_name")
    @classmethod
    def _known_placeholders(cls, template: str) -> str:
        used = set(re.findall(r"{([^{}]*)}", template))
        unknown = used - CHANNEL_NAME_FIELDS
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)} in {template!r}; "
                f"use {sorted(CHANNEL_NAME_FIELDS)}"
            )
        if "number" not in used:
            raise ValueError(f"{template!r} must contain {{number}} so channel names stay unique")
        return template

    @model_validator(mode="after")
    def _unique_spellings(self) -> Policy:
        seen: dict[str, str] = {}
        for level in self.severities:
            for spelling in level.names():
                key = spelling.casefold()
                if key in seen:
                    raise ValueError(
                        f"severity spelling {spelling!r} is used by both "
                        f"{seen[key]} and {level.name}"
                    )
                seen[key] = level.name
        return self

    @model_validator(mode="after")
    def _names_used_are_defined(self) -> Policy:
        problems = inconsistencies(self) + status_page_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def permission(self, action: Action) -> Permission | None:
        """Who may take `action`, if the policy says (None: the default rule)."""
        run = self.diagnostics.run
        if action == "diagnose" and run is not None:
            # `run: {roles: [], users: []}` names nobody: read as no rule, not as "no one".
            if not (run.roles or run.users):
                return None
            return Permission(roles=run.roles, users=run.users)
        return self.permissions.get(action)

    def severity(self, text: str) -> SeverityLevel:
        """The severity a person typed (name or alias, any case); UnknownSeverity otherwise."""
        key = text.strip().casefold()
        for level in self.severities:
            if key in (spelling.casefold() for spelling in level.names()):
                return level
        raise UnknownSeverity(text, self.severity_names())

    def severity_names(self) -> list[str]:
        return [level.name for level in self.severities]

    def postmortem_required(self, severity: str) -> bool:
        """Whether an incident of `severity` (as stored: the level's name) owes a postmortem."""
        return severity in self.postmortem.required_severities(self.severity_names())

    def as_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def default_policy() -> Policy:
    return Policy.model_validate(DEFAULT_POLICY_DATA)


def load_policy(path: Path | None) -> Policy:
    """The effective policy: defaults, overlaid with the YAML file at `path` if any."""
    if path is None:
        return default_policy()
    merged = merge_policy_data(read_policy_file(path))
    try:
        return Policy.model_validate(merged)
    except ValidationError as exc:
        raise ConfigurationError(describe_invalid(path, exc, merged)) from exc
