"""Calls whose outcome is unknown (a timeout, an error page after Slack did the work, a
process killed mid-call) end with exactly one channel, one card, one pin, one announcement.

Slack carries out a slow call even after its caller gave up, sometimes after the retry.
The fake does too: `hang` answers late and `lose_answer` answers an error at once, and
both carry the call out all the same. Timeouts are real ones, of an in-process adapter
with a one-second client timeout (the server's is 15 s); the rest goes through the real
`warroom serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from sqlalchemy import create_engine, text

from bot.app import Warroom, build
from bot.chat.slack.adapter import SlackChat, build_web_client, share_session
from bot.config import Settings
from bot.incidents.declare import Declaration
from bot.policy.schema import default_policy
from tests.e2e.conftest import (
    BOT_TOKEN,
    DECLARER,
    SlackSender,
    WarroomServer,
    wait_until,
)
from tests.e2e.test_declare import pinned_card, section_text
from tests.support.fake_slack import FakeChannel, FakeSlack

BOT = "U0WARBOT"
T = TypeVar("T")


def marker_of(message: dict[str, Any]) -> str:
    return str(((message.get("metadata") or {}).get("event_payload") or {}).get("marker", ""))


def marked(channel: FakeChannel, prefix: str) -> list[dict[str, Any]]:
    """The channel's messages whose warroom marker starts with `prefix`, oldest first."""
    return [m for m in channel.messages if marker_of(m).startswith(prefix)]


def incident_channels(slack: FakeSlack, number: int) -> list[FakeChannel]:
    return [
        c
        for c in slack.channels.values()
        if c.name.startswith(f"inc-{number}-") and c.creator == BOT
    ]


def rows(database_url: str, query: str) -> list[Any]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(query)))
    finally:
        engine.dispose()


# In process, with a client timeout of a second ---------------------------------------


@contextlib.asynccontextmanager
async def serving(
    slack: FakeSlack, database_url: str, *, gives_up_after: int
) -> AsyncIterator[Warroom]:
    """The core and the real Slack adapter in this process, its worker polled as `serve`
    polls it, calling the fake Slack with a client that gives up after `gives_up_after` s."""
    client = build_web_client(token=BOT_TOKEN, base_url=slack.api_url, timeout=gives_up_after)
    chat = SlackChat(client)
    settings = Settings(_env_file=None, database_url=database_url, announce_channel="C0ANNOUNCE")
    warroom = build(settings, chat=chat, policy=default_policy())
    session = await share_session(chat)

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.1)
            warroom.worker.wake()

    tasks = [asyncio.create_task(warroom.worker.run_forever()), asyncio.create_task(tick())]
    try:
        yield warroom
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if session is not None:
            await session.close()
        await warroom.http.aclose()
        warroom.db.dispose()


async def eventually(predicate: Callable[[], T | None], *, within: float, what: str) -> T:
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


def declaration(title: str = "Checkout errors") -> Declaration:
    return Declaration(title=title, severity="sev2", declared_by=DECLARER)


async def test_a_card_post_slower_than_the_timeout_leaves_one_card(
    slack: FakeSlack, database_url: str
) -> None:
    # The first card's post times out after 1 s; Slack carries it out at 3 s, after the
    # retry (due about a second after the timeout) found no card and posted its own.
    slack.hang("chat.postMessage", seconds=3)
    async with serving(slack, database_url, gives_up_after=1) as warroom:
        await warroom.service.declare(declaration())
        channel = await eventually(
            lambda: (
                (c := slack.channel_named("inc-1-checkout-errors"))
                and len(marked(c, "card:")) == 2
                and c
            ),
            within=10,
            what="the late card next to the retried one",
        )
        await eventually(
            lambda: len(marked(slack.channels[channel.id], "card:")) == 1,
            within=15,
            what="the late duplicate deleted",
        )
    ((card_ref,),) = rows(database_url, "SELECT card_ref FROM incident")
    (card,) = marked(slack.channels[channel.id], "card:")
    assert card["ts"] == card_ref and slack.channels[channel.id].pins == {card_ref}
    (deleted,) = slack.calls_to("chat.delete")
    assert deleted.args["ts"] != card_ref


async def test_a_channel_create_slower_than_the_timeout_leaves_one_channel(
    slack: FakeSlack, database_url: str
) -> None:
    # Carried out at 1.5 s, before the retry: that name is taken, by the bot, for this
    # incident: adopted. Then at 3 s, after the retry opened it: refused, name taken.
    slack.hang("conversations.create", seconds=1.5, where={"name": "inc-1-checkout-errors"})
    slack.hang("conversations.create", seconds=3, where={"name": "inc-2-database-down"})
    async with serving(slack, database_url, gives_up_after=1) as warroom:
        await warroom.service.declare(declaration())
        await warroom.service.declare(declaration("Database down"))
        for number in (1, 2):
            await eventually(
                lambda n=number: any(c.pins for c in incident_channels(slack, n)),
                within=10,
                what=f"INC-{number}'s pinned card",
            )
        await eventually(
            lambda: (
                len(slack.calls_to("conversations.create")) >= 4
                and all(c.outcome for c in slack.calls_to("conversations.create"))
            ),
            within=10,
            what="every create carried out",
        )
    assert [c.name for c in incident_channels(slack, 1)] == ["inc-1-checkout-errors"]
    assert [c.name for c in incident_channels(slack, 2)] == ["inc-2-database-down"]
    late = [c for c in slack.calls_to("conversations.create") if c.args["name"].startswith("inc-2")]
    assert [c.outcome and c.outcome.get("error") for c in late] == ["name_taken", None]
    assert sorted(rows(database_url, "SELECT channel_name FROM incident")) == [
        ("inc-1-checkout-errors",),
        ("inc-2-database-down",),
    ]


# Through the real server ---------------------------------------------------------------


def test_an_error_page_after_the_post_is_reconciled_not_posted_again(
    sender: SlackSender, slack: FakeSlack
) -> None:
    # Slack posts the card and answers 503; slack_sdk's own retry would post it again.
    slack.lose_answer("chat.postMessage", status=503)
    # The announcement's answer is lost the same way, in a channel the bot never joined:
    # looking for it there needs a join first (Slack: not_in_channel).
    slack.lose_answer("chat.postMessage", status=503, where={"channel": "C0ANNOUNCE"})
    sender.command("declare sev2 Checkout errors")
    channel, _ = pinned_card(slack, "inc-1-checkout-errors")
    sender.server.wait_quiet()
    assert len(marked(slack.channels[channel.id], "card:")) == 1
    assert len(slack.channels["C0ANNOUNCE"].messages) == 1
    cards = [c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == channel.id]
    assert len(cards) == 1  # tried once: the answer was looked for, not posted blindly
    assert [c.args["channel"] for c in slack.calls_to("conversations.join")] == ["C0ANNOUNCE"]
    assert BOT in slack.channels["C0ANNOUNCE"].members


def test_a_late_card_after_an_error_page_is_deleted(
    sender: SlackSender, slack: FakeSlack, database_url: str
) -> None:
    # 503 at once, the card posted 2 s later: after the retries looked and found nothing.
    slack.lose_answer("chat.postMessage", status=503, after=2.0)
    sender.command("declare sev2 Checkout errors")
    channel, card = pinned_card(slack, "inc-1-checkout-errors")
    wait_until(lambda: len(marked(slack.channels[channel.id], "card:")) == 2, what="the late card")
    sender.server.wait_quiet()  # the sweep is owed work: quiet means it ran
    (kept,) = marked(slack.channels[channel.id], "card:")
    assert kept["ts"] == card["ts"] == rows(database_url, "SELECT card_ref FROM incident")[0][0]
    assert len(slack.calls_to("chat.delete")) == 1


def test_the_bot_removed_from_a_channel_joins_again_to_invite(
    sender: SlackSender, slack: FakeSlack, database_url: str
) -> None:
    sender.command("declare sev2 Checkout errors")
    channel, _ = pinned_card(slack, "inc-1-checkout-errors")
    sender.server.wait_quiet()
    slack.remove_member(channel.id, BOT)
    sender.command("role commander <@U0ALEX|alex>", channel=channel.id)
    wait_until(lambda: "U0ALEX" in slack.channels[channel.id].members, what="the invitation")
    assert [c.args["channel"] for c in slack.calls_to("conversations.join")] == [channel.id]
    sender.server.wait_quiet()
    assert rows(database_url, "SELECT count(*) FROM delivery WHERE state = 'failed'") == [(0,)]


def test_a_refusal_for_good_is_on_the_timeline(
    sender: SlackSender, slack: FakeSlack, database_url: str
) -> None:
    sender.command("declare --private sev2 Credential leak")
    channel, _ = pinned_card(slack, "inc-1-credential-leak")
    sender.server.wait_quiet()
    slack.remove_member(channel.id, BOT)  # a private channel: the bot cannot join again
    sender.command("role commander <@U0ALEX|alex>", channel=channel.id)
    sender.server.wait_quiet()
    failed = rows(
        database_url, "SELECT text FROM timeline_entry WHERE kind = 'delivery_failed' ORDER BY id"
    )
    assert any(line.startswith("invite: ") for (line,) in failed), failed
    assert rows(database_url, "SELECT count(*) FROM delivery WHERE state = 'failed'") == [
        (len(failed),)
    ]


def test_the_announcement_follows_the_incident_and_the_declarer_gets_the_link(
    sender: SlackSender, slack: FakeSlack
) -> None:
    sender.command("declare sev2 Checkout errors")
    channel, _ = pinned_card(slack, "inc-1-checkout-errors")
    # The declarer is not in #general, where they declared: the app's DM reaches them.
    dm = wait_until(
        lambda: next((c for c in slack.channels.values() if c.is_im and c.messages), None),
        what="the declarer's pointer",
    )
    assert dm.name == DECLARER and f"<#{channel.id}>" in section_text(dm.messages[0])
    wait_until(lambda: slack.channels["C0ANNOUNCE"].messages, what="the announcement")
    # An edit whose answer is lost is made again: the message stays one, and current.
    slack.lose_answer("chat.update", status=503, where={"channel": "C0ANNOUNCE"})
    sender.command("severity sev1", channel=channel.id)
    sender.command("resolve Rolled back", channel=channel.id)
    sender.server.wait_quiet()
    (announcement,) = slack.channels["C0ANNOUNCE"].messages
    assert "✅ *INC-1* resolved after" in section_text(announcement)
    assert "(SEV1): Checkout errors" in section_text(announcement)


def test_kills_during_declarations_leave_one_channel_card_and_pin_each(
    make_server: Callable[..., WarroomServer], slack: FakeSlack, database_url: str
) -> None:
    # Slack answering in 150 ms, a new channel in 600: every other kill lands while a
    # channel is being created, the others while its card, pin and messages are on the way.
    # Slack carries out what was in flight all the same.
    slack.slow_down(0.15)
    slack.slow_down(0.6, methods=["conversations.create"])
    rng = random.Random(20261122)
    server = make_server()
    server.start()
    titles = 0
    for round_ in range(4):
        sender = SlackSender(server, slack)
        for _ in range(2):
            assert sender.command(f"declare sev3 Outage {titles}").status_code == 200
            titles += 1
        time.sleep(rng.uniform(0.1, 0.5) if round_ % 2 == 0 else rng.uniform(0.7, 1.2))
        server.kill()
        server = make_server()
        server.start()
    server.wait_quiet(timeout=30)
    incidents = rows(database_url, "SELECT number, channel_id, card_ref FROM incident")
    assert len(incidents) == titles
    for number, channel_id, card_ref in incidents:
        (channel,) = incident_channels(slack, number)
        assert channel.id == channel_id
        assert [m["ts"] for m in marked(channel, "card:")] == [card_ref]
        assert channel.pins == {card_ref}
        announced = [marker_of(m) for m in slack.channels["C0ANNOUNCE"].messages]
        assert announced.count(f"announcement:INC-{number}") == 1
