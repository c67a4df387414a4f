"""Prometheus Alertmanager's webhook (`webhook_config`, payload version 4).

Alertmanager sends one body per alert group and notification, with at most `max_alerts`
of the group's alerts (`truncatedAlerts` says how many it left out). With
`send_resolved`, a resolved alert is sent once, in the next notification, and then drops
out of the group: the body saying the whole group resolved carries only the alerts that
resolved last.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bot.alerts.model import AlertBatch, AlertIn, AlertSource
from handlers.alerts.fields import MAX_ALERTS, WebhookAlert, WebhookGroup, links


class AlertmanagerAlert(WebhookAlert):
    """One alert of the group; Alertmanager's fields, unknown ones ignored."""


class AlertmanagerWebhook(WebhookGroup):
    """The body Alertmanager POSTs to a `webhook_config` receiver."""

    version: Literal["4"]
    alerts: list[AlertmanagerAlert] = Field(min_length=1, max_length=MAX_ALERTS)


def to_batch(payload: AlertmanagerWebhook) -> AlertBatch:
    return AlertBatch(
        source=AlertSource.ALERTMANAGER,
        group_key=payload.group_key,
        status=payload.status,
        alerts=tuple(_alert(alert) for alert in payload.alerts),
        group_labels=dict(payload.group_labels),
        common_labels=dict(payload.common_labels),
        common_annotations=dict(payload.common_annotations),
        truncated=payload.truncated_alerts,
        external_url=payload.external_url or None,
        receiver=payload.receiver or None,
    )


def _alert(alert: AlertmanagerAlert) -> AlertIn:
    return AlertIn(
        fingerprint=alert.stable_fingerprint(),
        status=alert.status,
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        starts_at=alert.starts_at,
        ends_at=alert.ends_at_if_resolved(),
        links=links(
            [("graph", alert.generator_url), ("runbook", alert.annotations.get("runbook_url"))]
        ),
    )
