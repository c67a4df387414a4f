"""Grafana Alerting's webhook contact point (payload version 1).

The body is Alertmanager's webhook envelope with Grafana's additions: `orgId`, `state`
(`alerting` or `ok`), the templated `title` and `message`, and per alert the silence,
dashboard and panel links and the evaluated `values`. Grafana adds fields between
releases, so unknown ones are ignored.

With an HMAC secret set on the contact point (Grafana 12 and later), Grafana signs each
request: the lowercase hex HMAC-SHA256 of the body under the secret, in
`X-Grafana-Alerting-Signature` (its default header). When the contact point also names a
timestamp header, Grafana puts the Unix time in seconds there and signs
`<timestamp>:<body>` instead; name it `X-Grafana-Alerting-Timestamp` for it to be read.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, FiniteFloat
from starlette.datastructures import Headers

from bot.alerts.model import AlertBatch, AlertIn, AlertSource
from handlers.alerts.fields import (
    MAX_ALERTS,
    MAX_PAIRS,
    Name,
    ShortText,
    Url,
    WebhookAlert,
    WebhookGroup,
    links,
    null_as_empty,
)
from handlers.http import Refusal

SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
TIMESTAMP_HEADER = "X-Grafana-Alerting-Timestamp"
_HEX_DIGITS = frozenset("0123456789abcdef")

Values = Annotated[
    dict[Name, FiniteFloat], Field(max_length=MAX_PAIRS), BeforeValidator(null_as_empty)
]


class GrafanaAlert(WebhookAlert):
    """One alert of the group, with Grafana's links and evaluated values."""

    silence_url: Url = Field(default="", alias="silenceURL")
    dashboard_url: Url = Field(default="", alias="dashboardURL")
    panel_url: Url = Field(default="", alias="panelURL")
    image_url: Url = Field(default="", alias="imageURL")
    values: Values = Field(default_factory=dict)


class GrafanaWebhook(WebhookGroup):
    """The body a Grafana webhook contact point POSTs."""

    version: Literal["1"]
    org_id: int | None = Field(default=None, alias="orgId")
    state: ShortText = ""
    # Templated from the group's labels, so it may run long; the core shortens it.
    title: Annotated[str, Field(max_length=4000)] = ""
    message: str = ""  # every alert spelled out: bounded by the body's size alone
    alerts: list[GrafanaAlert] = Field(min_length=1, max_length=MAX_ALERTS)


def check_signature(body: bytes, headers: Headers, secret: str) -> Refusal | None:
    """None if the body carries Grafana's signature under `secret`."""
    signature = headers.get(SIGNATURE_HEADER, "").strip().lower()
    if not signature:
        return Refusal(401, "invalid_signature", f"missing {SIGNATURE_HEADER}")
    timestamp = headers.get(TIMESTAMP_HEADER)
    signed = body if timestamp is None else timestamp.encode("latin-1") + b":" + body
    key = secret.encode("utf-8", "surrogateescape")  # the variable's bytes, as set
    expected = hmac.new(key, signed, hashlib.sha256).hexdigest()
    if not (set(signature) <= _HEX_DIGITS and hmac.compare_digest(signature, expected)):
        return Refusal(401, "invalid_signature", "the signature does not match the body")
    return None


def to_batch(payload: GrafanaWebhook) -> AlertBatch:
    return AlertBatch(
        source=AlertSource.GRAFANA,
        group_key=payload.group_key,
        status=payload.status,
        alerts=tuple(_alert(alert) for alert in payload.alerts),
        group_labels=dict(payload.group_labels),
        common_labels=dict(payload.common_labels),
        common_annotations=dict(payload.common_annotations),
        truncated=payload.truncated_alerts,
        external_url=payload.external_url or None,
        title=payload.title or None,
        description=payload.message or None,
        receiver=payload.receiver or None,
    )


def _alert(alert: GrafanaAlert) -> AlertIn:
    return AlertIn(
        fingerprint=alert.stable_fingerprint(),
        status=alert.status,
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        starts_at=alert.starts_at,
        ends_at=alert.ends_at_if_resolved(),
        links=links(
            [
                ("dashboard", alert.dashboard_url),
                ("panel", alert.panel_url),
                # Grafana's generator link opens the alert rule, not a graph.
                ("rule", alert.generator_url),
                ("runbook", alert.annotations.get("runbook_url")),
                ("silence", alert.silence_url),
                ("image", alert.image_url),
            ]
        ),
        values=dict(alert.values),
    )
