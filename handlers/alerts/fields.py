"""Field types and helpers the alert sources share: bounded label maps, Alertmanager's
timestamps and fingerprints, and the links worth keeping.

The bounds keep one body from flooding a channel or a table; they sit well above what a
real source sends, so that a real alert is never refused for being long.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from bot.alerts.model import AlertStatus, Link

MAX_ALERTS = 1000
MAX_PAIRS = 200  # labels or annotations on one alert
MAX_NAME = 256  # a label or annotation name
MAX_LABEL_VALUE = 4096
MAX_ANNOTATION_VALUE = 64 * 1024  # descriptions may carry a log excerpt
MAX_URL = 8192  # Grafana's silence links spell out every matcher
MAX_GROUP_KEY = 4000
MAX_FINGERPRINT = 200
MAX_SHORT_TEXT = 1000  # a receiver, a state, an external URL

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_LABEL_SEPARATOR = b"\xff"  # a byte that never occurs in UTF-8


def null_as_empty(value: Any) -> Any:
    # Go encodes an empty map as null (Grafana's `values`, some label sets).
    return {} if value is None else value


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Labels = Annotated[
    dict[Name, Annotated[str, Field(max_length=MAX_LABEL_VALUE)]],
    Field(max_length=MAX_PAIRS),
    BeforeValidator(null_as_empty),
]
Annotations = Annotated[
    dict[Name, Annotated[str, Field(max_length=MAX_ANNOTATION_VALUE)]],
    Field(max_length=MAX_PAIRS),
    BeforeValidator(null_as_empty),
]
Url = Annotated[str, Field(max_length=MAX_URL)]
ShortText = Annotated[str, Field(max_length=MAX_SHORT_TEXT)]
GroupKey = Annotated[str, Field(min_length=1, max_length=MAX_GROUP_KEY)]
Fingerprint = Annotated[str, Field(max_length=MAX_FINGERPRINT)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]


def _as_utc(value: datetime | None) -> datetime | None:
    # Go's zero time is how Alertmanager and Grafana say "not set".
    if value is None or value.year <= 1:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp out of range") from None


Timestamp = Annotated[datetime | None, AfterValidator(_as_utc)]


class WebhookAlert(BaseModel):
    """One alert as Alertmanager's webhook (and Grafana's, which copies it) sends it."""

    model_config = ConfigDict(frozen=True)

    status: AlertStatus
    labels: Labels
    annotations: Annotations = Field(default_factory=dict)
    starts_at: Timestamp = Field(default=None, alias="startsAt")
    ends_at: Timestamp = Field(default=None, alias="endsAt")
    generator_url: Url = Field(default="", alias="generatorURL")
    fingerprint: Fingerprint = ""

    def stable_fingerprint(self) -> str:
        return self.fingerprint or fingerprint_of(self.labels)

    def ends_at_if_resolved(self) -> datetime | None:
        # The core reads an end time as "resolved at": a firing alert has none.
        return self.ends_at if self.status is AlertStatus.RESOLVED else None


class WebhookGroup(BaseModel):
    """The envelope around a group's alerts that both webhooks share."""

    model_config = ConfigDict(frozen=True)

    group_key: GroupKey = Field(alias="groupKey")
    status: AlertStatus
    receiver: ShortText = ""
    group_labels: Labels = Field(default_factory=dict, alias="groupLabels")
    common_labels: Labels = Field(default_factory=dict, alias="commonLabels")
    common_annotations: Annotations = Field(default_factory=dict, alias="commonAnnotations")
    external_url: ShortText = Field(default="", alias="externalURL")
    truncated_alerts: Count = Field(default=0, alias="truncatedAlerts")


def fingerprint_of(labels: dict[str, str]) -> str:
    """Alertmanager's own fingerprint of a label set (Prometheus' FNV-1a 64 over the
    sorted pairs, as 16 hex digits), so an alert that arrives without one is known by the
    same key as when it has one."""
    digest = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name.encode(), _LABEL_SEPARATOR, labels[name].encode(), _LABEL_SEPARATOR):
            for byte in part:
                digest = ((digest ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{digest:016x}"


def links(candidates: Iterable[tuple[str, str | None]]) -> tuple[Link, ...]:
    """The links worth showing, in the order given: empty ones are left out, and so are
    schemes other than http(s), which a responder has no reason to follow."""
    return tuple(
        Link(label, url)
        for label, url in candidates
        if url and url.lower().startswith(("http://", "https://"))
    )
