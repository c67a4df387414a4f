"""What is kept only for a while: the ids of chat events already handled (their only use
is recognising a platform's re-delivery, which comes within minutes), and the outbox's
deliveries once they have landed.

The serving process forgets handled events after a week on its own; `warroom prune`
removes both older than a cutoff the operator chooses. Pruning is safe while warroom
serves: rows go in small batches, one short transaction each, and only rows nothing
works on any more are touched. Of the deliveries, only landed ones (`done`) go; pending
ones (in flight or waiting for a retry) and failed ones (a story the operator may still
want to read) stay, and so do the few landed rows warroom reads again:

- the newest delivery: SQLite gives a new row the highest id so far plus one, and a
  post's marker in chat (`delivery:<id>`) must never be handed out twice;
- of an incident not yet closed, its pages (resolving it tells each pager it triggered)
  and its first invitation (which tells the declarer where the channel is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from bot.delivery.outbox import DeliveryKind
from bot.incidents.status import Status
from bot.storage.database import Database
from bot.storage.models import Delivery, DeliveryState, Incident, ProcessedEvent

PROCESSED_EVENTS_KEPT = timedelta(days=7)
# Rows per transaction: each batch holds its locks for milliseconds, so serving goes on.
BATCH_SIZE = 500
# A query of the primary keys of the rows to remove.
_Keys = Select[Any]


@dataclass(frozen=True)
class Pruned:
    """How many rows went (or, on a dry run, would go)."""

    processed_events: int
    deliveries: int


async def prune_processed_events(db: Database, *, now: datetime) -> int:
    """Forget handled events older than a week; returns how many were removed."""
    return await _prune_in_batches(db, _old_events(now - PROCESSED_EVENTS_KEPT), ProcessedEvent)


async def prune(
    db: Database, *, cutoff: datetime, dry_run: bool = False, batch_size: int = BATCH_SIZE
) -> Pruned:
    """Remove handled events received, and landed deliveries done, before `cutoff`."""
    events, deliveries = _old_events(cutoff), _old_deliveries(cutoff)
    if dry_run:
        return Pruned(
            processed_events=await _count(db, events), deliveries=await _count(db, deliveries)
        )
    return Pruned(
        processed_events=await _prune_in_batches(db, events, ProcessedEvent, batch_size),
        deliveries=await _prune_in_batches(db, deliveries, Delivery, batch_size),
    )


def _old_events(cutoff: datetime) -> _Keys:
    return select(col(ProcessedEvent.event_id)).where(col(ProcessedEvent.received_at) < cutoff)


def _old_deliveries(cutoff: datetime) -> _Keys:
    newest = select(func.max(col(Delivery.id))).scalar_subquery()
    return select(col(Delivery.id)).where(
        col(Delivery.state) == DeliveryState.DONE,
        # Rows from before done_at was recorded count from their creation.
        func.coalesce(col(Delivery.done_at), col(Delivery.created_at)) < cutoff,
        col(Delivery.id) < newest,
        ~_read_again(),
    )


def _read_again() -> ColumnElement[bool]:
    """Landed deliveries of an incident not closed yet that warroom reads again."""
    first_invite = aliased(Delivery)
    earlier_invite = exists().where(
        col(first_invite.incident_id) == col(Delivery.incident_id),
        col(first_invite.kind) == DeliveryKind.INVITE.value,
        col(first_invite.id) < col(Delivery.id),
    )
    still_open = exists().where(
        col(Incident.id) == col(Delivery.incident_id), col(Incident.status) != Status.CLOSED
    )
    return and_(
        still_open,
        or_(
            col(Delivery.kind) == DeliveryKind.PAGE.value,
            and_(col(Delivery.kind) == DeliveryKind.INVITE.value, ~earlier_invite),
        ),
    )


async def _count(db: Database, rows: _Keys) -> int:
    counted = select(func.count()).select_from(rows.subquery())
    return await db.transaction(lambda session: int(session.execute(counted).scalar_one()))


async def _prune_in_batches(
    db: Database,
    rows: _Keys,
    table: type[ProcessedEvent] | type[Delivery],
    batch_size: int = BATCH_SIZE,
) -> int:
    """Delete `rows` (a query of primary keys) `batch_size` at a time, each batch in a
    transaction of its own, until a batch comes back short; returns how many went."""
    key = col(ProcessedEvent.event_id) if table is ProcessedEvent else col(Delivery.id)

    def one_batch(session: Session) -> tuple[int, int]:
        keys = list(session.execute(rows.limit(batch_size)).scalars())
        if not keys:
            return 0, 0
        # The query's conditions again: a row that changed since it was read stays.
        result = session.execute(delete(table).where(key.in_(keys), key.in_(rows)))
        return len(keys), int(getattr(result, "rowcount", 0) or 0)

    total = 0
    while True:
        found, removed = await db.transaction(one_batch)
        total += removed
        if found < batch_size:
            return total
