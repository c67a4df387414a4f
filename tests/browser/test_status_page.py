"""The public status page in headless Chromium: what a visitor sees on /status, seeded
through the same commands responders type, and what they never see."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.etree import ElementTree

from playwright.sync_api import Page
from sqlalchemy import select
from sqlmodel import col

from bot.app import Warroom
from bot.chat.fake import FakeChat
from bot.inbound.requests import CommandRequest, Requester
from bot.storage.models import Incident
from tests.status.conftest import policy_of

POLICY = """\
status_page:
  title: Acme Status
  components:
    - {name: Checkout, description: Paying for an order}
    - {name: API}
    - {name: Search}
"""
INTERNAL = ("TITLE-br-51", "NOTE-br-52", "UPDATE-br-53", "PRIVATE-br-54", "U0DECLARER", "INC-")


def seeded(warroom: Warroom) -> None:
    """A public SEV1 on Checkout with two public updates and internal chatter around them,
    a public SEV3 on API since resolved, and a private incident that never shows."""

    async def seed() -> None:
        async def say(text: str, channel: str | None = "C0GENERAL") -> str:
            reply = await warroom.inbound.command(
                CommandRequest(Requester("U0DECLARER", channel), text)
            )
            await warroom.worker.drain()
            return reply.markdown

        async def declared(text: str) -> str:
            await say(f"declare {text}")
            newest = await warroom.db.transaction(
                lambda session: session.scalars(
                    select(Incident).order_by(col(Incident.number).desc())
                ).first()
            )
            assert newest is not None and newest.channel_id is not None
            return newest.channel_id

        checkout = await declared("sev1 Checkout TITLE-br-51")
        await say("components Checkout", checkout)
        await say("note NOTE-br-52 db-3 wedged", checkout)
        await say("update UPDATE-br-53 failing over", checkout)
        await say('update --public-title "Card payments failing" We are investigating', checkout)
        await say("update --public A fix is being rolled out", checkout)
        api = await declared("sev3 API slow")
        await say("components API", api)
        await say("update --public The API is slow for some requests", api)
        await say("resolve --public The API is back to normal speed", api)
        secret = await declared("--private sev1 PRIVATE-br-54")
        await say("components Search", secret)
        await warroom.http.aclose()

    # In a thread of its own: Playwright's synchronous API holds this thread's event loop.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, seed()).result()
    warroom.db.dispose()


def test_the_status_page_as_a_visitor_sees_it(
    make_warroom: Callable[..., Warroom],
    serve: Callable[[Warroom], str],
    page: Page,
    screenshot: Callable[[Page, str], Path],
    tmp_path: Path,
) -> None:
    policy = policy_of(tmp_path, POLICY)
    chat = FakeChat()
    chat.add_channel("C0ANNOUNCE", "incidents")
    chat.add_channel("C0GENERAL", "general")
    seeded(make_warroom(policy=policy, chat=chat))
    base = serve(make_warroom(policy=policy))

    answer = page.goto(f"{base}/status")
    assert answer is not None and answer.status == 200
    assert page.title() == "Acme Status"
    assert page.locator("h1").inner_text() == "Acme Status"
    assert page.locator(".overall").inner_text() == "Major outage"
    rows = {
        row.locator(".name").inner_text(): row.locator(".state").inner_text()
        for row in page.locator(".component").all()
    }
    assert rows == {"Checkout": "Major outage", "API": "Operational", "Search": "Operational"}
    assert page.get_by_text("Paying for an order").is_visible()

    active = page.locator("section[aria-labelledby=active] .incident")
    assert active.count() == 1
    assert active.locator("h3").inner_text() == "Card payments failing"
    updates = active.locator(".update-text").all_inner_texts()
    assert updates == ["A fix is being rolled out", "We are investigating"]  # newest first
    resolved = page.locator("section[aria-labelledby=resolved] .incident")
    assert resolved.locator("h3").all_inner_texts() == ["Incident affecting API"]
    assert resolved.locator(".update-text").first.inner_text() == "The API is back to normal speed"
    assert resolved.locator(".badge").first.inner_text() == "Resolved"

    html = page.content()
    for internal in INTERNAL:
        assert internal not in html, internal
    assert page.locator("script").count() == 0
    feed_link = page.locator('link[rel=alternate][type="application/atom+xml"]')
    assert feed_link.get_attribute("href") == "/status.atom"
    screenshot(page, "status")

    feed = page.request.get(f"{base}/status.atom")
    assert feed.ok
    entries = ElementTree.fromstring(feed.body()).findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 4  # one per public update, the private incident has none

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.reload()
    assert page.locator(".component").count() == 3
    screenshot(page, "status-phone")
