"""The in-memory handoff: deliveries leased to the local worker in the transaction that
creates them, run without a poll; the database still recovers them after a crash."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot.delivery.outbox import DeliveryKind, claiming, enqueue
from bot.delivery.worker import DeliveryWorker
from bot.incidents.declare import IncidentService
from bot.storage.database import Database
from bot.storage.models import Delivery, DeliveryState
from bot.text.templates import Renderer
from tests.conftest import SteppingClock
from tests.unit.conftest import Harness, sev2
from tests.unit.delivery.conftest import (
    SIGNAL_TIMEOUT,
    FakeEffects,
    deliveries,
    new_incident,
    owe,
)

OPEN, POST, PAGE = DeliveryKind.OPEN_CHANNEL, DeliveryKind.POST_CARD, DeliveryKind.PAGE


def handing_over(harness: Harness, worker: DeliveryWorker) -> IncidentService:
    """The declaration use case wired as serving wires it: handing over to `worker`."""
    return IncidentService(
        db=harness.db,
        policy=harness.service.policy,
        clock=harness.clock,
        renderer=Renderer(),
        announce_channel="C0ANNOUNCE",
        handoff=worker,
    )


async def test_deliveries_owed_under_a_claim_are_leased_as_they_are_inserted(
    db: Database, clock: SteppingClock, effects: FakeEffects
) -> None:
    worker = DeliveryWorker(db=db, effects=effects.registry(), clock=clock)
    incident = await new_incident(db, clock, 1)

    def owe_claimed(session: Session) -> tuple[list[Delivery], list[Delivery]]:
        with claiming(session, worker, now=clock.now) as claim:
            owed = [(OPEN, {"name": "x"}), (PAGE, {"action": "trigger"})]
            returned = enqueue(session, incident_id=incident, owed=owed, now=clock.now)
            returned += enqueue(session, incident_id=incident, owed=[(POST, {})], now=clock.now)
        return returned, claim.claimed

    returned, claimed = await db.transaction(owe_claimed)
    assert [d.id for d in claimed] == [d.id for d in returned]
    stored = await deliveries(db)
    # What is handed over is what the database holds, leased to this worker.
    assert [d.model_dump() for d in claimed] == [d.model_dump() for d in stored]
    assert [(d.kind, d.lane) for d in stored] == [
        ("open_channel", "chat"),
        ("page", "pager"),
        ("post_card", "chat"),
    ]
    for delivery in stored:
        assert delivery.lease_owner == worker.owner and delivery.attempts == 1
        assert delivery.lease_until == clock.now + worker.lease
    assert await DeliveryWorker(db=db, effects=effects.registry(), clock=clock).drain() == 0


async def test_a_lane_with_work_pending_is_left_to_whoever_holds_that_work(
    db: Database, clock: SteppingClock, effects: FakeEffects
) -> None:
    worker = DeliveryWorker(db=db, effects=effects.registry(), clock=clock)
    busy, idle = await new_incident(db, clock, 1), await new_incident(db, clock, 2)
    await owe(db, clock, busy, OPEN)  # pending, from before: it must run first

    def owe_claimed(session: Session) -> list[Delivery]:
        with claiming(session, worker, now=clock.now) as claim:
            for incident in (busy, idle):
                enqueue(session, incident_id=incident, owed=[(POST, {})], now=clock.now)
        return claim.claimed

    claimed = await db.transaction(owe_claimed)
    assert [(d.incident_id, d.kind) for d in claimed] == [(idle, "post_card")]
    worker.take(claimed)
    assert await worker.drain() == 3
    assert effects.ran_of(busy) == ["open_channel", "post_card"]


async def test_a_declaration_reaches_chat_without_waiting_for_a_poll(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    transactions = 0
    first_call_after: list[int] = []
    pinned = asyncio.Event()
    chat, transaction = harness.chat, harness.db.transaction
    open_channel, pin = chat.open_channel, chat.pin

    async def counted(work: Callable[[Session], Any], **kwargs: Any) -> Any:
        nonlocal transactions
        transactions += 1
        return await transaction(work, **kwargs)

    async def spied_open(**kwargs: Any) -> Any:
        first_call_after.append(transactions)
        return await open_channel(**kwargs)

    async def spied_pin(**kwargs: Any) -> None:
        await pin(**kwargs)
        pinned.set()

    monkeypatch.setattr(harness.db, "transaction", counted)
    monkeypatch.setattr(chat, "open_channel", spied_open)
    monkeypatch.setattr(chat, "pin", spied_pin)
    serving = asyncio.create_task(harness.worker.run_forever())
    try:
        await handing_over(harness, harness.worker).declare(sev2())
        declared = transactions
        await asyncio.wait_for(pinned.wait(), SIGNAL_TIMEOUT)
        await harness.worker.drain()  # the invitation and the announcement, too
    finally:
        serving.cancel()
    # Only the effect's own read of the incident came between the commit and Slack.
    assert first_call_after == [declared + 1]
    assert chat.calls[:3] == ["open_channel", "post", "pin"]


async def test_a_crash_leaves_handed_over_deliveries_to_expire_and_be_claimed(
    harness: Harness,
) -> None:
    crashed = DeliveryWorker(db=harness.db, effects={}, clock=harness.clock)
    await handing_over(harness, crashed).declare(sev2())  # then the process died
    assert await harness.worker.drain() == 0  # the leases still hold
    harness.clock.advance(seconds=14)
    assert await harness.worker.drain() == 0
    harness.clock.advance(seconds=2)
    assert await harness.worker.drain() == 5
    channel = harness.chat.channel_named("inc-1-checkout-errors")
    assert channel is not None and len(channel.messages) == 1 and len(channel.pins) == 1


async def test_a_single_owner_frees_them_at_start(harness: Harness) -> None:
    crashed = DeliveryWorker(db=harness.db, effects={}, clock=harness.clock)
    await handing_over(harness, crashed).declare(sev2())
    restarted = harness.worker
    assert await restarted.drain() == 0
    await restarted.release_all_leases()
    assert await restarted.drain() == 5
    assert all(d.state is DeliveryState.DONE for d in await harness.deliveries())
