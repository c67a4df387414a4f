"""`update --public` and `resolve --public`: posted as usual and on the status page; the
first makes the incident public; a private incident refuses; refusals change nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.incidents.status import Status
from bot.status.publishing import REOPENED_LINE, RESOLVED_LINE
from bot.storage.models import TimelineKind
from tests.status.conftest import StatusHarness, policy_of
from tests.unit.alerts.conftest import alert, batch


async def test_the_first_public_update_makes_the_incident_public(status: StatusHarness) -> None:
    here = await status.declare()
    assert await status.public_incidents() == []

    reply = await status.command(
        "update --public We are investigating failed payments", channel=here
    )
    assert reply.startswith(
        "✅ Update posted and published on the status page (INC-1 is now public); next update by"
    )
    # Posted in the channel as every update is.
    assert any("We are investigating failed payments" in m for m in status.messages(here))
    (published,) = await status.public_incidents()
    assert published.title is None and published.published_at == status.clock.now
    (update,) = await status.public_updates()
    assert (update.text, update.status, update.at) == (
        "We are investigating failed payments",
        Status.INVESTIGATING.value,
        status.clock.now,
    )
    entries = await status.timeline()
    made_public = [e for e in entries if e.kind is TimelineKind.MADE_PUBLIC]
    assert [(e.actor, e.text) for e in made_public] == [("U0DECLARER", "Service incident")]
    (posted,) = [e for e in entries if e.kind is TimelineKind.UPDATE]
    assert posted.data == {"public": True}

    status.clock.advance(minutes=10)
    reply = await status.command("update --public Card payments recover", channel=here)
    assert reply.startswith("✅ Update posted and published on the status page; next update by")
    assert len(await status.public_incidents()) == 1  # made public once
    kinds = [e.kind for e in await status.timeline()]
    assert kinds.count(TimelineKind.MADE_PUBLIC) == 1
    assert [u.text for u in await status.public_updates()] == [
        "We are investigating failed payments",
        "Card payments recover",
    ]


async def test_an_update_without_public_stays_internal(status: StatusHarness) -> None:
    here = await status.declare()
    reply = await status.command("update Pool exhausted on db-3", channel=here)
    assert reply.startswith("✅ Update posted; next update by")
    assert await status.public_updates() == [] and await status.public_incidents() == []
    (posted,) = [e for e in await status.timeline() if e.kind is TimelineKind.UPDATE]
    assert posted.data == {}


async def test_a_private_incident_refuses_public_and_nothing_changes(
    status: StatusHarness,
) -> None:
    here = await status.declare("--private sev1 Customer data exposed")
    before = status.messages(here)
    timeline = await status.timeline()

    reply = await status.command("update --public We are investigating", channel=here)
    assert reply == (
        "⚠️ INC-1 is private: it never appears on the status page, so --public is refused "
        "(post it without --public)."
    )
    reply = await status.command("resolve --public Fixed", channel=here)
    assert "INC-1 is private: it never appears on the status page" in reply
    assert await status.public_updates() == [] and await status.public_incidents() == []
    assert status.messages(here) == before  # no update posted, no all-clear
    assert await status.timeline() == timeline
    (incident,) = await status.incidents()
    assert incident.status is Status.INVESTIGATING  # the refused resolution changed nothing
    # To someone who is not one of its people, it does not exist.
    outsider = await status.command("update INC-1 --public hello", user="U0OUTSIDER")
    assert outsider.startswith("⚠️ there is no INC-1")


async def test_public_text_may_not_mention_people_or_channels(status: StatusHarness) -> None:
    here = await status.declare()
    for text in (
        "update --public <user:U0ALEX> is on it",
        "update --public Updates in <channel:C0WAR>",
        'update --public-title "<group:S0ONCALL> paged" Looking',
    ):
        reply = await status.command(text, channel=here)
        assert "cannot mention people, groups or channels (the status page is public)" in reply
    assert await status.public_updates() == []
    assert not [e for e in await status.timeline() if e.kind is TimelineKind.UPDATE]


async def test_public_title_is_set_and_changed_by_later_updates(status: StatusHarness) -> None:
    here = await status.declare()
    await status.command('update --public-title "Card payments failing" Looking', channel=here)
    (published,) = await status.public_incidents()
    assert published.title == "Card payments failing"
    made_public = [e for e in await status.timeline() if e.kind is TimelineKind.MADE_PUBLIC]
    assert [e.text for e in made_public] == ["Card payments failing"]
    await status.command("update --public-title 'Payments degraded' Recovering", channel=here)
    (published,) = await status.public_incidents()
    assert published.title == "Payments degraded"
    await status.command("update --public Still recovering", channel=here)  # title kept
    (published,) = await status.public_incidents()
    assert published.title == "Payments degraded"
    long_title = "x" * 201
    reply = await status.command(f"update --public-title {long_title} y", channel=here)
    assert "the public title is 201 characters; keep it under 200" in reply


async def test_resolving_a_public_incident_says_so_publicly(status: StatusHarness) -> None:
    first = await status.declare()
    await status.command("update --public Investigating", channel=first)
    status.clock.advance(minutes=5)
    reply = await status.command("resolve Rolled back deploy 4512 (internal)", channel=first)
    assert reply.startswith("✅ INC-1 resolved after 5 min")
    lines = [(u.status, u.text) for u in await status.public_updates()]
    assert lines == [("investigating", "Investigating"), ("resolved", RESOLVED_LINE)]

    status.clock.advance(minutes=5)
    await status.command("reopen", channel=first)
    status.clock.advance(minutes=5)
    reply = await status.command("resolve --public Payments work again for everyone", channel=first)
    assert reply.startswith("✅ INC-1 resolved after 15 min; published on the status page")
    lines = [(u.status, u.text) for u in await status.public_updates()]
    assert lines[2:] == [
        ("investigating", REOPENED_LINE),
        ("resolved", "Payments work again for everyone"),  # its own line, not the default
    ]
    (incident,) = await status.incidents()
    assert incident.resolution == "Payments work again for everyone"


async def test_resolve_public_publishes_an_incident_never_public(status: StatusHarness) -> None:
    here = await status.declare()
    reply = await status.command("resolve --public", channel=here)
    assert reply.endswith("published on the status page (INC-1 is now public)")
    assert [(u.status, u.text) for u in await status.public_updates()] == [
        ("resolved", RESOLVED_LINE)
    ]


async def test_an_incident_never_public_resolves_without_a_public_line(
    status: StatusHarness,
) -> None:
    here = await status.declare()
    await status.command("resolve", channel=here)
    await status.command("reopen", channel=here)
    assert await status.public_updates() == []


async def test_a_resolved_incident_takes_no_public_update(status: StatusHarness) -> None:
    here = await status.declare()
    await status.command("update --public Investigating", channel=here)
    await status.command("resolve", channel=here)
    reply = await status.command("update --public Still fine", channel=here)
    assert reply.startswith("⚠️ INC-1 is Resolved: reopen it to post updates")


async def test_without_a_status_page_public_is_refused(
    wire: Callable[..., Any], tmp_path: Path
) -> None:
    async for status in wire(policy_of(tmp_path, "timeline_emoji: pushpin")):
        here = await status.declare()
        for text in ("update --public Looking", "resolve --public", "components Checkout"):
            reply = await status.command(text, channel=here)
            assert reply.startswith("⚠️ there is no status page here (status_page in the policy)")
        (incident,) = await status.incidents()
        assert incident.status is Status.INVESTIGATING
        assert await status.public_updates() == []


AUTO_RESOLVING = """\
status_page:
  title: Acme Status
  components: [{name: API}]
alerts:
  routes:
    - {matchers: ['service="api"'], action: declare, component: API, auto_resolve: true}
"""


async def test_an_alert_resolving_a_public_incident_says_so_publicly(
    wire: Callable[..., Any], tmp_path: Path
) -> None:
    async for status in wire(policy_of(tmp_path, AUTO_RESOLVING)):
        await status.warroom.alerts.receive(batch([alert("a1")], group="api"))
        await status.warroom.worker.drain()
        (incident,) = await status.incidents()
        assert incident.channel_id is not None
        await status.command("update --public Errors on the API", channel=incident.channel_id)
        status.clock.advance(minutes=2)
        await status.warroom.alerts.receive(batch([alert("a1", "resolved")], group="api"))
        (incident,) = await status.incidents()
        assert incident.status is Status.RESOLVED
        lines = [(u.status, u.text) for u in await status.public_updates()]
        assert lines == [("investigating", "Errors on the API"), ("resolved", RESOLVED_LINE)]
