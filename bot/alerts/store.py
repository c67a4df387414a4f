"""Alert groups and alerts in the database: found by key, written in bulk, counted.

Statements are Core where they run on every webhook delivery: an Alertmanager storm
re-sends whole groups, and each body's known alerts are read once and only the ones that
changed are written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col

from bot.alerts.model import AlertIn, AlertSource, AlertStatus
from bot.alerts.state import AlertChange, Known
from bot.incidents.timeline import record
from bot.storage.models import Alert, AlertGroup, IncidentCounter, TimelineKind
from bot.text.markdown import alert_actor

ALERT = SQLModel.metadata.tables["alert"]
_INSERT_ALERTS = ALERT.insert()


def group_key_hash(source: AlertSource, group_key: str) -> str:
    return hashlib.sha256(f"{source.value}\n{group_key}".encode()).hexdigest()


def find_group(session: Session, source: AlertSource, key_hash: str) -> AlertGroup | None:
    """The group, locked for this transaction (deliveries of one group take turns)."""
    return session.scalars(
        select(AlertGroup)
        .where(col(AlertGroup.source) == source.value, col(AlertGroup.key_hash) == key_hash)
        .with_for_update()
    ).first()


def known_alerts(session: Session, group_id: int) -> dict[str, Known]:
    rows = session.connection().execute(
        select(
            ALERT.c.fingerprint,
            ALERT.c.status,
            ALERT.c.starts_at,
            ALERT.c.ends_at,
            ALERT.c.annotations,
        ).where(ALERT.c.group_id == group_id)
    )
    return {
        row.fingerprint: Known(AlertStatus(row.status), row.starts_at, row.ends_at, row.annotations)
        for row in rows
    }


def write_changes(
    session: Session, group_id: int, found: Sequence[AlertChange], *, now: datetime
) -> None:
    """Insert the new alerts in one statement, update the changed ones."""
    new = [_row(group_id, change.alert, now) for change in found if change.is_new]
    if new:
        session.connection().execute(_INSERT_ALERTS, new)
    for change in found:
        if change.is_new:
            continue
        alert = change.alert
        session.connection().execute(
            ALERT.update()
            .where(ALERT.c.group_id == group_id, ALERT.c.fingerprint == alert.fingerprint)
            .values(
                status=alert.status.value,
                labels=alert.labels,
                annotations=alert.annotations,
                links=_links(alert),
                starts_at=alert.starts_at,
                ends_at=alert.ends_at,
                changed_at=now,
            )
        )


def _links(alert: AlertIn) -> list[list[str]]:
    return [[link.label, link.url] for link in alert.links]


def _row(group_id: int, alert: AlertIn, now: datetime) -> dict[str, object]:
    return {
        "group_id": group_id,
        "fingerprint": alert.fingerprint,
        "status": alert.status.value,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "links": _links(alert),
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "changed_at": now,
    }


def any_firing(session: Session, *, incident_id: int) -> bool:
    """Whether any alert of any group attached to the incident still fires."""
    firing = session.scalar(
        select(func.count())
        .select_from(Alert)
        .join(AlertGroup, col(AlertGroup.id) == col(Alert.group_id))
        .where(
            col(AlertGroup.incident_id) == incident_id,
            col(Alert.status) == AlertStatus.FIRING.value,
        )
    )
    return bool(firing)


def group_fires(session: Session, group_id: int) -> bool:
    firing = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(col(Alert.group_id) == group_id, col(Alert.status) == AlertStatus.FIRING.value)
    )
    return bool(firing)


def lock_route(session: Session, route_index: int) -> None:
    """Serialise storm control of one route: two replicas opening incidents for it at
    once must not both count nine and both open the tenth."""
    scope = f"alert-route:{route_index}"
    counter = session.get(IncidentCounter, scope, with_for_update=True)
    if counter is None:
        session.add(IncidentCounter(scope=scope, last_number=0))
        session.flush()  # a concurrent first insert fails here: the delivery is retried


def opened_recently(session: Session, route_index: int, *, now: datetime) -> int:
    """How many groups of this route opened an incident of their own in the last minute."""
    count = session.scalar(
        select(func.count())
        .select_from(AlertGroup)
        .where(
            col(AlertGroup.route_index) == route_index,
            col(AlertGroup.declared_at) > now - timedelta(minutes=1),
        )
    )
    return int(count or 0)


@dataclass(frozen=True)
class IncidentAlerts:
    """The alerts of one incident, as its card and digest show them."""

    firing: int
    resolved: int
    truncated: int
    links: list[tuple[str, str]]  # the first few (label, url), firing alerts first
    groups: list[str]  # group titles, when there is more than one (a storm)
    sources: frozenset[str]

    @property
    def total(self) -> int:
        return self.firing + self.resolved


LINKS_SHOWN = 3
GROUPS_SHOWN = 5


def incident_alerts(session: Session, incident_id: int) -> IncidentAlerts | None:
    """The alerts of every group attached to the incident; None if it has none."""
    groups = list(
        session.scalars(
            select(AlertGroup)
            .where(col(AlertGroup.incident_id) == incident_id)
            .order_by(col(AlertGroup.id))
        )
    )
    return _alerts_of(session, groups) if groups else None


def group_alerts(session: Session, group: AlertGroup) -> IncidentAlerts:
    return _alerts_of(session, [group])


def _alerts_of(session: Session, groups: list[AlertGroup]) -> IncidentAlerts:
    ids = [group.id for group in groups]
    counts: dict[str, int] = dict(
        session.connection()
        .execute(
            select(ALERT.c.status, func.count())
            .where(ALERT.c.group_id.in_(ids))
            .group_by(ALERT.c.status)
        )
        .all()
    )
    links: list[tuple[str, str]] = []
    seen: set[str] = set()
    rows = session.connection().execute(
        select(ALERT.c.links, ALERT.c.status)
        .where(ALERT.c.group_id.in_(ids))
        .order_by((ALERT.c.status == AlertStatus.FIRING.value).desc(), ALERT.c.id)
        .limit(50)
    )
    for row in rows:
        for label, url in row.links:
            if url not in seen and len(links) < LINKS_SHOWN:
                seen.add(url)
                links.append((label, url))
    return IncidentAlerts(
        firing=int(counts.get(AlertStatus.FIRING.value, 0)),
        resolved=int(counts.get(AlertStatus.RESOLVED.value, 0)),
        truncated=sum(group.truncated for group in groups),
        links=links,
        groups=[group.title for group in groups] if len(groups) > 1 else [],
        sources=frozenset(group.source for group in groups),
    )


def record_alert(
    session: Session,
    *,
    incident_id: int,
    group: AlertGroup,
    kind: str,
    fingerprint: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    link: str | None,
    opened: bool,
    now: datetime,
) -> None:
    """One alert change as a timeline entry of its incident. `opened`: part of how the
    incident was opened (its card shows it; no digest repeats it)."""
    # What tells this alert apart from its group's others (the instance, usually).
    distinct = {
        name: value for name, value in sorted(labels.items()) if group.labels.get(name) != value
    }
    data: dict[str, object] = {
        "alert": kind,
        "fingerprint": fingerprint,
        "alertname": labels.get("alertname") or group.title,
        "labels": dict(list(distinct.items())[:3]),
        "group": group.id,
    }
    if link:
        data["link"] = link
    if opened:
        data["opened"] = True
    summary = annotations.get("summary") or annotations.get("description") or ""
    record(
        session,
        incident_id=incident_id,
        kind=TimelineKind.ALERT,
        at=now,
        actor=alert_actor(group.source),
        text=summary[:300],
        data=data,
    )
