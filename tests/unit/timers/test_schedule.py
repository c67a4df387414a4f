"""When the ticker sleeps: until the next deadline, at most the poll, less when woken.

The loop runs for real against the database; only its timed wait is replaced. Time moves
when a test advances the stepping clock and lets the wait elapse: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from bot.app import Warroom, build
from bot.chat.fake import FakeChat
from bot.incidents.access import IncidentRef
from bot.policy.schema import default_policy
from bot.storage.models import Incident
from bot.timers.schedule import CONTENDED, TimerLoop, wait_for_wake
from bot.timers.ticker import Fired
from tests.conftest import SteppingClock
from tests.unit.conftest import Harness, sev2, unit_settings
from tests.unit.incidents.test_lifecycle import open_incident

POLL = timedelta(hours=2)  # longer than any deadline below unless a test says otherwise
MINUTES = 60.0
# A deadline for signals the loop gives on its own (it ticked and asked to wait), so a
# broken loop fails the test instead of hanging it. Never waited out when all is well.
SIGNAL_TIMEOUT = 10


class FakeWait:
    """Stands in for `wait_for_wake`: records each wait the loop asks for, and returns when
    the loop is woken or when the test lets the time pass (`elapse`)."""

    def __init__(self) -> None:
        self.asked: asyncio.Queue[float] = asyncio.Queue()
        self._elapsed = asyncio.Event()

    async def __call__(self, woken: asyncio.Event, seconds: float) -> None:
        self._elapsed.clear()
        self.asked.put_nowait(seconds)
        waits = [asyncio.ensure_future(woken.wait()), asyncio.ensure_future(self._elapsed.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    def elapse(self) -> None:
        self._elapsed.set()


@dataclass
class Running:
    loop: TimerLoop
    task: asyncio.Task[None]
    wait: FakeWait
    clock: SteppingClock
    backoffs: list[float]

    async def asks(self) -> float:
        """How long the loop asks to sleep next (once it has ticked); raises its error if
        the loop died."""
        asked = asyncio.ensure_future(self.wait.asked.get())
        done, _ = await asyncio.wait(
            {asked, self.task}, timeout=SIGNAL_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if asked not in done:
            asked.cancel()
            if self.task.done():
                self.task.result()
            raise AssertionError(f"the loop asked for no wait within {SIGNAL_TIMEOUT}s")
        return asked.result()

    async def after(self, seconds: float) -> float:
        """Let `seconds` pass, as the loop asked to sleep; returns its next ask."""
        self.clock.advance(seconds=seconds)
        self.wait.elapse()
        return await self.asks()


@contextlib.asynccontextmanager
async def running(harness: Harness, *, poll: timedelta = POLL) -> AsyncIterator[Running]:
    backoffs: list[float] = []

    async def sleep(seconds: float) -> None:
        backoffs.append(seconds)
        await asyncio.sleep(0)  # a yield to the event loop, not a wait

    wait = FakeWait()
    loop = TimerLoop(timers=harness.timers, clock=harness.clock, poll=poll, wait=wait, sleep=sleep)
    task = asyncio.create_task(loop.run_forever())
    try:
        yield Running(loop, task, wait, harness.clock, backoffs)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_it_sleeps_exactly_until_the_next_deadline(harness: Harness) -> None:
    await open_incident(harness)  # SEV2: L1 at once; reminder and L2 at 30 min; SLA at 1 h
    async with running(harness) as ticker:
        assert await ticker.asks() == 30 * MINUTES  # L1 is behind us: reminder and L2 next
        # Reminder and L2 fired; next: the second reminder and the SLA, both at 1 h.
        assert await ticker.after(30 * MINUTES) == 30 * MINUTES
    (stored,) = await harness.incidents()
    assert stored.escalation_level == 2
    assert stored.next_reminder_at == harness.clock.now + timedelta(minutes=30)


async def test_the_poll_interval_caps_the_sleep(harness: Harness) -> None:
    async with running(harness, poll=timedelta(seconds=10)) as ticker:
        assert await ticker.asks() == 10  # nothing open: nothing but the poll to wait for
        await open_incident(harness)
        ticker.loop.wake()
        assert await ticker.asks() == 10  # the next deadline is 30 min away
        assert await ticker.after(10) == 10


async def test_a_commit_that_brings_a_deadline_forward_wakes_it_early(harness: Harness) -> None:
    _, here = await open_incident(harness)
    async with running(harness) as ticker:
        assert await ticker.asks() == 30 * MINUTES
        harness.clock.advance(minutes=1)
        await harness.lifecycle.post_update(
            here, actor="U0DECLARER", text="Rolling back", next_in=timedelta(minutes=5)
        )
        ticker.loop.wake()  # what the use cases' on_commit does (wiring: test below)
        assert await ticker.asks() == 5 * MINUTES
        # The reminder fired at 6 min; next: L2 at 30 min, before the reminder at 36.
        assert await ticker.after(5 * MINUTES) == 24 * MINUTES
    (stored,) = await harness.incidents()
    assert stored.next_reminder_at == harness.clock.now + timedelta(minutes=30)


async def test_a_wake_during_a_tick_is_not_lost(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await open_incident(harness)
    real_tick = harness.timers.tick
    ticks = 0

    async def tick_while_a_use_case_commits() -> Fired:
        nonlocal ticks
        ticks += 1
        fired = await real_tick()
        if ticks == 1:
            ticker.loop.wake()
        return fired

    monkeypatch.setattr(harness.timers, "tick", tick_while_a_use_case_commits)
    async with running(harness) as ticker:
        assert await ticker.asks() == 30 * MINUTES
        assert await ticker.asks() == 30 * MINUTES  # looked again without waiting
        assert ticks == 2
        assert ticker.wait.asked.empty()


async def test_a_deadline_passed_during_the_tick_is_fired_at_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await open_incident(harness)
    real_tick = harness.timers.tick

    async def slow_tick() -> Fired:
        fired = await real_tick()
        harness.clock.advance(minutes=30)  # the reminder came due while this tick ran
        return fired

    monkeypatch.setattr(harness.timers, "tick", slow_tick)
    async with running(harness) as ticker:
        assert await ticker.asks() == 0


async def test_a_due_timer_another_process_holds_is_not_spun_on(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await open_incident(harness)
    await harness.timers.tick()
    harness.clock.advance(minutes=30)  # the reminder is due

    async def locked_elsewhere() -> Fired:  # SKIP LOCKED passed over its row
        return Fired(escalations=0, reminders=0)

    monkeypatch.setattr(harness.timers, "tick", locked_elsewhere)
    async with running(harness) as ticker:
        assert await ticker.asks() == CONTENDED.total_seconds()


async def test_a_failed_tick_is_logged_and_retried_after_a_backoff(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await open_incident(harness)
    real_tick = harness.timers.tick
    calls = 0

    async def flaky_tick() -> Fired:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OperationalError("SELECT …", {}, ConnectionError("the database restarts"))
        return await real_tick()

    monkeypatch.setattr(harness.timers, "tick", flaky_tick)
    async with running(harness) as ticker:
        assert await ticker.asks() == 30 * MINUTES  # the tick after the backoff did its work
        assert ticker.backoffs == [1.0]
    assert "timer tick failed" in caplog.text


async def test_the_next_deadline_is_the_earliest_of_the_open_incidents(harness: Harness) -> None:
    timers, clock = harness.timers, harness.clock
    assert await timers.next_deadline() is None
    _, first = await open_incident(harness, "First")
    await timers.tick()  # L1, due at once
    first_reminder = clock.now + timedelta(minutes=30)
    assert await timers.next_deadline() == first_reminder
    clock.advance(minutes=10)
    _, second = await open_incident(harness, "Second")
    await timers.tick()
    await harness.lifecycle.post_update(
        second, actor="U0DECLARER", text="Mitigated", next_in=timedelta(minutes=5)
    )
    assert await timers.next_deadline() == clock.now + timedelta(minutes=5)
    await harness.lifecycle.resolve(second, actor="U0DECLARER")
    assert await timers.next_deadline() == first_reminder
    await harness.lifecycle.resolve(first, actor="U0DECLARER")
    # Nothing of the open incidents is due; the postmortems' follow-through is, next.
    assert await timers.next_deadline() == clock.now + timedelta(hours=24)


@pytest.fixture
async def warroom(database_url: str, clock: SteppingClock) -> AsyncIterator[Warroom]:
    chat = FakeChat()
    chat.add_channel("C0ANNOUNCE", "incidents")
    built = build(unit_settings(database_url), chat=chat, clock=clock, policy=default_policy())
    yield built
    await built.http.aclose()
    built.db.dispose()


async def test_use_case_commits_wake_the_process_ticker(warroom: Warroom) -> None:
    ticker = warroom.timer_loop
    assert not ticker.woken
    declared = await warroom.service.declare(sev2())  # its first escalation is due at once
    assert ticker.woken
    await warroom.worker.drain()
    stored = await warroom.db.transaction(lambda session: session.get(Incident, declared.id))
    assert stored is not None and stored.channel_id is not None
    ticker._woken.clear()  # as the running loop does before each tick
    await warroom.lifecycle.post_update(
        IncidentRef(channel_id=stored.channel_id), actor="U0DECLARER", text="Rolled back"
    )
    assert ticker.woken


async def test_the_real_wait_returns_when_woken_or_when_no_time_is_left() -> None:
    woken = asyncio.Event()
    woken.set()
    await asyncio.wait_for(wait_for_wake(woken, 3600), SIGNAL_TIMEOUT)
    await asyncio.wait_for(wait_for_wake(asyncio.Event(), 0), SIGNAL_TIMEOUT)
