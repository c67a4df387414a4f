"""Declaring an incident and delivering its chat effects, against FakeChat and a real database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.chat.fake import FakeChat
from bot.delivery.outbox import DeliveryWorker, backoff
from bot.errors import ChannelNameTaken, DeliveryError, UnknownSeverity, UserError
from bot.incidents.declare import Declaration
from bot.incidents.status import Status
from bot.storage.models import Delivery, DeliveryState, TimelineKind
from tests.unit.conftest import Harness, sev2


async def test_declare_stores_the_incident_and_its_declared_entry(harness: Harness) -> None:
    incident = await harness.service.declare(sev2())
    assert incident.number == 1 and incident.severity == "SEV2"
    assert incident.status is Status.INVESTIGATING
    assert incident.started_at == harness.clock.now
    assert incident.next_update_at == harness.clock.now + timedelta(minutes=30)
    (entry,) = await harness.timeline()
    assert entry.kind is TimelineKind.DECLARED and entry.actor == "U0DECLARER"
    assert entry.at.tzinfo is not None and entry.at == harness.clock.now
    kinds = [d.kind for d in await harness.deliveries()]
    assert kinds == ["open_channel", "invite", "post_card", "pin_card", "announce"]
    assert harness.chat.calls == []  # nothing touches chat before the commit is done


async def test_deliveries_open_invite_post_pin_and_announce(harness: Harness) -> None:
    await harness.service.declare(sev2())
    assert await harness.worker.drain() == 5
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
    assert await harness.worker.drain() == 2  # channel opened, declarer invited; the card failed
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
    assert await harness.worker.drain() == 3
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


async def test_a_crashed_workers_lease_expires_and_another_delivers(harness: Harness) -> None:
    await harness.service.declare(sev2())
    crashed = await harness.db.transaction(harness.worker._claim_heads)  # then it died
    assert [d.kind for d in crashed] == ["open_channel"]
    other = DeliveryWorker(db=harness.db, effects=harness.worker._effects, clock=harness.clock)
    assert await other.drain() == 0  # the lease still holds
    harness.clock.advance(seconds=16)
    assert await other.drain() == 5
    channel = harness.chat.channel_named("inc-1-checkout-errors")
    assert channel is not None and len(channel.messages) == 1


async def test_unknown_delivery_kinds_are_kept_not_dropped(harness: Harness) -> None:
    await harness.service.declare(sev2())

    def rename_first(session: Session) -> None:
        first = session.scalars(select(Delivery).order_by(Delivery.id)).first()
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


async def test_a_single_owner_frees_stale_leases_at_start(harness: Harness) -> None:
    await harness.service.declare(sev2())
    await harness.db.transaction(harness.worker._claim_heads)  # then that process crashed
    restarted = DeliveryWorker(db=harness.db, effects=harness.worker._effects, clock=harness.clock)
    assert await restarted.drain() == 0
    await restarted.release_all_leases()
    assert await restarted.drain() == 5
