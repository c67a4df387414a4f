"""Next Update reminders, with a clock the test moves: no sleeps."""

from __future__ import annotations

import asyncio

from bot.service import Declaration
from bot.timers import Timers
from tests.unit.conftest import Harness
from tests.unit.test_lifecycle import card_text, open_incident


def reminders(harness: Harness, channel_id: str) -> list[str]:
    messages = harness.chat.channels[channel_id].messages.values()
    return [m.markdown for m in messages if m.markdown.startswith("⏰")]


async def test_an_overdue_update_is_reminded_each_cadence_until_an_update(harness: Harness) -> None:
    incident, here = await open_incident(harness)  # SEV2: every 30 min
    channel = incident.channel_id or ""
    harness.clock.advance(minutes=29)
    assert await harness.timers.tick() == 0
    harness.clock.advance(minutes=4)
    assert await harness.timers.tick() == 1
    assert await harness.timers.tick() == 0  # once per deadline, not once per tick
    await harness.worker.drain()
    (first,) = reminders(harness, channel)
    assert "the next update was due at 2026-11-22 14:38 UTC** (overdue by 3 min)" in first
    assert "<@U0DECLARER>, please post one" in first
    (stored,) = await harness.incidents()
    assert "⚠️ overdue by 3 min" in card_text(harness, stored)

    harness.clock.advance(minutes=30)
    assert await harness.timers.tick() == 1  # again, a cadence later
    await harness.lifecycle.assign_role(here, actor="U1", role="commander", user="U0CMD")
    harness.clock.advance(minutes=30)
    await harness.timers.tick()
    await harness.worker.drain()
    assert "<@U0CMD>, please post one" in reminders(harness, channel)[-1]

    await harness.lifecycle.post_update(here, actor="U0CMD", text="Fix deployed")
    harness.clock.advance(minutes=29)
    assert await harness.timers.tick() == 0
    harness.clock.advance(minutes=2)
    assert await harness.timers.tick() == 1


async def test_resolved_incidents_and_severities_without_cadence_stay_quiet(
    harness: Harness,
) -> None:
    _, here = await open_incident(harness)
    await harness.lifecycle.resolve(here, actor="U1")
    harness.clock.advance(hours=5)
    assert await harness.timers.tick() == 0
    await harness.service.declare(Declaration(title="Typo", severity="sev4", declared_by="U1"))
    harness.clock.advance(days=3)
    assert await harness.timers.tick() == 0


async def test_several_tickers_fire_each_reminder_once(harness: Harness) -> None:
    for i in range(20):
        await open_incident(harness, f"Outage {i}")
    harness.clock.advance(minutes=31)
    others = [
        Timers(db=harness.db, policy=harness.lifecycle._policy, clock=harness.clock, batch_size=3)
        for _ in range(3)
    ]
    fired = await asyncio.gather(*(t.tick() for t in others), harness.timers.tick())
    assert sum(fired) == 20
    await harness.worker.drain()
    incidents = await harness.incidents()
    assert all(len(reminders(harness, i.channel_id or "")) == 1 for i in incidents)
