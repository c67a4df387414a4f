"""The incident policy: severities, their SLAs and update cadence, channel naming.

Defaults come from the runbook. A YAML file (``WARROOM_CONFIG``) overrides only what it
names; `load_policy` merges it over the defaults and validates the result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic import Field as PydanticField

from bot.errors import ConfigurationError, UnknownSeverity
from bot.text.durations import format_duration, parse_duration

NEXT_BUSINESS_DAY = "next_business_day"
CHANNEL_NAME_FIELDS = frozenset({"number", "slug", "severity"})


def _to_timedelta(value: Any) -> Any:
    if isinstance(value, str) and value != NEXT_BUSINESS_DAY:
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: write it with a unit, like 30s, 15m or 1h")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_timedelta),
    PlainSerializer(format_duration, return_type=str),
]


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
    start: Annotated[str, PydanticField(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "09:00"
    end: Annotated[str, PydanticField(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "18:00"

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
    pagerduty: PagerDutyTarget | None = None
    webhook: WebhookTarget | None = None

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

    def severity(self, text: str) -> SeverityLevel:
        """The severity a person typed (name or alias, any case); UnknownSeverity otherwise."""
        key = text.strip().casefold()
        for level in self.severities:
            if key in (spelling.casefold() for spelling in level.names()):
                return level
        raise UnknownSeverity(text, self.severity_names())

    def severity_names(self) -> list[str]:
        return [level.name for level in self.severities]

    def as_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


DEFAULT_POLICY_DATA: dict[str, Any] = {
    "severities": [
        {
            "name": "SEV1",
            "description": "Complete outage",
            "aliases": ["P0", "critical"],
            "response": "15m",
            "update_every": "15m",
        },
        {
            "name": "SEV2",
            "description": "Major degradation",
            "aliases": ["P1", "high"],
            "response": "1h",
            "update_every": "30m",
        },
        {
            "name": "SEV3",
            "description": "Partial impact",
            "aliases": ["P2", "medium"],
            "response": "4h",
            "update_every": "1h",
        },
        {
            "name": "SEV4",
            "description": "Minimal impact",
            "aliases": ["P3", "low"],
            "response": NEXT_BUSINESS_DAY,
            "update_every": None,
        },
    ],
    "channel_name": "inc-{number}-{slug}",
    "announce_channel": None,
    "timeline_emoji": "pushpin",
    "pagerduty_url": "https://events.pagerduty.com",
    "escalation": [
        {
            "level": "L1",
            "name": "On-call engineer",
            "severities": ["SEV1", "SEV2", "SEV3", "SEV4"],
            "after": "0s",
        },
        {"level": "L2", "name": "Tech lead", "severities": ["SEV1", "SEV2"], "after": "30m"},
        {"level": "L3", "name": "Engineering manager", "severities": ["SEV1"], "after": "1h"},
    ],
    "roles": {
        "commander": "Incident Commander: leads the response, makes the calls and delegates "
        "the work, so that responders can focus on the fix.",
        "comms": "Communications lead: posts the status updates on cadence and keeps "
        "stakeholders informed.",
        "scribe": "Scribe: records decisions, findings and actions on the timeline, for the "
        "postmortem.",
    },
}


def default_policy() -> Policy:
    return Policy.model_validate(DEFAULT_POLICY_DATA)


def merge_policy_data(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Lay a (possibly partial) policy over the defaults.

    Severities that name a built-in level change only the fields they give; a list that
    introduces other names defines the whole ladder itself, in its own order (teams that
    speak P0-P3 replace the SEV ladder rather than extend it).
    """
    merged: dict[str, Any] = {key: value for key, value in DEFAULT_POLICY_DATA.items()}
    for key, value in overrides.items():
        if key == "severities" and isinstance(value, list):
            merged[key] = _merge_severities(value)
        elif key == "roles" and isinstance(value, Mapping):
            merged[key] = {**DEFAULT_POLICY_DATA["roles"], **value}
        else:
            merged[key] = value
    return merged


def _merge_severities(given: list[Any]) -> list[Any]:
    defaults = {level["name"].casefold(): level for level in DEFAULT_POLICY_DATA["severities"]}
    names = [item.get("name") for item in given if isinstance(item, Mapping)]
    if (
        not given
        or len(names) != len(given)
        or not all(isinstance(name, str) and name.casefold() in defaults for name in names)
    ):
        return given  # a ladder of its own; validation reports anything missing
    overridden = {str(item["name"]).casefold(): item for item in given}
    return [
        {**level, **overridden.get(key, {})} if key in overridden else level
        for key, level in defaults.items()
    ]


def load_policy(path: Path | None) -> Policy:
    """The effective policy: defaults, overlaid with the YAML file at `path` if any."""
    if path is None:
        return default_policy()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read policy file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"policy file {path} is not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            f"policy file {path} must be a mapping of keys, not {type(raw).__name__}"
        )
    try:
        return Policy.model_validate(merge_policy_data(raw))
    except ValidationError as exc:
        raise ConfigurationError(_describe(path, exc, merge_policy_data(raw))) from exc


def _describe(path: Path, exc: ValidationError, data: Mapping[str, Any]) -> str:
    lines = [f"policy file {path} is invalid:"]
    reported: set[str] = set()
    for error in exc.errors():
        location = _location(error["loc"], data)
        if location in reported:
            continue  # a union field fails once per branch; the first says it best
        reported.add(location)
        message = error["msg"].removeprefix("Value error, ")
        value = error.get("input")
        shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
        lines.append(f"  - {location}: {message}{shown}")
    return "\n".join(lines)


def _location(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            name = node[part].get("name") if isinstance(node, list) and part < len(node) else None
            parts.append(f"[{part}]" + (f" ({name})" if isinstance(name, str) else ""))
            node = node[part] if isinstance(node, list) and part < len(node) else None
        elif not isinstance(node, Mapping):
            continue  # inside a value: union branch names mean nothing to the person editing
        else:
            parts.append(("." if parts else "") + str(part))
            node = node.get(part) if isinstance(node, Mapping) else None
    return "".join(parts) or "(top level)"
