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
from typing import Any

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session, configure_mappers
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlmodel import SQLModel, col

from bot.alerts.model import AlertIn, AlertSource, AlertStatus
from bot.alerts.state import AlertChange, Known
from bot.storage.models import AlertGroup, IncidentCounter, TimelineKind, UTCDateTime
from bot.text.markdown import alert_actor

ALERT = SQLModel.metadata.tables["alert"]
ALERT_GROUP = SQLModel.metadata.tables["alert_group"]
_G, _A = ALERT_GROUP.c, ALERT.c
_INSERT_ALERTS = ALERT.insert()
_FIND_GROUP = (
    select(*_G)
    .where(_G.source == bindparam("source"), _G.key_hash == bindparam("key_hash"))
    .with_for_update()
)
_INSERT_GROUP = ALERT_GROUP.insert().returning(_G.id)
# What a delivery may change about its group, written back in one statement.
_GROUP_STATE = (
    "status", "truncated", "last_seen_at", "incident_id", "declared_at", "triage_state",
    "triaged_by", "triage_ref",
)  # fmt: skip
_SAVE_GROUP = (
    ALERT_GROUP.update()
    .where(_G.id == bindparam("the_group"))
    .values({name: bindparam(f"new_{name}") for name in _GROUP_STATE})
)
_KNOWN = select(_A.fingerprint, _A.status, _A.starts_at).where(_A.group_id == bindparam("group_id"))
_UPDATE_ALERT = (
    ALERT.update()
    .where(_A.group_id == bindparam("the_group"), _A.fingerprint == bindparam("the_fingerprint"))
    .values(
        status=bindparam("new_status"),
        labels=bindparam("new_labels"),
        annotations=bindparam("new_annotations"),
        links=bindparam("new_links"),
        starts_at=bindparam("new_starts_at", type_=UTCDateTime()),
        ends_at=bindparam("new_ends_at", type_=UTCDateTime()),
        changed_at=bindparam("new_changed_at", type_=UTCDateTime()),
    )
)
_OTHERS_FIRING = select(
    exists().where(
        _A.status == AlertStatus.FIRING.value,
        _A.group_id.in_(
            select(_G.id).where(
                _G.incident_id == bindparam("incident_id"), _G.id != bindparam("group_id")
            )
        ),
    )
)
_NEW_GROUP = manager_of_class(AlertGroup).new_instance
_STATUSES = {status.value: status for status in AlertStatus}


def group_key_hash(source: AlertSource, group_key: str) -> str:
    return hashlib.sha256(f"{source.value}\n{group_key}".encode()).hexdigest()


def _detached(values: Mapping[str, object]) -> AlertGroup:
    """A group from its row, not tracked by the session: written back by `save_group`
    in one statement (the ORM's load and flush cost more than the whole delivery)."""
    configure_mappers()
    group = _NEW_GROUP()
    group.__dict__.update(values)
    return group


def find_group(session: Session, source: AlertSource, key_hash: str) -> AlertGroup | None:
    """The group, locked for this transaction (deliveries of one group take turns)."""
    row = (
        session.connection()
        .execute(_FIND_GROUP, {"source": source.value, "key_hash": key_hash})
        .first()
    )
    return None if row is None else _detached(row._asdict())


def insert_group(session: Session, **values: object) -> AlertGroup:
    """A new group; a concurrent first delivery of the same group fails here (unique key)."""
    values = {
        "incident_id": None, "declared_at": None, "triage_state": None, "triaged_by": None,
        "triage_ref": None, **values,
    }  # fmt: skip
    group_id = session.connection().execute(_INSERT_GROUP, values).scalar_one()
    return _detached({**values, "id": group_id})


def save_group(session: Session, group: AlertGroup) -> None:
    session.connection().execute(
        _SAVE_GROUP,
        {"the_group": group.id, **{f"new_{name}": getattr(group, name) for name in _GROUP_STATE}},
    )


def known_alerts(session: Session, group_id: int) -> dict[str, Known]:
    rows = session.connection().execute(_KNOWN, {"group_id": group_id})
    return {
        fingerprint: Known(_STATUSES[status], starts_at) for fingerprint, status, starts_at in rows
    }


def write_changes(
    session: Session, group_id: int, found: Sequence[AlertChange], *, now: datetime
) -> None:
    """Insert the new alerts and update the changed ones, one statement each way."""
    new = [_row(group_id, change.alert, now) for change in found if change.is_new]
    if new:
        session.connection().execute(_INSERT_ALERTS, new)
    changed = [
        {
            "the_group": group_id,
            "the_fingerprint": change.alert.fingerprint,
            "new_status": change.alert.status.value,
            "new_labels": change.alert.labels,
            "new_annotations": change.alert.annotations,
            "new_links": _links(change.alert),
            "new_starts_at": change.alert.starts_at,
            "new_ends_at": change.alert.ends_at,
            "new_changed_at": now,
        }
        for change in found
        if not change.is_new
    ]
    if changed:
        session.connection().execute(_UPDATE_ALERT, changed)


def statuses_after(known: Mapping[str, Known], found: Sequence[AlertChange]) -> bool:
    """Whether any alert of the group fires once `found` is applied to `known`."""
    status = {fingerprint: alert.status for fingerprint, alert in known.items()}
    status.update((change.alert.fingerprint, change.alert.status) for change in found)
    return AlertStatus.FIRING in status.values()


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


def others_firing(session: Session, *, incident_id: int, group_id: int) -> bool:
    """Whether an alert of another group of the incident still fires (a storm incident)."""
    found = session.connection().scalar(
        _OTHERS_FIRING, {"incident_id": incident_id, "group_id": group_id}
    )
    return bool(found)


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


def alert_entry(
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
) -> dict[str, Any]:
    """One alert change as a timeline entry of its incident, for `record_entries`.
    `opened`: part of how the incident was opened (its card shows it; no digest repeats it)."""
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
    return {
        "incident_id": incident_id,
        "kind": TimelineKind.ALERT,
        "at": now,
        "actor": alert_actor(group.source),
        "text": summary[:300],
        "data": data,
        "source": None,
    }
