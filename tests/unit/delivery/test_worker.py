"""The delivery worker: lanes run side by side, in order within an incident's lane, in
bounded slots (the pager's its own), and failures end or back off as the receiver says."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from bot.delivery.outbox import DeliveryKind
from bot.delivery.worker import DeliveryWorker
from bot.errors import DeliveryError
from bot.storage.database import Database
from bot.storage.models import DeliveryState
from tests.conftest import SteppingClock
from tests.unit.delivery.conftest import FakeEffects, deliveries, new_incident, owe

OPEN, POST, PIN = DeliveryKind.OPEN_CHANNEL, DeliveryKind.POST_CARD, DeliveryKind.PIN_CARD
INVITE, ANNOUNCE, PAGE = DeliveryKind.INVITE, DeliveryKind.ANNOUNCE, DeliveryKind.PAGE


def worker_for(
    db: Database, effects: FakeEffects, clock: SteppingClock, **options: int
) -> DeliveryWorker:
    return DeliveryWorker(db=db, effects=effects.registry(), clock=clock, **options)  # type: ignore[arg-type]


async def test_a_hanging_call_holds_up_its_own_incident_only(
    db: Database, clock: SteppingClock, effects: FakeEffects
) -> None:
    stuck, other = await new_incident(db, clock, 1), await new_incident(db, clock, 2)
    await owe(db, clock, stuck, OPEN, POST)
    await owe(db, clock, other, OPEN, POST, PIN)
    release = effects.gate(stuck)
    worker = worker_for(db, effects, clock)
    draining = asyncio.create_task(worker.drain())
    await effects.until(lambda: len(effects.ran_of(other)) == 3, "the other incident delivered")
    assert effects.ran_of(stuck) == []  # still hanging in its first call
    release.set()
    assert await draining == 5
    assert effects.ran_of(stuck) == ["open_channel", "post_card"]


async def test_a_lane_runs_one_delivery_at_a_time_in_order_while_lanes_overlap(
    db: Database, clock: SteppingClock, effects: FakeEffects
) -> None:
    incidents = [await new_incident(db, clock, n) for n in range(1, 5)]
    for incident in incidents:
        await owe(db, clock, incident, OPEN, PAGE, POST, PIN, PAGE, INVITE, ANNOUNCE)
    worker = worker_for(db, effects, clock)
    assert await worker.drain() == 7 * len(incidents)
    assert effects.most_in_flight_per_lane == 1
    assert effects.most_in_flight > 1  # incidents (and their lanes) ran side by side
    for incident in incidents:
        ids = [d.id or 0 for d in effects.ran if d.incident_id == incident and d.lane == "chat"]
        assert ids == sorted(ids) and len(ids) == 5
    assert all(d.state is DeliveryState.DONE for d in await deliveries(db))


async def test_pager_calls_have_slots_of_their_own(
    db: Database, clock: SteppingClock, effects: FakeEffects
) -> None:
    paging, chatting = await new_incident(db, clock, 1), await new_incident(db, clock, 2)
    await owe(db, clock, paging, PAGE, OPEN)
    await owe(db, clock, chatting, OPEN, POST, PAGE)
    pager_down = effects.gate(paging, PAGE)
    worker = worker_for(db, effects, clock, concurrency=1, pager_concurrency=1)
    draining = asyncio.create_task(worker.drain())
    await effects.until(
        lambda: (
            effects.ran_of(chatting) == ["open_channel", "post_card"]
            and effects.ran_of(paging) == ["open_channel"]
        ),
        "chat delivered while the only pager slot hangs",
    )
    assert "page" not in effects.ran_of(chatting)  # waits for the pager slot, not a chat one
    pager_down.set()
    assert await draining == 5


async def test_a_permanent_failure_ends_that_delivery_and_the_lane_moves_on(
    db: Database, clock: SteppingClock, effects: FakeEffects, caplog: pytest.LogCaptureFixture
) -> None:
    incident = await new_incident(db, clock, 1)
    await owe(db, clock, incident, OPEN, INVITE, ANNOUNCE)
    effects.errors["invite"] = [DeliveryError("user_not_found", retryable=False, detail="U0GONE")]
    worker = worker_for(db, effects, clock)
    with caplog.at_level(logging.ERROR, logger="bot.delivery.worker"):
        assert await worker.drain() == 2
    opened, invited, announced = await deliveries(db)
    assert invited.state is DeliveryState.FAILED and invited.done_at == clock.now
    assert invited.last_error == "user_not_found: U0GONE" and invited.lease_owner is None
    assert opened.state is announced.state is DeliveryState.DONE
    assert "failed for good" in caplog.text and "user_not_found" in caplog.text
    clock.advance(minutes=10)
    assert await worker.drain() == 0
    assert effects.started.count(invited.id or 0) == 1  # never tried again


async def test_a_retryable_failure_gives_the_lane_back_until_retry_after(
    db: Database, clock: SteppingClock, effects: FakeEffects
) -> None:
    incident = await new_incident(db, clock, 1)
    await owe(db, clock, incident, OPEN, POST, PIN)
    effects.errors["post_card"] = [DeliveryError("ratelimited", retry_after=7)]
    worker = worker_for(db, effects, clock)
    assert await worker.drain() == 1
    _, post, pin = await deliveries(db)
    assert post.state is DeliveryState.PENDING and post.last_error == "ratelimited (retry after 7s)"
    assert post.next_attempt_at == clock.now + timedelta(seconds=7)
    assert post.lease_owner is None and pin.lease_owner is None  # any process may resume it
    clock.advance(seconds=6)
    assert await worker.drain() == 0
    clock.advance(seconds=1)
    assert await worker.drain() == 2
    assert effects.ran_of(incident) == ["open_channel", "post_card", "pin_card"]


async def test_a_lane_running_here_is_not_run_twice_when_claimed_again(
    db: Database, clock: SteppingClock, effects: FakeEffects
) -> None:
    incident = await new_incident(db, clock, 1)
    await owe(db, clock, incident, OPEN, POST)
    release = effects.gate(incident, OPEN)
    worker = worker_for(db, effects, clock)
    assert await worker.poll() == 1
    await effects.until(lambda: len(effects.started) == 1, "the first call started")
    # The call outlives its lease (a heartbeat that could not reach the database):
    # the next poll takes the row again, but the lane is already running it here.
    clock.advance(seconds=16)
    assert await worker.poll() == 1
    release.set()
    assert await worker.drain() == 2
    assert effects.ran_of(incident) == ["open_channel", "post_card"]
    assert len(effects.started) == 2


async def test_a_poll_claims_no_more_than_it_has_slots_for(
    db: Database, clock: SteppingClock, effects: FakeEffects
) -> None:
    incidents = [await new_incident(db, clock, n) for n in range(1, 6)]
    gates = [effects.gate(incident) for incident in incidents]
    for incident in incidents:
        await owe(db, clock, incident, OPEN)
    worker = worker_for(db, effects, clock, concurrency=2)
    assert await worker.poll() == 2
    leased = [d for d in await deliveries(db) if d.lease_owner is not None]
    assert len(leased) == 2  # the other three stay free for another process
    assert await worker.poll() == 0  # no free slot
    for gate in gates:
        gate.set()
    assert await worker.drain() == 5


async def test_effects_give_way_to_the_requests_being_answered(
    db: Database, clock: SteppingClock, effects: FakeEffects
) -> None:
    incidents = [await new_incident(db, clock, n) for n in range(1, 5)]
    for incident in incidents:
        await owe(db, clock, incident, OPEN, POST)
    worker = worker_for(db, effects, clock)
    with worker.foreground.serving():  # a request is being answered meanwhile
        assert await worker.drain() == 8
    assert effects.most_in_flight == 1  # one effect at a time: slower, never stopped
    for incident in incidents:
        await owe(db, clock, incident, PIN)
    assert await worker.drain() == 4
    assert effects.most_in_flight > 1  # answered: side by side again
