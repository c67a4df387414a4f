"""The postmortem document keeps what people typed inert: escaped in Markdown, escaped
by the HTML environment, links only to web addresses; the Confluence body well-formed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from bot.postmortem.document import DocumentData
from bot.storage.database import Database
from bot.storage.models import TimelineKind
from bot.storage.postmortem_models import ActionItem
from bot.text.markdown import alert_actor
from tests.unit.postmortem.test_document import (
    COMMANDER,
    DECLARER,
    HOSTILE,
    RESPONDER,
    at,
    document,
    entry,
    parse_confluence,
    rendered,
    scratch_database,
    seed_incident,
    seed_rich,
)

# The tags our templates and timeline lines make: anything else in a page came from data.
PAGE_TAGS = ("!doctype", "html", "head", "meta", "title", "style", "body", "main", "footer")
TEXT_TAGS = ("h2", "h3", "p", "em", "strong", "a", "br", "dl", "dt", "dd", "ul", "li")
OUR_TAGS = frozenset((*PAGE_TAGS, *TEXT_TAGS, "table", "tbody", "tr", "th", "td"))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    yield from scratch_database(database_url)


def hostile_everywhere(db: Database) -> DocumentData:
    hostile_timeline = [
        entry(0, TimelineKind.DECLARED, DECLARER, severity="SEV2"),
        entry(1, TimelineKind.NOTE, RESPONDER, HOSTILE),
        entry(2, TimelineKind.UPDATE, RESPONDER, "<img src=x onerror=alert(1)>"),
        entry(
            3,
            TimelineKind.ALERT,
            alert_actor("alertmanager"),
            HOSTILE,
            alertname=HOSTILE,
            alert="firing",
            labels={"a": "<b>"},
            link="javascript:alert(1)",
        ),
        entry(4, TimelineKind.MESSAGE, RESPONDER, HOSTILE, permalink="javascript:alert(1)"),
        entry(5, TimelineKind.RESOLVED, COMMANDER, HOSTILE),
    ]
    with Session(db.engine) as session, session.begin():
        incident = seed_incident(
            session,
            title=HOSTILE,
            impact=HOSTILE,
            resolution=HOSTILE,
            timeline=hostile_timeline,
            postmortem={
                field: f"{HOSTILE}\n# {HOSTILE}\n- {HOSTILE}"
                for field in ("root_cause", "impact", "resolution", "went_well", "could_improve")
            },
        )
        session.add(
            ActionItem(
                incident_id=incident.id or 0,
                number=1,
                text=HOSTILE,
                created_by=COMMANDER,
                created_at=at(6),
            )
        )
    return document(db, 7)


def test_a_hostile_title_shows_as_typed_in_markdown(db: Database) -> None:
    markdown = rendered(hostile_everywhere(db))["md"]
    assert markdown.startswith("## Incident: INC-7 \\</script\\>\\<!channel\\> \\*\\*x\\*\\*\n")
    # Every < and > people typed is escaped (no reference is left: they became ids).
    assert re.findall(r"(?<!\\)[<>]", markdown) == []
    assert "<!channel>" not in markdown and "</script>" not in markdown and "**x**" not in markdown
    # A line typed as a heading stays a line of text.
    assert "\n# " not in markdown and "\\# \\</script\\>" in markdown


@pytest.mark.parametrize("suffix", ["html", "confluence.xml"])
def test_no_markup_from_user_text_reaches_a_page(db: Database, suffix: str) -> None:
    page = rendered(hostile_everywhere(db))[suffix]
    tags = set(re.findall(r"</?([!a-zA-Z][a-zA-Z0-9]*)", page))
    assert tags <= OUR_TAGS, tags - OUR_TAGS
    assert "&lt;/script&gt;&lt;!channel&gt; **x**" in page
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert all(href.startswith(("https://", "http://")) for href in hrefs), hrefs
    assert "javascript:" not in page  # a permalink that is not http(s) is never a link


@pytest.mark.parametrize("seeded", ["rich", "hostile"])
def test_the_confluence_body_is_well_formed_xhtml(db: Database, seeded: str) -> None:
    data = document(db, seed_rich(db)) if seeded == "rich" else hostile_everywhere(db)
    body = rendered(data)["confluence.xml"]
    root = parse_confluence(body)
    assert "&nbsp;" not in body and "<html" not in body and "<head" not in body
    headings = [element.text for element in root if element.tag in ("h2", "h3")]
    assert headings[1:] == [
        "Timeline",
        "Participants",
        "Root Cause",
        "Impact",
        "Resolution",
        "What Went Well",
        "What Could Improve",
        "Action Items",
    ]


def test_the_page_stands_alone_and_prints(db: Database) -> None:
    page = rendered(document(db, seed_rich(db)))["html"]
    assert page.startswith("<!doctype html>\n")
    assert '<meta charset="utf-8">' in page
    assert "<title>INC-7 postmortem: Checkout errors</title>" in page
    assert "@media print" in page
    for outside in ("<script", "<link", "src=", "url(", "@import"):
        assert outside not in page
    headings = re.findall(r"<h[23]>([^<]*)</h[23]>", page)
    assert headings == [
        "Incident: INC-7 Checkout errors",
        "Timeline",
        "Participants",
        "Root Cause",
        "Impact",
        "Resolution",
        "What Went Well",
        "What Could Improve",
        "Action Items",
    ]
    assert '<a href="https://grafana.example.com/d/checkout?from=now-1h&amp;to=now">graph</a>' in (
        page
    )
    assert "pool at **100%** on db-1, @U0COMMANDER is looking; logs in #C0LOGS" in page
