"""One incident's page: the chat card's own content, the whole timeline with links back to
chat, alerts, diagnostics, action items and the postmortem preview; 404 for what is not
there; user text shown as typed, never as markup."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import httpx
import pytest

from bot.chat.port import ChatMessage
from bot.incidents.access import IncidentRef
from bot.postmortem.document_inline import markdown_to_plain
from tests.web.conftest import BEARER, Web
from tests.web.seed import (
    ACTION_TEXT,
    ALERT_TITLE,
    ALICE,
    CAPTURED_TEXT,
    GENERAL,
    NOTE_TEXT,
    PUBLIC_TITLE,
    command,
)


def section(answer: httpx.Response, opening: str) -> str:
    start = answer.text.index(opening)
    return answer.text[start : answer.text.index("</section>", start)]


def visible_text(fragment: str) -> str:
    """What a reader sees of an HTML fragment, one space between words."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


async def test_the_card_is_the_chat_cards_content(web: Web) -> None:
    assert web.seeded is not None
    channel = web.chat.channels[web.seeded.public_channel]
    (pinned,) = channel.pins
    chat_card = channel.messages[pinned].markdown
    page = await web.get("/web/incidents/INC-1", headers=BEARER)
    assert page.status_code == 200
    card = visible_text(section(page, '<section class="card'))
    for line in chat_card.splitlines():
        shown = " ".join(markdown_to_plain(line.lstrip("#- ")).split())
        if shown.startswith("Next Update"):
            continue  # chat's copy was drawn before the update fell due: the page's is now
        assert shown in card, f"{shown!r} is on the chat card, not on the page"
    assert "Next Update: 2026-11-22 14:23 UTC ⚠️ overdue by 41 min" in card
    assert "INCIDENT ACTIVE · INC-1" in card
    assert "Commander @U0ALICE" in card
    assert "Last diagnostics: 14:13 UTC · all checks · 1 passed, 1 failed" in card
    # The card's own message, in chat.
    assert f'href="https://chat.example/{web.seeded.public_channel}/{pinned}"' in page.text


async def test_the_whole_timeline_with_links_back_to_chat(web: Web) -> None:
    assert web.seeded is not None
    page = await web.get("/web/incidents/INC-1", headers=BEARER)
    timeline = section(page, '<section id="timeline">')
    entries = re.findall(r'<tr class="entry">(.*?)</tr>', timeline, re.S)
    assert len(entries) == 8
    texts = [visible_text(entry) for entry in entries]
    assert texts[0].startswith("14:08 UTC @U0ALICE Incident declared as SEV1 by @U0ALICE")
    assert any(NOTE_TEXT in text for text in texts)
    (captured,) = [entry for entry in entries if CAPTURED_TEXT in entry]
    assert f'href="{web.seeded.captured_link}"' in captured
    assert "chat ↗" in captured
    # Entries that are not chat messages link nowhere.
    assert sum("chat ↗" in entry for entry in entries) == 1
    assert "2026-11-22" in timeline


async def test_a_message_kept_without_its_link_gets_one_from_chat(web: Web) -> None:
    assert web.seeded is not None
    channel = web.seeded.public_channel
    said = web.chat.post_as("U0DAVE", channel, "The CDN is fine")
    message = ChatMessage(channel_id=channel, ref=said, author="U0DAVE", text="The CDN is fine")
    await web.warroom.capture.capture(IncidentRef(channel_id=channel), message, actor=ALICE)
    page = await web.get("/web/incidents/INC-1", headers=BEARER)
    (row,) = [e for e in re.findall(r'<tr class="entry">(.*?)</tr>', page.text, re.S) if "CDN" in e]
    assert f'href="https://chat.example/{channel}/{said}"' in row


async def test_alerts_diagnostics_and_action_items(web: Web) -> None:
    alerts_page = await web.get("/web/incidents/INC-4", headers=BEARER)
    alerts = visible_text(section(alerts_page, '<section id="alerts">'))
    assert ALERT_TITLE in alerts
    assert "alertmanager · SEV1 · alertname=HighErrorRate, service=checkout" in alerts
    for instance in ("a", "b"):
        assert f"5xx rate above 5% on {instance}" in alerts
        assert f'href="https://prometheus.example/graph?g={instance}"' in alerts_page.text
    assert "firing HighErrorRate (instance=a, service=checkout)" in alerts

    page = await web.get("/web/incidents/INC-1", headers=BEARER)
    diagnostics = section(page, '<section id="diagnostics">')
    shown = visible_text(diagnostics)
    assert "all checks done" in shown and "asked by @U0ALICE" in shown
    assert "api-health ✅ passed 41 ms 200 OK" in shown
    assert "app-port ❌ failed 3 ms connection refused" in shown
    assert "127.0.0.1:3000 refused the connection" in shown
    assert 'rel="noreferrer">in chat ↗</a>' in diagnostics  # the run's message

    items = visible_text(section(page, '<section id="action-items">'))
    assert f"☐ 1. {ACTION_TEXT} — owner @U0ALICE, due 2026-12-01" in items
    assert "No alerts are attached to this incident." in page.text


async def test_the_postmortem_preview(web: Web) -> None:
    page = await web.get("/web/incidents/INC-3", headers=BEARER)
    preview = section(page, '<section id="postmortem">')
    assert '<iframe class="postmortem" src="/web/incidents/INC-3/postmortem"' in preview
    document = await web.get("/web/incidents/INC-3/postmortem", headers=BEARER)
    assert document.status_code == 200
    assert "<h2>Incident: INC-3 Search is slow</h2>" in document.text
    assert "Reindexed the search cluster" in document.text
    # Framed by our own page only; its styles are inline and no script may run.
    policy = document.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in policy and "script-src" not in policy
    assert document.headers["x-frame-options"] == "SAMEORIGIN"
    assert page.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    "path",
    [
        "/web/incidents/INC-99",
        "/web/incidents/inc-99",
        "/web/incidents/INC-0",
        "/web/incidents/INC-99999999999",
        "/web/incidents/99",
        "/web/incidents/INC-1x",
        "/web/incidents/%00",
        "/web/incidents/INC-99/postmortem",
        "/web/incidents/nothing/postmortem",
    ],
)
async def test_what_is_not_there_is_a_404_page(web: Web, path: str) -> None:
    answer = await web.get(path, headers=BEARER)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "Not found" in answer.text


async def test_keys_in_any_case_name_the_incident(web: Web) -> None:
    answer = await web.get("/web/incidents/inc-1", headers=BEARER)
    assert answer.status_code == 200 and PUBLIC_TITLE in answer.text


async def test_user_text_is_shown_as_typed(web: Web) -> None:
    title = "<script>alert(1)</script> **bold** [x](javascript:alert(1)) <!channel>"
    await command(web.warroom, f"declare sev4 {title}", user=ALICE, channel=GENERAL)
    await command(web.warroom, "note INC-5 <img src=x onerror=alert(1)>", user=ALICE, channel=None)
    listed = await web.get("/web/", headers=BEARER)
    page = await web.get("/web/incidents/INC-5", headers=BEARER)
    for answer in (listed, page):
        assert "<script>alert" not in answer.text and "<img" not in answer.text
        assert "javascript:" not in answer.text.replace("(javascript:alert(1))", "")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    assert 'href="javascript' not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text


async def test_a_resolved_incident(web: Web) -> None:
    page = await web.get("/web/incidents/INC-3", headers=BEARER)
    card = visible_text(section(page, '<section class="card'))
    assert "INCIDENT RESOLVED · INC-3" in card
    assert "Resolution: Reindexed the search cluster" in card
    assert '<section class="card ended"' in page.text


async def test_times_are_utc(web: Web) -> None:
    assert web.clock() == datetime(2026, 11, 22, 15, 4, tzinfo=UTC)
    page = await web.get("/web/incidents/INC-1", headers=BEARER)
    assert "Started: 2026-11-22 14:08 UTC" in visible_text(page.text)
