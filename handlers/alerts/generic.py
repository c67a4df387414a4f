"""warroom's own alert format, for anything that can POST JSON (a cron job, a CI step, a
script around another monitoring tool).

One body is one alert: `title` is required, everything else optional (an empty string
counts as absent). Send the same `dedup_key` again to update the alert, and with
`"status": "resolved"` to resolve it. Without a `dedup_key`, the title and service are
the key: the same title for the same service is the same alert. `EXAMPLE` is a full
body; the route's OpenAPI schema shows it too.

Unknown fields are refused rather than ignored, so that a misspelt `severity` is
noticed when the integration is written, not during an incident.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from bot.alerts.model import AlertBatch, AlertIn, AlertSource, AlertStatus, Link
from handlers.alerts.fields import (
    MAX_ANNOTATION_VALUE,
    MAX_FINGERPRINT,
    MAX_URL,
    Labels,
)

EXAMPLE: dict[str, Any] = {
    "title": "Checkout error rate above 5%",
    "severity": "sev2",
    "service": "checkout",
    "dedup_key": "checkout-5xx",
    "status": "firing",
    "labels": {"env": "prod", "region": "eu-west-1"},
    "links": [{"title": "Dashboard", "url": "https://grafana.example/d/checkout"}],
    "description": "5xx ratio 7.3% over the last 5 minutes.",
}


def _text(max_length: int, min_length: int | None = None) -> Any:
    return Field(min_length=min_length, max_length=max_length)


class GenericLink(BaseModel):
    """A link shown with the alert."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    title: Annotated[str, _text(200, min_length=1)]
    url: Annotated[str, Field(max_length=MAX_URL, pattern=r"^https?://")]


class GenericAlert(BaseModel):
    """One alert in warroom's own format; send it again with the same `dedup_key` (or
    title and service) to update it, with `"status": "resolved"` to resolve it."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        json_schema_extra={"examples": [EXAMPLE]},
    )

    title: Annotated[str, _text(500, min_length=1)] = Field(
        description="What is wrong, in one line."
    )
    severity: Annotated[str, _text(40)] | None = Field(
        default=None, description="A severity of the policy, or one of its aliases (`P1`)."
    )
    service: Annotated[str, _text(200)] | None = Field(
        default=None, description="The service affected; routes can match on it."
    )
    dedup_key: Annotated[str, _text(MAX_FINGERPRINT)] | None = Field(
        default=None,
        description="Names the alert across deliveries; derived from title and service "
        "when absent.",
    )
    status: AlertStatus = AlertStatus.FIRING
    labels: Labels = Field(default_factory=dict, description="More labels for routes to match on.")
    links: list[GenericLink] = Field(default_factory=list, max_length=20)
    description: Annotated[str, _text(MAX_ANNOTATION_VALUE)] | None = None

    def key(self) -> str:
        if self.dedup_key:
            return self.dedup_key
        # JSON keeps ("a b", "c") and ("a", "b c") apart.
        named = json.dumps([self.title, self.service or None], ensure_ascii=False).encode()
        return hashlib.sha256(named).hexdigest()[:32]


def to_batch(payload: GenericAlert) -> AlertBatch:
    key = payload.key()
    # The named fields win over labels of the same name: they are what the sender meant.
    labels = dict(payload.labels)
    labels["alertname"] = payload.title
    if payload.severity:
        labels["severity"] = payload.severity
    if payload.service:
        labels["service"] = payload.service
    annotations = {"summary": payload.title}
    if payload.description:
        annotations["description"] = payload.description
    alert = AlertIn(
        fingerprint=key,
        status=payload.status,
        labels=labels,
        annotations=annotations,
        links=tuple(Link(link.title, link.url) for link in payload.links),
    )
    return AlertBatch(
        source=AlertSource.GENERIC,
        group_key=key,
        status=payload.status,
        alerts=(alert,),
        title=payload.title,
        description=payload.description or None,
    )
