"""Reactions, pins and the message shortcut through Bolt, in process."""

from __future__ import annotations

from sqlalchemy import text as sql
from sqlalchemy import update

from bot.storage.models import Incident
from tests.handlers.slack.conftest import DECLARER, Glue


def reaction(user: str, channel: str, ts: str, emoji: str = "pushpin") -> dict[str, object]:
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": emoji,
        "item": {"type": "message", "channel": channel, "ts": ts},
    }


async def incident_channel(glue: Glue) -> str:
    """An incident whose channel exists in FakeChat (the worker is not running here)."""
    await glue.command("declare sev2 Checkout errors")
    glue.chat.add_channel("C0INC1", "inc-1-checkout-errors")
    await glue.warroom.db.transaction(
        lambda session: session.execute(update(Incident).values(channel_id="C0INC1"))
    )
    return "C0INC1"


async def card_refreshes(glue: Glue) -> int:
    deliveries = await glue.warroom.db.transaction(
        lambda session: session.execute(
            sql("SELECT count(*) FROM delivery WHERE kind = 'update_card'")
        ).scalar_one()
    )
    return int(deliveries)


async def test_other_emoji_are_decided_before_the_answer_and_start_nothing(glue: Glue) -> None:
    channel = await incident_channel(glue)
    ts = glue.chat.post_as("U0ALEX", channel, "DB CPU at 100%")
    reply = await glue.event(reaction("U0SAM", channel, ts, emoji="eyes"))
    assert reply.status == 200
    assert glue.warroom.follow_ups.running == 0  # the positive signal: nothing to follow
    assert "read_message" not in glue.chat.calls


async def test_a_pushpin_captures_once_even_when_slack_re_delivers(glue: Glue) -> None:
    channel = await incident_channel(glue)
    ts = glue.chat.post_as("U0ALEX", channel, "a &lt; b")
    before = await card_refreshes(glue)
    assert (await glue.event(reaction("U0SAM", channel, ts), event_id="Ev1")).status == 200
    assert (await glue.event(reaction("U0SAM", channel, ts), event_id="Ev1")).status == 200
    await glue.settled()
    assert glue.chat.calls.count("read_message") == 1  # the re-delivery was skipped
    assert await card_refreshes(glue) >= before


async def test_malformed_events_are_answered_and_ignored(glue: Glue) -> None:
    for event in (
        {"type": "reaction_added", "reaction": "pushpin", "item": {"type": "message"}},
        {"type": "reaction_added", "user": "U1", "reaction": "pushpin"},
        {"type": "pin_added", "user": "U1", "item": {"type": "file"}},
    ):
        assert (await glue.event(event)).status == 200
    assert glue.warroom.follow_ups.running == 0


async def test_the_shortcut_elsewhere_asks_which_incident(glue: Glue) -> None:
    await glue.command("declare sev2 Checkout errors")
    url = glue.slack.response_url()
    payload = {
        "type": "message_action",
        "callback_id": "incident.add_to_timeline",
        "trigger_id": "123.abc",
        "team": {"id": "T0WARROOM", "domain": "warroom-tests"},
        "user": {"id": DECLARER, "name": "declarer"},
        "channel": {"id": "C0GENERAL", "name": "general"},
        "message": {"type": "message", "ts": "1700000000.000100", "user": "U0ALEX", "text": "hi"},
        "message_ts": "1700000000.000100",
        "response_url": url,
        "token": "deprecated-verification-token",
    }
    assert (await glue.interaction(payload)).status == 200
    await glue.settled()
    (opened,) = glue.slack.calls_to("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == "incident.add_to_timeline_form"
    assert "1700000000.000100" in view["private_metadata"]
