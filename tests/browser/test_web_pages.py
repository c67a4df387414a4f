"""The web view in a real browser: signing in with the token through the form, the open
incidents (the overdue one highlighted by the stylesheet), an incident's page with its
timeline and postmortem preview, the stats page's SVG charts; a private incident absent
for the token viewer and present for its member named by the proxy. Screenshots of each
page are saved as test artifacts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from bot.app import Warroom
from bot.chat.fake import FakeChat
from tests.browser.conftest import run_async
from tests.conftest import SteppingClock
from tests.web.seed import (
    ACTION_TEXT,
    ALERT_TITLE,
    BOB,
    CAPTURED_TEXT,
    NOTE_TEXT,
    PRIVATE_TITLE,
    PUBLIC_TITLE,
    RESOLVED_TITLE,
    Seeded,
    scripted_checks,
    seed,
    web_policy,
)

TOKEN = "a-long-web-token-for-the-browser-0123"
HEADER = "X-Forwarded-Email"


@dataclass(frozen=True)
class Served:
    url: str
    seeded: Seeded


@pytest.fixture
def served(
    make_warroom: Callable[..., Warroom], serve: Callable[[Warroom], str], tmp_path: Path
) -> Served:
    chat = FakeChat()
    chat.add_channel("C0ANNOUNCE", "incidents")
    chat.emails["u0bob@example.com"] = BOB
    clock = SteppingClock()

    def made() -> Warroom:
        return make_warroom(
            chat=chat,
            clock=clock,
            policy=web_policy(tmp_path),
            run_check=scripted_checks,
            web_token=TOKEN,
            web_trusted_header=HEADER,
        )

    async def seeded_by(warroom: Warroom) -> Seeded:
        try:
            return await seed(warroom, chat, clock)
        finally:
            await warroom.http.aclose()
            warroom.db.dispose()

    # Seeded on one event loop, served on the server's own by a second Warroom.
    planted = run_async(seeded_by(made()))
    return Served(url=serve(made()), seeded=planted)


def refusals(page: Page) -> list[str]:
    """What the browser refused to load under the pages' Content-Security-Policy (a
    style, a frame, a script): it says so on the console."""
    complaints: list[str] = []

    def heard(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            complaints.append(message.text)

    page.on("console", heard)
    return complaints


def sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/web/")
    expect(page).to_have_url(f"{url}/web/login?next=%2Fweb%2F")
    page.get_by_label("Web token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{url}/web/")


def test_open_incidents_an_incident_and_the_stats(
    page: Page, served: Served, screenshot: Callable[[Page, str], Path]
) -> None:
    complaints = refusals(page)
    sign_in(page, served.url)

    # The open incidents: titles, the overdue one highlighted, no private one.
    expect(page.get_by_role("heading", name="Open incidents")).to_be_visible()
    rows = page.locator("tr.incident")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("link", name=PUBLIC_TITLE)).to_be_visible()
    expect(page.get_by_role("link", name=ALERT_TITLE)).to_be_visible()
    late, on_time = page.locator('tr[data-key="INC-1"]'), page.locator('tr[data-key="INC-4"]')
    expect(late).to_have_class("incident overdue")
    expect(late.locator(".overdue-note")).to_contain_text("overdue by")
    # The stylesheet is applied (the policy lets it in): the late row has its own colour.
    late_colour = late.evaluate("row => getComputedStyle(row).backgroundColor")
    on_time_colour = on_time.evaluate("row => getComputedStyle(row).backgroundColor")
    assert late_colour == "rgb(253, 236, 234)" and late_colour != on_time_colour
    expect(page.locator("body")).not_to_contain_text(PRIVATE_TITLE)
    screenshot(page, "open-incidents")

    # Filtering with the form.
    page.get_by_label("Severity").select_option("SEV1")
    page.get_by_label("Text").fill("errors")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(page).to_have_url(f"{served.url}/web/?severity=SEV1&status=&text=errors")

    # One incident: the card, the whole timeline with its link to chat, the rest.
    page.get_by_role("link", name=PUBLIC_TITLE).click()
    expect(page).to_have_url(f"{served.url}/web/incidents/INC-1")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"INC-1 {PUBLIC_TITLE}")
    card = page.get_by_label("Status card")
    expect(card).to_contain_text("INCIDENT ACTIVE · INC-1")
    expect(card).to_contain_text("Commander @U0ALICE")
    timeline = page.locator("#timeline")
    expect(timeline.locator("tr.entry").first).to_contain_text("Incident declared as SEV1")
    expect(timeline).to_contain_text(NOTE_TEXT)
    captured = timeline.locator("tr.entry", has_text=CAPTURED_TEXT)
    expect(captured.get_by_role("link", name="chat ↗")).to_have_attribute(
        "href", served.seeded.captured_link
    )
    expect(page.locator("#diagnostics tr.check.failed")).to_contain_text("connection refused")
    expect(page.locator("#action-items")).to_contain_text(ACTION_TEXT)
    preview = page.frame_locator("iframe.postmortem")
    expect(preview.get_by_role("heading", name=f"Incident: INC-1 {PUBLIC_TITLE}")).to_be_visible()
    screenshot(page, "incident")

    # The stats: three charts drawn as SVG, one bar per week.
    page.get_by_role("link", name="Stats").click()
    expect(page.get_by_role("heading", name="Response statistics")).to_be_visible()
    expect(page.locator("svg.chart")).to_have_count(3)
    expect(page.locator("svg#incidents-per-week rect.bar")).to_have_count(13)
    expect(page.locator("svg#mtta-by-severity rect.bar")).to_have_count(2)
    expect(page.get_by_role("img", name="Incidents declared per week")).to_be_visible()
    width = page.locator("svg#incidents-per-week").evaluate(
        "svg => svg.getBoundingClientRect().width"
    )
    assert width > 300
    screenshot(page, "stats")

    # The resolved ones, and the private incident by its address: not there.
    page.get_by_role("link", name="Resolved", exact=True).click()
    expect(page.get_by_role("link", name=RESOLVED_TITLE)).to_be_visible()
    answer = page.goto(f"{served.url}/web/incidents/INC-2")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(PRIVATE_TITLE)

    # Signing out.
    page.goto(f"{served.url}/web/")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{served.url}/web/login")
    page.goto(f"{served.url}/web/")
    expect(page).to_have_url(f"{served.url}/web/login?next=%2Fweb%2F")
    assert complaints == []


def test_a_member_named_by_the_proxy_sees_the_private_incident(
    browser: Browser, served: Served, screenshot: Callable[[Page, str], Path]
) -> None:
    context = browser.new_context(extra_http_headers={HEADER: "u0bob@example.com"})
    try:
        page = context.new_page()
        page.goto(f"{served.url}/web/")
        expect(page.locator(".viewer")).to_have_text("Signed in as u0bob@example.com")
        expect(page.get_by_role("link", name=PRIVATE_TITLE)).to_be_visible()
        expect(page.locator('tr[data-key="INC-2"] .badge.private')).to_have_text("private")
        page.get_by_role("link", name=PRIVATE_TITLE).click()
        expect(page.get_by_label("Status card")).to_contain_text(PRIVATE_TITLE)
        screenshot(page, "private-incident-for-its-member")
    finally:
        context.close()
