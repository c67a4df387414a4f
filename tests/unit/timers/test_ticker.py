"""Next Update reminders, with a clock the test moves: no sleeps."""

from __future__ import annotations

import asyncio

from bot.incidents.declare import Declaration
from bot.policy.schema import Contacts
from bot.text.templates import Renderer
from bot.timers.ticker import Timers
from tests.unit.conftest import Harness
from tests.unit.incidents.test_lifecycle import card_text, open_incident


def reminders(harness: Harness, channel_id: str) -> list[str]:
    messages = harness.chat.channels[channel_id].messages.values()
    return [m.markdown for m in messages if m.markdown.startswith("⏰")]


async def test_an_overdue_update_is_reminded_each_cadence_until_an_update(harness: Harness) -> None:
    incident, here = await open_incident(harness)  # SEV2: every 30 min
    channel = incident.channel_id or ""
    harness.clock.advance(minutes=29)
    assert (await harness.timers.tick()).reminders == 0
    harness.clock.advance(minutes=4)
    assert (await harness.timers.tick()).reminders == 1
    assert (await harness.timers.tick()).reminders == 0  # once per deadline, not once per tick
    await harness.worker.drain()
    (first,) = reminders(harness, channel)
    assert "the next update was due at 2026-11-22 14:38 UTC** (overdue by 3 min)" in first
    assert "<user:U0DECLARER>, please post one" in first
    (stored,) = await harness.incidents()
    assert "⚠️ overdue by 3 min" in card_text(harness, stored)

    harness.clock.advance(minutes=30)
    assert (await harness.timers.tick()).reminders == 1  # again, a cadence later
    await harness.lifecycle.assign_role(here, actor="U1", role="commander", user="U0CMD")
    harness.clock.advance(minutes=30)
    await harness.timers.tick()
    await harness.worker.drain()
    assert "<user:U0CMD>, please post one" in reminders(harness, channel)[-1]

    await harness.lifecycle.post_update(here, actor="U0CMD", text="Fix deployed")
    harness.clock.advance(minutes=29)
    assert (await harness.timers.tick()).reminders == 0
    harness.clock.advance(minutes=2)
    assert (await harness.timers.tick()).reminders == 1


async def test_resolved_incidents_and_severities_without_cadence_stay_quiet(
    harness: Harness,
) -> None:
    _, here = await open_incident(harness)
    await harness.lifecycle.resolve(here, actor="U1")
    harness.clock.advance(hours=5)
    assert (await harness.timers.tick()).reminders == 0
    await harness.service.declare(Declaration(title="Typo", severity="sev4", declared_by="U1"))
    harness.clock.advance(days=3)
    assert (await harness.timers.tick()).reminders == 0


async def test_several_tickers_fire_each_reminder_once(harness: Harness) -> None:
    for i in range(20):
        await open_incident(harness, f"Outage {i}")
    harness.clock.advance(minutes=31)
    others = [
        Timers(
            db=harness.db,
            policy=harness.lifecycle._policy,
            clock=harness.clock,
            renderer=Renderer(),
            batch_size=3,
        )
        for _ in range(3)
    ]
    fired = await asyncio.gather(*(t.tick() for t in others), harness.timers.tick())
    assert sum(f.reminders for f in fired) == 20
    assert sum(f.escalations for f in fired) == 20  # L1 reached once each
    await harness.worker.drain()
    incidents = await harness.incidents()
    assert all(len(reminders(harness, i.channel_id or "")) == 1 for i in incidents)


def call_people_at_each_level(harness: Harness) -> None:
    """The default path calls nobody (and says nothing): give each level a person."""
    policy = harness.timers._policy
    path = tuple(
        level.model_copy(update={"contacts": Contacts(users=(f"U0{level.level}",))})
        for level in policy.escalation
    )
    calling = policy.model_copy(update={"escalation": path})
    # The declaration reaches L1 itself, the ticker the later levels: both read the path.
    harness.timers._policy = harness.service._policy = calling


def escalations(harness: Harness, channel_id: str) -> list[str]:
    messages = harness.chat.channels[channel_id].messages.values()
    return [m.markdown for m in messages if m.markdown.startswith("🚨")]


async def test_the_path_climbs_on_its_own_by_severity_and_time(harness: Harness) -> None:
    call_people_at_each_level(harness)
    incident, here = await open_incident(harness)  # SEV2: L1 at once, L2 after 30 min
    # L1 (after: 0s) was reached by the declaration itself, not by a tick.
    assert (await harness.timers.tick()).escalations == 0
    harness.clock.advance(minutes=29)
    assert (await harness.timers.tick()).escalations == 0
    harness.clock.advance(minutes=1)
    assert (await harness.timers.tick()).escalations == 1
    await harness.lifecycle.acknowledge(here, actor="U0ONCALL")  # no SLA step either
    harness.clock.advance(hours=5)
    assert (await harness.timers.tick()).escalations == 0  # L3 is for SEV1 only
    await harness.worker.drain()
    steps = escalations(harness, incident.channel_id or "")
    assert "escalated to L1 On-call engineer** by warroom: declared" in steps[0]
    assert "escalated to L2 Tech lead** by warroom: unresolved after 30 min" in steps[1]
    assert len(steps) == 2


async def test_a_missed_acknowledgement_escalates_once(harness: Harness) -> None:
    call_people_at_each_level(harness)
    incident = await harness.service.declare(
        Declaration(title="DB down", severity="sev1", declared_by="U1")
    )
    await harness.worker.drain()  # L1 was reached by the declaration
    harness.clock.advance(minutes=15)
    assert (await harness.timers.tick()).escalations == 1
    (stored,) = await harness.incidents()
    assert stored.sla_breached and stored.escalation_level == 2
    harness.clock.advance(minutes=1)
    assert (await harness.timers.tick()).escalations == 0
    await harness.worker.drain()
    steps = escalations(harness, stored.channel_id or "")
    assert (
        "L2 Tech lead** by warroom: not acknowledged within 15 min (SEV1 response time)" in steps[1]
    )
    assert incident.number == stored.number


async def test_acknowledging_stops_the_sla_and_resolving_stops_everything(harness: Harness) -> None:
    _, here = await open_incident(harness)  # SEV2: respond within 1 h
    await harness.timers.tick()
    await harness.lifecycle.acknowledge(here, actor="U0ONCALL")
    harness.clock.advance(minutes=30)
    assert (await harness.timers.tick()).escalations == 1  # L2 by time, not by SLA
    await harness.lifecycle.resolve(here, actor="U0ONCALL")
    harness.clock.advance(hours=3)
    assert (await harness.timers.tick()).escalations == 0
    (stored,) = await harness.incidents()
    assert not stored.sla_breached and stored.next_escalation_at is None


async def test_raising_the_severity_reevaluates_the_path(harness: Harness) -> None:
    _, here = await open_incident(harness)
    await harness.timers.tick()
    harness.clock.advance(minutes=40)
    await harness.timers.tick()  # L2 for SEV2
    await harness.lifecycle.acknowledge(here, actor="U1")
    await harness.lifecycle.set_severity(here, actor="U1", severity="sev1")
    harness.clock.advance(minutes=20)  # an hour since declaration: L3 for SEV1
    assert (await harness.timers.tick()).escalations == 1
    (stored,) = await harness.incidents()
    assert stored.escalation_level == 3 and stored.next_escalation_at is None


async def test_manual_escalation_moves_up_and_the_path_continues_from_there(
    harness: Harness,
) -> None:
    _, here = await open_incident(harness)
    await harness.timers.tick()  # L1
    await harness.lifecycle.escalate(here, actor="U1", reason="need the lead now")  # L2 at once
    harness.clock.advance(minutes=31)
    assert (await harness.timers.tick()).escalations == 0  # L2 already reached
    (stored,) = await harness.incidents()
    assert stored.escalation_level == 2


async def test_sev4_acknowledgement_is_due_by_the_next_business_day(harness: Harness) -> None:
    call_people_at_each_level(harness)
    # Sunday 14:08 UTC: with the default mon-fri 09-18 UTC, due Monday 18:00.
    harness.clock.now = harness.clock.now.replace(day=22)
    await harness.service.declare(Declaration(title="Typo", severity="sev4", declared_by="U1"))
    await harness.timers.tick()  # L1 at declaration
    (stored,) = await harness.incidents()
    assert stored.next_escalation_at == harness.clock.now.replace(day=23, hour=18, minute=0)
    harness.clock.now = harness.clock.now.replace(day=23, hour=18, minute=1)
    assert (await harness.timers.tick()).escalations == 1
