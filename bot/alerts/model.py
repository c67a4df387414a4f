"""An alert source's delivery in the core's words, whatever sent it.

Each source's webhook glue (handlers/alerts/) checks its own payload and translates it
into an `AlertBatch`: one alert group (Alertmanager's `groupKey`, Grafana's group key, a
generic `dedup_key`) with the alerts the delivery carries. A batch may carry only some of
the group's alerts (a resolved Alertmanager body carries only the last one): state is kept
per alert `fingerprint`, never inferred from what a body leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class AlertSource(StrEnum):
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    GENERIC = "generic"


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Link:
    """A link worth showing with an alert: its graph, dashboard, panel, runbook, silence."""

    label: str  # "graph", "dashboard", "panel", "runbook", "silence", or the source's own
    url: str


@dataclass(frozen=True)
class AlertIn:
    """One alert as the source reports it now."""

    fingerprint: str  # stable per alert within its group
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None  # None while firing (Alertmanager's 0001-01-01)
    links: tuple[Link, ...] = ()
    values: dict[str, float] = field(default_factory=dict)  # Grafana's evaluated values


@dataclass(frozen=True)
class AlertBatch:
    """What one webhook delivery says about one alert group."""

    source: AlertSource
    group_key: str
    status: AlertStatus  # the group's status as the source sees it
    alerts: tuple[AlertIn, ...]
    group_labels: dict[str, str] = field(default_factory=dict)
    common_labels: dict[str, str] = field(default_factory=dict)
    common_annotations: dict[str, str] = field(default_factory=dict)
    # Alerts of the group the source left out of this body (Alertmanager's max_alerts).
    truncated: int = 0
    external_url: str | None = None
    # A title the source gave the group itself (Grafana's `title`, generic's `title`).
    title: str | None = None
    description: str | None = None
    receiver: str | None = None

    def route_labels(self) -> dict[str, str]:
        """The labels a route matches against: what every alert of the group shares.

        A source that sends no common labels (generic, some Grafana bodies) is matched on
        its first alert's labels."""
        if self.common_labels or self.group_labels:
            return {**self.group_labels, **self.common_labels}
        return dict(self.alerts[0].labels) if self.alerts else {}

    def route_annotations(self) -> dict[str, str]:
        if self.common_annotations:
            return dict(self.common_annotations)
        return dict(self.alerts[0].annotations) if self.alerts else {}
