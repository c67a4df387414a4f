"""Declaring an incident and delivering its chat effects, against FakeChat and a real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.app import build
from bot.chat.fake import FakeChat
from bot.delivery.outbox import backoff
from bot.errors import ChannelNameTaken, DeliveryError, UnknownSeverity, UserError
from bot.incidents.declare import Declaration
from bot.incidents.status import Status
from bot.policy.schema import Contacts, EscalationLevel, default_policy
from bot.storage.models import Delivery, DeliveryState, TimelineKind
from tests.conftest import SteppingClock
from tests.unit.conftest import Harness, sev2, unit_settings


async def test_declare_stores_the_incident_and_its_declared_entry(harness: Harness) -> None:
    incident = await harness.service.declare(sev2())
    assert incident.number == 1 and incident.severity == "SEV2"
    assert incident.status is Status.INVESTIGATING
    assert incident.started_at == harness.clock.now
    assert incident.next_update_at == harness.clock.now + timedelta(minutes=30)
    declared, escalated = await harness.timeline()
    assert declared.kind is TimelineKind.DECLARED and declared.actor == "U0DECLARER"
    assert declared.at.tzinfo is not None and declared.at == harness.clock.now
    # L1 (`after: 0s`) is reached in the declaration itself; SEV2 climbs to L2 at 30 min.
    assert escalated.kind is TimelineKind.ESCALATED and escalated.data["level"] == "L1"
    assert incident.escalation_level == 1
    assert incident.next_escalation_at == harness.clock.now + timedelta(minutes=30)
    kinds = [d.kind for d in await harness.deliveries()]
    assert kinds == ["open_channel", "post_card", "pin_card", "invite", "announce"]
    assert harness.chat.calls == []  # nothing touches chat before the commit is done


async def test_deliveries_open_post_pin_then_invite_and_announce(harness: Harness) -> None:
    await harness.service.declare(sev2())
    assert await harness.worker.drain() == 5
    # The card reaches the channel first; the declarer and the announcement follow.
    # The invite carries the declarer's private note with the channel link.
    assert harness.chat.calls == [
        "open_channel",
        "post",
        "pin",
        "invite",
        "reply_privately",
        "post",
    ]
    channel = harness.chat.channel_named("inc-1-checkout-errors")
    assert channel is not None and channel.members == {"U0DECLARER"}
    (card_ref,) = channel.messages
    assert channel.pins == {card_ref}
    assert channel.messages[card_ref].markdown.startswith("# 🔴 INCIDENT ACTIVE · INC-1")
    (announcement,) = harness.chat.channels["C0ANNOUNCE"].messages.values()
    assert f"<channel:{channel.id}>" in announcement.markdown
    (incident,) = await harness.incidents()
    assert (incident.channel_id, incident.card_ref) == (channel.id, card_ref)
    assert all(d.state is DeliveryState.DONE for d in await harness.deliveries())
    assert await harness.worker.drain() == 0


async def test_private_incidents_are_not_announced(harness: Harness) -> None:
    await harness.service.declare(sev2("Secret", private=True))
    await harness.worker.drain()
    channel = harness.chat.channel_named("inc-1-secret")
    assert channel is not None and channel.private
    assert harness.chat.channels["C0ANNOUNCE"].messages == {}


async def test_a_taken_name_picks_another_and_never_fails(harness: Harness) -> None:
    harness.chat.add_channel("C0OLD1", "inc-1-checkout-errors")
    harness.chat.add_channel("C0OLD2", "inc-1-checkout-errors-2")
    await harness.service.declare(sev2())
    await harness.worker.drain()
    (incident,) = await harness.incidents()
    assert incident.channel_name == "inc-1-checkout-errors-3"


@pytest.mark.parametrize(
    ("declaration", "error"),
    [
        (Declaration(title="x", severity="sev9", declared_by="U1"), UnknownSeverity),
        (Declaration(title="   ", severity="sev2", declared_by="U1"), UserError),
        (Declaration(title="x" * 201, severity="sev2", declared_by="U1"), UserError),
    ],
)
async def test_bad_declarations_create_nothing(
    harness: Harness, declaration: Declaration, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await harness.service.declare(declaration)
    assert await harness.incidents() == [] and await harness.deliveries() == []


async def test_concurrent_declarations_get_unique_numbers(harness: Harness) -> None:
    incidents = await asyncio.gather(
        *(harness.service.declare(sev2(f"Outage {i}")) for i in range(25))
    )
    assert sorted(i.number for i in incidents) == list(range(1, 26))


async def test_failures_are_retried_with_backoff_until_they_land(harness: Harness) -> None:
    harness.chat.fail_next(
        "post", DeliveryError("fatal_error"), DeliveryError("ratelimited", retry_after=7)
    )
    await harness.service.declare(sev2())
    assert await harness.worker.drain() == 1  # channel opened; the card failed
    (incident,) = await harness.incidents()
    assert incident.card_ref is None
    post_card = next(d for d in await harness.deliveries() if d.kind == "post_card")
    assert post_card.attempts == 1 and post_card.last_error == "fatal_error"
    assert (
        harness.clock.now < post_card.next_attempt_at <= harness.clock.now + timedelta(seconds=1.2)
    )
    assert await harness.worker.drain() == 0  # not due yet: no busy loop
    harness.clock.advance(seconds=2)
    assert await harness.worker.drain() == 0  # rate limited this time
    post_card = next(d for d in await harness.deliveries() if d.kind == "post_card")
    assert post_card.next_attempt_at == harness.clock.now + timedelta(
        seconds=7
    )  # Retry-After honoured
    harness.clock.advance(seconds=7)
    assert await harness.worker.drain() == 4
    channel = harness.chat.channel_named("inc-1-checkout-errors")
    assert channel is not None and len(channel.messages) == 1 and len(channel.pins) == 1


async def test_a_retried_post_finds_the_card_an_earlier_attempt_delivered(harness: Harness) -> None:
    await harness.service.declare(sev2())
    # The first attempt reaches Slack but its answer is lost: the card exists, we don't know it.
    original_post = harness.chat.post

    async def post_then_lose_answer(**kwargs: object) -> str:
        await original_post(**kwargs)  # type: ignore[arg-type]
        raise DeliveryError("connection_error")

    harness.chat.post = post_then_lose_answer  # type: ignore[method-assign]
    await harness.worker.drain()
    harness.chat.post = original_post  # type: ignore[method-assign]
    harness.clock.advance(seconds=5)
    await harness.worker.drain()
    channel = harness.chat.channel_named("inc-1-checkout-errors")
    assert channel is not None and len(channel.messages) == 1 and len(channel.pins) == 1


async def test_an_incidents_queue_waits_for_its_head_but_others_proceed(harness: Harness) -> None:
    harness.chat.fail_next("open_channel", DeliveryError("fatal_error"))
    await harness.service.declare(sev2("First"))
    await harness.service.declare(sev2("Second"))
    await harness.worker.drain()
    assert harness.chat.channel_named("inc-1-first") is None
    assert harness.chat.channel_named("inc-2-second") is not None
    harness.clock.advance(seconds=2)
    await harness.worker.drain()
    assert harness.chat.channel_named("inc-1-first") is not None


async def test_unknown_delivery_kinds_are_kept_not_dropped(harness: Harness) -> None:
    harness.service._handoff = None  # found by the worker's poll, as after a restart
    await harness.service.declare(sev2())

    def rename_first(session: Session) -> None:
        first = session.scalars(select(Delivery).order_by(col(Delivery.id))).first()
        assert first is not None
        first.kind = "from_a_newer_version"

    await harness.db.transaction(rename_first)
    assert await harness.worker.drain() == 0
    (kept, *_) = await harness.deliveries()
    assert kept.state is DeliveryState.PENDING and kept.last_error is not None


def test_backoff_grows_and_is_capped() -> None:
    assert backoff(1, jitter=0) == timedelta(seconds=1)
    assert backoff(4, jitter=0) == timedelta(seconds=8)
    assert backoff(40, jitter=0) == timedelta(minutes=5)


async def test_name_taken_is_a_distinct_error() -> None:
    chat = FakeChat()
    await chat.open_channel(name="x", private=False)
    with pytest.raises(ChannelNameTaken):
        await chat.open_channel(name="x", private=False)


async def test_a_permanent_failure_does_not_hold_up_what_follows(harness: Harness) -> None:
    harness.chat.fail_next("invite", DeliveryError("user_not_found", retryable=False))
    await harness.service.declare(sev2())
    assert await harness.worker.drain() == 4
    invite = next(d for d in await harness.deliveries() if d.kind == "invite")
    assert invite.state is DeliveryState.FAILED and invite.last_error == "user_not_found"
    assert len(harness.chat.channels["C0ANNOUNCE"].messages) == 1  # announced all the same
    harness.clock.advance(minutes=10)
    assert await harness.worker.drain() == 0
    assert harness.chat.calls.count("invite") == 1  # refused for good: not tried again


@pytest.fixture
async def on_call_harness(database_url: str, clock: SteppingClock) -> AsyncIterator[Harness]:
    """A path whose first level calls someone at once and whose second comes at 30 min."""
    policy = default_policy()
    path = (
        EscalationLevel(level="L1", name="On-call", contacts=Contacts(users=("U0ONCALL",))),
        EscalationLevel(level="L2", name="Lead", after=timedelta(minutes=30)),
    )
    chat = FakeChat()
    chat.add_channel("C0ANNOUNCE", "incidents")
    warroom = build(
        unit_settings(database_url),
        chat=chat,
        clock=clock,
        policy=policy.model_copy(update={"escalation": path}),
    )
    yield Harness(
        db=warroom.db,
        chat=chat,
        service=warroom.service,
        lifecycle=warroom.lifecycle,
        worker=warroom.worker,
        clock=clock,
        timers=warroom.timers,
        warroom=warroom,
    )
    await warroom.http.aclose()
    warroom.db.dispose()


async def test_steps_due_at_declaration_are_on_the_first_card(on_call_harness: Harness) -> None:
    harness = on_call_harness
    incident = await harness.service.declare(sev2())
    assert incident.escalation_level == 1
    assert incident.next_escalation_at == incident.started_at + timedelta(minutes=30)
    assert await harness.worker.drain() == 7  # the set-up, then L1's invitation and notice
    channel = harness.chat.channel_named("inc-1-checkout-errors")
    assert channel is not None and {"U0DECLARER", "U0ONCALL"} <= channel.members
    card, notice = channel.messages.values()
    assert "Escalated to L1 On-call by warroom" in card.markdown
    assert "escalated to L1 On-call** by warroom: declared" in notice.markdown
    # The timer finds nothing left to do at once: no second escalation, no card edit.
    assert (await harness.timers.tick()).escalations == 0
    assert await harness.worker.drain() == 0
    assert harness.chat.calls.count("post") == 3 and "update" not in harness.chat.calls
