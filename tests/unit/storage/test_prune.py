"""`warroom prune`'s work: handled events and landed deliveries older than the cutoff go,
in batches; pending, in-flight and failed deliveries stay, and so do the landed rows
warroom reads again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col

from bot.delivery.outbox import DeliveryKind
from bot.incidents.status import Status
from bot.storage.database import Database
from bot.storage.models import Delivery, DeliveryState, Incident, ProcessedEvent, insert_incident
from bot.storage.retention import Pruned, prune, prune_processed_events
from tests.conftest import SteppingClock

DELIVERY = SQLModel.metadata.tables["delivery"]
AGE = timedelta(days=90)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


async def incident(db: Database, number: int, *, status: Status, at: datetime) -> int:
    def insert(session: Session) -> int:
        row = insert_incident(
            session,
            number=number,
            title=f"Incident {number}",
            severity="SEV2",
            status=status,
            private=False,
            declared_by="U1",
            started_at=at,
        )
        return row.id or 0

    return await db.transaction(insert)


async def delivery(
    db: Database,
    *,
    at: datetime,
    state: DeliveryState = DeliveryState.DONE,
    incident_id: int | None = None,
    kind: DeliveryKind = DeliveryKind.POST_MESSAGE,
    leased_until: datetime | None = None,
    done: bool = True,
) -> int:
    """A delivery created at `at` (and done then, unless `done` is False)."""
    row = {
        "incident_id": incident_id,
        "kind": kind.value,
        "lane": "pager" if kind is DeliveryKind.PAGE else "chat",
        "payload": {},
        "state": state,
        "attempts": 1,
        "created_at": at,
        "next_attempt_at": at,
        "lease_owner": "worker-elsewhere" if leased_until else None,
        "lease_until": leased_until,
        "done_at": at if done and state is not DeliveryState.PENDING else None,
    }
    inserted = DELIVERY.insert().returning(DELIVERY.c.id)
    return await db.transaction(lambda s: int(s.connection().execute(inserted, row).scalar_one()))


async def handled(db: Database, event_id: str, at: datetime) -> None:
    await db.transaction(lambda s: s.add(ProcessedEvent(event_id=event_id, received_at=at)))


async def delivery_ids(db: Database) -> set[int]:
    return await db.transaction(
        lambda session: set(session.scalars(select(col(Delivery.id))).all())  # type: ignore[arg-type]
    )


async def event_ids(db: Database) -> set[str]:
    return await db.transaction(
        lambda session: set(session.scalars(select(col(ProcessedEvent.event_id))).all())
    )


async def test_only_landed_deliveries_and_handled_events_older_than_the_cutoff_go(
    db: Database, clock: SteppingClock
) -> None:
    old, recent = clock.now - AGE - timedelta(hours=1), clock.now - AGE + timedelta(hours=1)
    closed = await incident(db, 1, status=Status.CLOSED, at=old)
    landed_old = await delivery(db, at=old, incident_id=closed)
    triage_old = await delivery(db, at=old, kind=DeliveryKind.POST_TRIAGE)  # of no incident
    landed_recent = await delivery(db, at=recent, incident_id=closed)
    waiting = await delivery(db, at=old, state=DeliveryState.PENDING, incident_id=closed)
    in_flight = await delivery(
        db, at=old, state=DeliveryState.PENDING, leased_until=clock.now + timedelta(seconds=15)
    )
    failed = await delivery(db, at=old, state=DeliveryState.FAILED, incident_id=closed)
    newest = await delivery(db, at=recent)
    await handled(db, "Ev0OLD", old)
    await handled(db, "Ev0RECENT", recent)

    assert await prune(db, cutoff=clock.now - AGE) == Pruned(processed_events=1, deliveries=2)
    assert landed_old not in await delivery_ids(db)
    assert triage_old not in await delivery_ids(db)
    assert await delivery_ids(db) == {landed_recent, waiting, in_flight, failed, newest}
    assert await event_ids(db) == {"Ev0RECENT"}


async def test_a_dry_run_counts_what_would_go_and_removes_nothing(
    db: Database, clock: SteppingClock
) -> None:
    old = clock.now - AGE - timedelta(days=1)
    for _ in range(3):
        await delivery(db, at=old)
    await delivery(db, at=clock.now)  # the newest
    await handled(db, "Ev0OLD", old)
    before = await delivery_ids(db)

    counted = await prune(db, cutoff=clock.now - AGE, dry_run=True)

    assert counted == Pruned(processed_events=1, deliveries=3)
    assert await delivery_ids(db) == before
    assert await event_ids(db) == {"Ev0OLD"}
    assert await prune(db, cutoff=clock.now - AGE) == counted  # then exactly those go


async def test_rows_go_in_batches_until_none_is_left(db: Database, clock: SteppingClock) -> None:
    old = clock.now - AGE - timedelta(days=1)
    for _ in range(7):
        await delivery(db, at=old)
    for n in range(5):
        await handled(db, f"Ev0{n}", old)
    newest = await delivery(db, at=clock.now)

    pruned = await prune(db, cutoff=clock.now - AGE, batch_size=2)

    assert pruned == Pruned(processed_events=5, deliveries=7)
    assert await delivery_ids(db) == {newest}
    assert await event_ids(db) == set()


async def test_the_newest_delivery_stays_so_that_sqlite_never_hands_its_id_out_again(
    db: Database, clock: SteppingClock
) -> None:
    old = clock.now - AGE - timedelta(days=1)
    first, last = await delivery(db, at=old), await delivery(db, at=old)
    assert await prune(db, cutoff=clock.now) == Pruned(processed_events=0, deliveries=1)
    assert await delivery_ids(db) == {last}
    assert first not in await delivery_ids(db)


async def test_an_incident_still_open_keeps_its_pages_and_its_first_invitation(
    db: Database, clock: SteppingClock
) -> None:
    """Resolving it tells every pager it triggered (read from its page deliveries), and its
    first invitation is how the declarer learns where the channel is."""
    old = clock.now - AGE - timedelta(days=1)
    resolved = await incident(db, 1, status=Status.RESOLVED, at=old)
    closed = await incident(db, 2, status=Status.CLOSED, at=old)
    kept = {
        await delivery(db, at=old, incident_id=resolved, kind=DeliveryKind.INVITE),
        await delivery(db, at=old, incident_id=resolved, kind=DeliveryKind.PAGE),
    }
    gone = {
        await delivery(db, at=old, incident_id=resolved, kind=DeliveryKind.INVITE),
        await delivery(db, at=old, incident_id=resolved, kind=DeliveryKind.POST_CARD),
        await delivery(db, at=old, incident_id=closed, kind=DeliveryKind.INVITE),
        await delivery(db, at=old, incident_id=closed, kind=DeliveryKind.PAGE),
    }
    newest = await delivery(db, at=clock.now)

    assert await prune(db, cutoff=clock.now - AGE) == Pruned(processed_events=0, deliveries=4)
    assert await delivery_ids(db) == {*kept, newest}

    # Once closed (final), nothing of it is read again.
    await db.transaction(
        lambda s: s.execute(
            update(Incident).where(col(Incident.id) == resolved).values(status=Status.CLOSED)
        )
    )
    assert await prune(db, cutoff=clock.now - AGE) == Pruned(processed_events=0, deliveries=2)
    assert await delivery_ids(db) == {newest}
    assert gone.isdisjoint(await delivery_ids(db))


async def test_rows_from_before_done_at_count_from_their_creation(
    db: Database, clock: SteppingClock
) -> None:
    undated = await delivery(db, at=clock.now - AGE - timedelta(days=1), done=False)
    await delivery(db, at=clock.now)
    assert await prune(db, cutoff=clock.now - AGE) == Pruned(processed_events=0, deliveries=1)
    assert undated not in await delivery_ids(db)


async def test_a_delivery_counts_from_when_it_landed_not_when_it_was_owed(
    db: Database, clock: SteppingClock
) -> None:
    """A delivery retried for days landed recently: it is recent."""
    owed = clock.now - AGE - timedelta(days=5)
    landed_late = await delivery(db, at=owed)
    await db.transaction(
        lambda s: s.execute(
            update(Delivery)
            .where(col(Delivery.id) == landed_late)
            .values(done_at=clock.now - timedelta(days=1))
        )
    )
    await delivery(db, at=clock.now)
    assert await prune(db, cutoff=clock.now - AGE) == Pruned(processed_events=0, deliveries=0)


async def test_the_serving_process_still_forgets_handled_events_after_a_week(
    db: Database, clock: SteppingClock
) -> None:
    await handled(db, "Ev0WEEK", clock.now - timedelta(days=7, seconds=1))
    await handled(db, "Ev0DAY", clock.now - timedelta(days=1))
    old = await delivery(db, at=clock.now - timedelta(days=30))
    await delivery(db, at=clock.now)
    assert await prune_processed_events(db, now=clock.now) == 1
    assert await event_ids(db) == {"Ev0DAY"}
    assert old in await delivery_ids(db)  # deliveries are the operator's call
