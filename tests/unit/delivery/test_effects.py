"""Chat effects whose calls lose their answer or land late: reconciled, never doubled.

FakeChat models the two ways a real platform leaves an outcome unknown: the call is carried
out and its answer lost (`lose_answer`), or the caller hears an error at once and the call
is carried out later (`land_late`, then `land()`), as Slack does with a slow call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.app import build
from bot.chat.fake import FakeChannel, FakeChat
from bot.chat.port import OutcomeUnknown
from bot.delivery.outbox import DeliveryKind, failed_count, pending_count
from bot.delivery.rechecks import SETTLE_MAX, SETTLE_MIN, settle_time
from bot.errors import DeliveryError
from bot.incidents.access import IncidentRef
from bot.incidents.declare import Declaration
from bot.incidents.status import Status
from bot.policy.schema import default_policy
from bot.storage.models import Delivery, DeliveryState, TimelineKind
from tests.conftest import SteppingClock
from tests.unit.conftest import Harness, sev2, unit_settings

INC_1 = IncidentRef(number=1)
DECLARER = "U0DECLARER"


@pytest.fixture
async def harness(database_url: str, clock: SteppingClock) -> AsyncIterator[Harness]:
    """The unit harness, with a FakeChat that stamps the channels it opens."""
    chat = FakeChat(clock=clock)
    chat.add_channel("C0ANNOUNCE", "incidents")
    chat.add_channel("C0GENERAL", "general")
    warroom = build(unit_settings(database_url), chat=chat, clock=clock, policy=default_policy())
    yield Harness(
        warroom.db,
        chat,
        warroom.service,
        warroom.lifecycle,
        warroom.worker,
        clock,
        warroom.timers,
        warroom,
    )
    await warroom.http.aclose()
    warroom.db.dispose()


async def settle(harness: Harness, *, seconds: float = 0) -> None:
    """Let due deliveries run, then let `seconds` pass (retries and rechecks fall due)."""
    await harness.worker.drain()
    if seconds:
        harness.clock.advance(seconds=seconds)
        await harness.worker.drain()


def cards(channel: FakeChannel) -> list[str]:
    return [ref for ref, m in channel.messages.items() if (m.marker or "").startswith("card:")]


async def settle_rechecks(harness: Harness) -> None:
    """Let time pass, a second at a time, until no recheck is left to run."""
    for _ in range(60):
        if all(d.state is not DeliveryState.PENDING for d in await rechecks(harness)):
            return
        await settle(harness, seconds=1)
    raise AssertionError("rechecks still pending after a minute")


async def rechecks(harness: Harness) -> list[Delivery]:
    return [d for d in await harness.deliveries() if d.kind == DeliveryKind.RECHECK.value]


# channels ------------------------------------------------------------------------------


async def test_a_channel_whose_answer_was_lost_is_adopted_not_opened_again(
    harness: Harness,
) -> None:
    harness.chat.lose_answer("open_channel")
    await harness.service.declare(sev2())
    await settle(harness, seconds=2)
    (channel,) = harness.chat.opened()
    assert channel.name == "inc-1-checkout-errors"
    (incident,) = await harness.incidents()
    assert incident.channel_id == channel.id
    assert len(cards(channel)) == 1 and len(channel.pins) == 1
    # The retry asked for the same name, was told it is taken, and found it is its own.
    assert harness.chat.calls[:3] == ["open_channel", "open_channel", "own_channels"]


async def test_a_channel_created_after_the_retry_is_refused_by_its_taken_name(
    harness: Harness,
) -> None:
    harness.chat.land_late("open_channel")
    await harness.service.declare(sev2())
    await settle(harness, seconds=2)  # the retry opens the planned name itself
    assert harness.chat.land() == 1  # the first attempt arrives now: that name is taken
    await settle(harness, seconds=60)
    (channel,) = harness.chat.opened()
    assert channel.name == "inc-1-checkout-errors"
    (incident,) = await harness.incidents()
    assert incident.channel_id == channel.id


async def test_a_late_channel_of_an_alternative_name_is_adopted_too(harness: Harness) -> None:
    harness.chat.add_channel("C0TAKEN", "inc-1-checkout-errors")  # someone else's
    harness.chat.land_late("open_channel", times=1)
    await harness.service.declare(sev2())
    await harness.worker.drain()  # planned name taken, its alternative asked: no answer
    harness.chat.land()  # -2 was created after all
    await settle(harness, seconds=2)
    (channel,) = harness.chat.opened()
    assert channel.name == "inc-1-checkout-errors-2"
    (incident,) = await harness.incidents()
    assert incident.channel_id == channel.id


async def test_a_bot_channel_from_before_the_incident_is_not_adopted(harness: Harness) -> None:
    # A database reset: INC-1 comes again, and the bot's old channel still has the name.
    old = await harness.chat.open_channel(name="inc-1-checkout-errors", private=False)
    harness.chat.channels[old.id].created_at = harness.clock.now - timedelta(days=30)
    await harness.service.declare(sev2())
    await harness.worker.drain()
    (incident,) = await harness.incidents()
    assert incident.channel_name == "inc-1-checkout-errors-2"


async def test_a_bot_channel_of_another_incident_is_not_adopted(harness: Harness) -> None:
    await harness.service.declare(sev2())
    await harness.worker.drain()
    (first,) = await harness.incidents()
    # The first incident's channel renamed (by hand) to the name the second one plans.
    harness.chat.channels[first.channel_id or ""].name = "inc-2-checkout-errors"
    await harness.service.declare(sev2())
    await harness.worker.drain()
    second = (await harness.incidents())[1]
    assert second.channel_name == "inc-2-checkout-errors-2"
    assert second.channel_id != first.channel_id


async def test_a_crash_after_the_channel_opened_adopts_it_on_restart(harness: Harness) -> None:
    # The first process opened the channel and died before recording it.
    await harness.chat.open_channel(name="inc-1-checkout-errors", private=False)
    harness.service._handoff = None  # found by the worker's poll, as after a restart
    await harness.service.declare(sev2())
    await harness.worker.drain()
    (channel,) = harness.chat.opened()
    (incident,) = await harness.incidents()
    assert incident.channel_id == channel.id and len(cards(channel)) == 1


# posts ---------------------------------------------------------------------------------


async def test_a_card_that_lands_after_its_retry_is_deleted_by_a_later_sweep(
    harness: Harness,
) -> None:
    harness.chat.land_late("post")
    await harness.service.declare(sev2())
    await settle(harness, seconds=2)  # the retry finds no card yet, and posts one
    (incident,) = await harness.incidents()
    channel = harness.chat.channels[incident.channel_id or ""]
    assert cards(channel) == [incident.card_ref]
    harness.chat.land()  # the first attempt's card arrives after all, buttons and all
    assert len(cards(channel)) == 2
    (sweep,) = await rechecks(harness)
    assert sweep.state is DeliveryState.PENDING and sweep.lane == "recheck"
    post = next(d for d in await harness.deliveries() if d.kind == "post_card")
    assert sweep.payload == {
        "sweep": "card:INC-1",
        "channel": channel.id,
        "keep": "card",
        "after": post.id,
    }
    await settle(harness, seconds=SETTLE_MIN.total_seconds())
    assert cards(channel) == [incident.card_ref]  # the recorded, pinned one stays
    assert channel.pins == {incident.card_ref}
    assert (await rechecks(harness))[0].state is DeliveryState.DONE


async def test_a_card_whose_answer_was_lost_is_found_not_posted_twice(harness: Harness) -> None:
    harness.chat.lose_answer("post")
    await harness.service.declare(sev2())
    await harness.worker.drain()  # looked for at once, within the same attempt
    (incident,) = await harness.incidents()
    channel = harness.chat.channels[incident.channel_id or ""]
    assert cards(channel) == [incident.card_ref] and channel.pins == {incident.card_ref}
    assert harness.chat.calls[1:3] == ["post", "find_marked"]
    post = next(d for d in await harness.deliveries() if d.kind == "post_card")
    assert post.state is DeliveryState.DONE and post.attempts == 1
    await settle(harness, seconds=SETTLE_MIN.total_seconds())  # the sweep: nothing to delete
    assert harness.chat.deleted == []


async def test_two_unclear_answers_in_a_row_wait_for_the_next_attempt(harness: Harness) -> None:
    unclear = OutcomeUnknown("http_503", detail="post")
    harness.chat.fail_next("post", unclear, unclear)  # refused both times, as it turns out
    await harness.service.declare(sev2())
    await harness.worker.drain()
    (incident,) = await harness.incidents()
    assert incident.card_ref is None
    await settle(harness, seconds=2)
    (incident,) = await harness.incidents()
    assert cards(harness.chat.channels[incident.channel_id or ""]) == [incident.card_ref]
    assert harness.chat.calls.count("post") == 4  # the card twice, again, then the announcement


async def test_a_timeout_is_not_tried_again_at_once(harness: Harness) -> None:
    harness.chat.land_late("post")  # a slow call: trying at once would wait as long again
    await harness.service.declare(sev2())
    await harness.worker.drain()
    assert harness.chat.calls.count("post") == 1


async def test_an_announcement_that_lands_late_stays_one(harness: Harness) -> None:
    original, posts = harness.chat.post, 0

    async def second_post_lands_late(**kwargs: object) -> str:
        nonlocal posts
        posts += 1
        if posts == 2:  # the card, then the announcement
            harness.chat.land_late("post")
        return await original(**kwargs)  # type: ignore[arg-type]

    harness.chat.post = second_post_lands_late  # type: ignore[method-assign]
    await harness.service.declare(sev2())
    await settle(harness, seconds=2)
    harness.chat.land()
    announced = harness.chat.channels["C0ANNOUNCE"].messages
    assert len(announced) == 2
    await settle(harness, seconds=SETTLE_MIN.total_seconds())
    (incident,) = await harness.incidents()
    assert list(announced) == [incident.announcement_ref]
    assert incident.announced_in == "C0ANNOUNCE"


async def test_late_all_clears_and_updates_are_swept_to_one(harness: Harness) -> None:
    await harness.service.declare(sev2())
    await harness.worker.drain()
    harness.chat.land_late("post")
    await harness.lifecycle.post_update(INC_1, actor=DECLARER, text="Rolled back")
    await settle(harness, seconds=2)
    harness.chat.land_late("post")
    await harness.lifecycle.resolve(INC_1, actor=DECLARER, resolution="Rolled back")
    await settle(harness, seconds=2)
    harness.chat.land()
    (incident,) = await harness.incidents()
    channel = harness.chat.channels[incident.channel_id or ""]

    def count(prefix: str) -> int:
        return sum((m.marker or "").startswith(prefix) for m in channel.messages.values())

    assert count("all-clear:") == 2 and count("delivery:") == 2
    await settle(harness, seconds=SETTLE_MIN.total_seconds())
    assert count("all-clear:") == 1 and count("delivery:") == 1
    assert len(harness.chat.deleted) == 2


async def test_unknown_outcomes_in_a_row_owe_one_sweep_after_the_last(harness: Harness) -> None:
    harness.chat.land_late("post", times=3)
    await harness.service.declare(sev2())
    for _ in range(3):
        await settle(harness, seconds=4)
    (sweep,) = await rechecks(harness)
    assert sweep.next_attempt_at > harness.clock.now  # moved on by each unknown outcome
    harness.chat.land()
    await settle_rechecks(harness)
    (incident,) = await harness.incidents()
    assert cards(harness.chat.channels[incident.channel_id or ""]) == [incident.card_ref]


async def test_a_sweep_waiting_holds_up_nothing_the_incident_owes_next(harness: Harness) -> None:
    harness.chat.land_late("post")
    await harness.service.declare(sev2())
    await settle(harness, seconds=2)
    assert (await rechecks(harness))[0].state is DeliveryState.PENDING
    await harness.lifecycle.acknowledge(INC_1, actor=DECLARER)
    await harness.worker.drain()  # the card edit goes at once, the sweep is not due yet
    (incident,) = await harness.incidents()
    card = harness.chat.channels[incident.channel_id or ""].messages[incident.card_ref or ""]
    assert "Acknowledged" in card.markdown
    assert (await rechecks(harness))[0].state is DeliveryState.PENDING


async def test_a_late_older_edit_is_made_again_from_the_stored_state(harness: Harness) -> None:
    await harness.service.declare(sev2())
    await harness.worker.drain()
    harness.chat.land_late("update")
    await harness.lifecycle.acknowledge(INC_1, actor=DECLARER)
    await harness.worker.drain()  # the ack's edit: no answer
    await harness.lifecycle.set_status(INC_1, actor=DECLARER, status=Status.MITIGATING)
    await settle(harness, seconds=2)  # the edits that follow land
    harness.chat.land()  # the ack's edit arrives last, showing Investigating
    (incident,) = await harness.incidents()
    card = harness.chat.channels[incident.channel_id or ""].messages
    assert "**Status**: Investigating" in card[incident.card_ref or ""].markdown
    await settle(harness, seconds=SETTLE_MIN.total_seconds())
    assert "**Status**: Mitigating" in card[incident.card_ref or ""].markdown


def test_a_late_copy_is_looked_for_after_twice_the_silence_within_bounds() -> None:
    assert settle_time(timedelta(0)) == SETTLE_MIN
    assert settle_time(timedelta(seconds=15)) == timedelta(seconds=30)
    assert settle_time(timedelta(hours=1)) == SETTLE_MAX


# the announcement ----------------------------------------------------------------------


async def test_the_announcement_is_edited_in_place_as_the_incident_moves(
    harness: Harness,
) -> None:
    await harness.service.declare(sev2())
    await harness.worker.drain()
    announced = harness.chat.channels["C0ANNOUNCE"].messages
    (ref,) = announced
    assert "declared (SEV2): Checkout errors · Investigating" in announced[ref].markdown
    await harness.lifecycle.set_severity(INC_1, actor=DECLARER, severity="sev1")
    await harness.worker.drain()
    assert "declared (SEV1): Checkout errors · Investigating" in announced[ref].markdown
    await harness.lifecycle.add_note(INC_1, actor=DECLARER, text="no change to announce")
    await harness.lifecycle.set_status(INC_1, actor=DECLARER, status=Status.MITIGATING)
    await harness.worker.drain()
    assert "· Mitigating ·" in announced[ref].markdown
    harness.clock.advance(minutes=42)
    await harness.lifecycle.resolve(INC_1, actor=DECLARER, resolution="Failover")
    await harness.worker.drain()
    assert list(announced) == [ref]  # never a second message
    assert announced[ref].markdown.startswith("✅ **INC-1** resolved after 42 min (SEV1)")
    kinds = [d.kind for d in await harness.deliveries()]
    assert kinds.count(DeliveryKind.UPDATE_ANNOUNCEMENT.value) == 3  # not for the note


async def test_a_private_incident_owes_no_announcement_edits(harness: Harness) -> None:
    await harness.service.declare(sev2("Secret", private=True))
    await harness.worker.drain()
    await harness.lifecycle.resolve(INC_1, actor=DECLARER)
    await harness.worker.drain()
    kinds = [d.kind for d in await harness.deliveries()]
    assert DeliveryKind.UPDATE_ANNOUNCEMENT.value not in kinds
    assert harness.chat.channels["C0ANNOUNCE"].messages == {}


# the declarer --------------------------------------------------------------------------


async def test_the_declarer_is_pointed_to_the_channel_once_they_are_in_it(
    harness: Harness,
) -> None:
    await harness.service.declare(sev2())
    await harness.worker.drain()
    (incident,) = await harness.incidents()
    ((where, who, text),) = harness.chat.private_replies
    assert (where, who) == ("C0GENERAL", DECLARER)  # where they declared
    assert f"<channel:{incident.channel_id}>" in text
    calls = harness.chat.calls
    assert calls.index("reply_privately") == calls.index("invite") + 1
    # A later invitation of the declarer (a role) tells them nothing new.
    await harness.lifecycle.assign_role(INC_1, actor=DECLARER, role="commander", user=DECLARER)
    await harness.worker.drain()
    assert len(harness.chat.private_replies) == 1


async def test_declared_without_an_origin_no_pointer_is_sent(harness: Harness) -> None:
    await harness.service.declare(
        Declaration(title="Checkout errors", severity="sev2", declared_by=DECLARER)
    )
    await harness.worker.drain()
    assert harness.chat.private_replies == []


async def test_a_pointer_refused_for_good_does_not_fail_the_invitation(harness: Harness) -> None:
    harness.chat.fail_next("reply_privately", DeliveryError("restricted_action", retryable=False))
    await harness.service.declare(sev2())
    await harness.worker.drain()
    assert all(d.state is DeliveryState.DONE for d in await harness.deliveries())
    channel = harness.chat.opened()[0]
    assert DECLARER in channel.members


# what never landed ---------------------------------------------------------------------


async def test_a_permanent_failure_is_on_the_timeline_and_counted(harness: Harness) -> None:
    harness.chat.fail_next("invite", DeliveryError("user_not_found", retryable=False, detail="U0"))
    await harness.service.declare(sev2())
    await harness.worker.drain()
    entries = [e for e in await harness.timeline() if e.kind is TimelineKind.DELIVERY_FAILED]
    (entry,) = entries
    assert entry.actor is None and entry.text == "invite: user_not_found: U0"
    assert entry.data == {"delivery": "invite", "error": "user_not_found: U0"}
    assert await failed_count(harness.db) == 1
    assert await pending_count(harness.db) == 0
