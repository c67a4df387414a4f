"""Who may run a delivery now: leases on outbox rows, taken and given back in SQL.

A lease is a compare-and-set on `lease_owner` / `lease_until`, so it works on any
database; on Postgres the rows are also locked (SELECT … FOR UPDATE SKIP LOCKED) so that
several processes claiming at once skip each other instead of waiting. Leases are short
and renewed while their holder lives: a crashed process's claims expire on their own.

Every function here runs inside the caller's transaction (`Database.transaction`). The
statements are Core, built once with bound parameters: SQLAlchemy compiles each once,
and none pays for the ORM's unit of work (an ORM-enabled UPDATE costs several times a
plain one, on the path from a declaration to its card).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.orm import Session, configure_mappers
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlmodel import SQLModel

from bot.storage.models import Delivery, DeliveryState, UTCDateTime

# Deliveries keep their order within an incident's lane; lanes never wait for each other.
# The alert digest gathers alert changes for a few seconds: its lane keeps that wait from
# holding up the incident's chat lane. Triage cards belong to no incident (yet).
# Diagnostics runs take seconds (their checks' timeouts): a lane of their own, so that a
# run never holds up the incident's messages, its own "running" message included.
CHAT_LANE, PAGER_LANE, DIGEST_LANE, TRIAGE_LANE = "chat", "pager", "digest", "triage"
DIAGNOSTICS_LANE = "diagnostics"
LANES = (CHAT_LANE, PAGER_LANE, DIGEST_LANE, TRIAGE_LANE, DIAGNOSTICS_LANE)

DELIVERY = SQLModel.metadata.tables["delivery"]
_C = DELIVERY.c
_NOW = bindparam("now", type_=UTCDateTime())
_UNTIL = bindparam("until", type_=UTCDateTime())
_PENDING = _C.state == DeliveryState.PENDING
_LEASE_FREE = or_(_C.lease_until.is_(None), _C.lease_until < _NOW)
_EARLIER = DELIVERY.alias("earlier")
# Due, unleased, of one lane kind, and first in its incident's lane.
_DUE_HEADS = (
    select(_C.id)
    .where(
        _PENDING,
        _C.lane == bindparam("lane"),
        _C.next_attempt_at <= _NOW,
        _LEASE_FREE,
        ~exists().where(
            _EARLIER.c.incident_id == _C.incident_id,
            _EARLIER.c.lane == _C.lane,
            _EARLIER.c.state == DeliveryState.PENDING,
            _EARLIER.c.id < _C.id,
        ),
    )
    .order_by(_C.next_attempt_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_OF_LANE = (_C.incident_id == bindparam("incident_id"), _C.lane == bindparam("lane"), _PENDING)
# The first pending delivery of one incident's lane (due or not: its order decides).
_FIRST_PENDING_OF = (
    select(_C.id).where(*_OF_LANE).order_by(_C.id).limit(1).with_for_update(skip_locked=True)
)
_ANY_PENDING_IN = select(exists().where(*_OF_LANE))
_TAKE_LEASE = (
    DELIVERY.update()
    .where(_C.id == bindparam("delivery_id"), _PENDING, _C.next_attempt_at <= _NOW, _LEASE_FREE)
    .values(lease_owner=bindparam("owner"), lease_until=_UNTIL, attempts=_C.attempts + 1)
    .returning(*_C)
)
_HELD = (_C.id.in_(bindparam("ids", expanding=True)), _C.lease_owner == bindparam("owner"))
_RENEW = DELIVERY.update().where(*_HELD).values(lease_until=_UNTIL)
_GIVE_BACK = DELIVERY.update().where(*_HELD).values(lease_owner=None, lease_until=None)
_RELEASE_ALL = DELIVERY.update().where(_PENDING).values(lease_owner=None, lease_until=None)
_NEW_DELIVERY = manager_of_class(Delivery).new_instance


def as_delivery(values: Mapping[str, Any]) -> Delivery:
    """A Delivery from a row's values, built as the ORM builds the rows it loads: without
    the model's __init__, whose checks cost more than the statement that read them."""
    configure_mappers()  # done once, at the first ORM use; building needs it done
    delivery = _NEW_DELIVERY()
    delivery.__dict__.update({"last_error": None, "done_at": None, **values})
    return delivery


def lane_busy(session: Session, *, incident_id: int | None, lane: str) -> bool:
    """Whether a delivery of this incident's lane is still pending (its order comes first)."""
    busy = session.connection().scalar(_ANY_PENDING_IN, {"incident_id": incident_id, "lane": lane})
    return bool(busy)


def claim_due_heads(
    session: Session, *, lane: str, owner: str, now: datetime, until: datetime, limit: int
) -> list[Delivery]:
    """Lease up to `limit` due deliveries of `lane`, each the head of its incident's lane."""
    found = session.connection().scalars(_DUE_HEADS, {"now": now, "lane": lane, "limit": limit})
    leased = [take_lease(session, int(i), owner=owner, now=now, until=until) for i in found]
    return [delivery for delivery in leased if delivery is not None]


def claim_next_in_lane(
    session: Session, done: Delivery, *, owner: str, now: datetime, until: datetime
) -> Delivery | None:
    """Lease the delivery that follows `done` in its lane, if it is due and free."""
    next_id = session.connection().scalar(
        _FIRST_PENDING_OF, {"incident_id": done.incident_id, "lane": done.lane}
    )
    if next_id is None:
        return None
    return take_lease(session, int(next_id), owner=owner, now=now, until=until)


def take_lease(
    session: Session, delivery_id: int, *, owner: str, now: datetime, until: datetime
) -> Delivery | None:
    row = (
        session.connection()
        .execute(
            _TAKE_LEASE, {"delivery_id": delivery_id, "now": now, "owner": owner, "until": until}
        )
        .first()
    )
    return None if row is None else as_delivery(row._asdict())


def renew(session: Session, ids: Collection[int], *, owner: str, until: datetime) -> int:
    """Extend the leases `owner` still holds among `ids`; returns how many it still holds."""
    if not ids:
        return 0
    result: Any = session.connection().execute(
        _RENEW, {"ids": list(ids), "owner": owner, "until": until}
    )
    return int(result.rowcount)


def settle(session: Session, delivery: Delivery, *, owner: str, **values: Any) -> bool:
    """Change a delivery `owner` holds, giving its lease back; False if it holds it no more."""
    result: Any = session.connection().execute(
        DELIVERY.update()
        .where(_C.id == delivery.id, _C.lease_owner == owner)
        .values(lease_owner=None, lease_until=None, **values)
    )
    return bool(result.rowcount)


def give_back(session: Session, ids: Collection[int], *, owner: str) -> None:
    """Release leases without touching anything else: someone else may run them."""
    if ids:
        session.connection().execute(_GIVE_BACK, {"ids": list(ids), "owner": owner})


def release_all(session: Session) -> None:
    """Free every claim on pending deliveries (a database one process owns, at start)."""
    session.connection().execute(_RELEASE_ALL)
