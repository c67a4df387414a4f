"""What a delivery changes about a group's alerts: state is kept per fingerprint.

A body may repeat what is known (Alertmanager re-sends the whole group on every
`repeat_interval`, and identical bodies after a slow answer), leave alerts out (a resolved
group's body carries only the last alert), or carry one fingerprint twice. Only real
changes count: an alert seen for the first time, one that resolved, one that fires again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.alerts.model import AlertIn, AlertStatus


class ChangeKind(StrEnum):
    FIRING = "firing"  # first seen, firing
    FIRING_AGAIN = "firing_again"  # had resolved, fires again
    RESOLVED = "resolved"
    # First seen already resolved: recorded, nothing to tell anyone.
    SEEN_RESOLVED = "seen_resolved"


@dataclass(frozen=True)
class Known:
    """An alert as stored: what decides whether a body changes it."""

    status: AlertStatus
    starts_at: datetime | None


@dataclass(frozen=True)
class AlertChange:
    kind: ChangeKind
    alert: AlertIn
    is_new: bool

    @property
    def tells(self) -> bool:
        """Whether people hear of it (a timeline entry, the digest)."""
        return self.kind is not ChangeKind.SEEN_RESOLVED


def latest_per_fingerprint(alerts: Sequence[AlertIn]) -> list[AlertIn]:
    """One alert per fingerprint, the last the body lists, in first-seen order."""
    last: dict[str, AlertIn] = {}
    for alert in alerts:
        last[alert.fingerprint] = alert
    return list(last.values())


def changes(known: Mapping[str, Known], incoming: Sequence[AlertIn]) -> list[AlertChange]:
    """What `incoming` changes about the alerts `known` (by fingerprint)."""
    found: list[AlertChange] = []
    for alert in latest_per_fingerprint(incoming):
        before = known.get(alert.fingerprint)
        if before is None:
            kind = (
                ChangeKind.FIRING
                if alert.status is AlertStatus.FIRING
                else ChangeKind.SEEN_RESOLVED
            )
            found.append(AlertChange(kind, alert, is_new=True))
            continue
        if before.status is not alert.status:
            kind = (
                ChangeKind.FIRING_AGAIN
                if alert.status is AlertStatus.FIRING
                else ChangeKind.RESOLVED
            )
            found.append(AlertChange(kind, alert, is_new=False))
        elif alert.status is AlertStatus.FIRING and _fired_anew(before, alert):
            # Resolved and firing again between two deliveries that we both missed the
            # resolution of: a new start time is a new occurrence.
            found.append(AlertChange(ChangeKind.FIRING_AGAIN, alert, is_new=False))
        # Anything else (a reworded annotation, a moved end) is no change: a re-sent group
        # costs a comparison per alert, not a write; the next real change stores it.
    return found


def _fired_anew(before: Known, alert: AlertIn) -> bool:
    return (
        before.starts_at is not None
        and alert.starts_at is not None
        and alert.starts_at > before.starts_at
    )
