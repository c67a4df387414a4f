"""The postmortem document: the runbook's RCA template filled from what is stored, as
Markdown, a printable HTML page and a Confluence body.

The golden files under tests/fixtures/postmortem/ are the product: after a deliberate
change, regenerate them with `UPDATE_GOLDEN=1 .venv/bin/python -m pytest <this file>`
and read the diff."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot.incidents.members import add_member
from bot.incidents.status import Status
from bot.incidents.timeline import record_entries
from bot.policy.schema import default_policy
from bot.postmortem.document import (
    DocumentData,
    HtmlRenderer,
    document_filename,
    load_document,
    render_confluence,
    render_html,
    render_markdown,
)
from bot.storage.database import Database
from bot.storage.models import Incident, IncidentRole, TimelineKind, insert_incident
from bot.storage.postmortem_models import ActionItem, Postmortem
from bot.text.markdown import alert_actor
from bot.text.templates import Renderer
from tests.conftest import PROJECT_ROOT

GOLDEN = PROJECT_ROOT / "tests" / "fixtures" / "postmortem"
START = datetime(2026, 11, 22, 22, 50, tzinfo=UTC)
DECLARER, COMMANDER, COMMS, RESPONDER = "U0DECLARER", "U0COMMANDER", "U0COMMS", "U0RESPONDER"
HOSTILE = "</script><!channel> **x**"
NOT_YET_WRITTEN = "_Not yet written: fill in the form with /incident postmortem._"


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def scratch_database(database_url: str) -> Iterator[Database]:
    """What the `db` fixture of each of the document's test modules yields."""
    database = Database(database_url, threads=1)
    yield database
    database.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    yield from scratch_database(database_url)


def entry(
    minutes: float, kind: TimelineKind, actor: str | None, text: str = "", **data: Any
) -> dict[str, Any]:
    return {"at": at(minutes), "kind": kind, "actor": actor, "text": text, "data": data}


# Every kind of entry, across midnight UTC, as the features write them.
RICH_TIMELINE = [
    entry(0, TimelineKind.DECLARED, DECLARER, severity="SEV3", private=False),
    entry(
        1,
        TimelineKind.ALERT,
        alert_actor("alertmanager"),
        "5xx rate above 5%",
        alert="firing",
        alertname="HighErrorRate",
        labels={"instance": "10.0.0.6:8080"},
        link="https://grafana.example.com/d/checkout?from=now-1h&to=now",
    ),
    entry(2, TimelineKind.ESCALATED, None, level="L1", name="On-call engineer"),
    entry(4, TimelineKind.ACKNOWLEDGED, COMMANDER, after_seconds=240),
    entry(5, TimelineKind.ROLE_ASSIGNED, DECLARER, role="commander", user=COMMANDER),
    entry(6, TimelineKind.ROLE_ASSIGNED, COMMANDER, role="comms", user=COMMS),
    entry(
        8,
        TimelineKind.NOTE,
        RESPONDER,
        "pool at **100%** on db-1, <user:U0COMMANDER> is looking; logs in <channel:C0LOGS>",
    ),
    entry(
        9,
        TimelineKind.MESSAGE,
        RESPONDER,
        "connections climb since the 22:40 deploy",
        permalink="https://acme.slack.com/archives/C0INC1/p1795394000000100",
        added_by=COMMANDER,
    ),
    entry(10, TimelineKind.SEVERITY_CHANGED, COMMANDER, old="SEV3", new="SEV2"),
    entry(
        12,
        TimelineKind.DIAGNOSTICS,
        RESPONDER,
        run=1,
        target="checkout",
        label="runbook Checkout unresponsive",
        state="done",
        tally={"passed": 2, "failed": 1, "warned": 1},
        checks=[
            {"name": "app-port", "outcome": "failed", "summary": "connection refused"},
            {"name": "db-latency", "outcome": "warned", "summary": "p99 850 ms > 500 ms"},
            {"name": "dns", "outcome": "passed", "summary": "resolves"},
            {"name": "tls", "outcome": "passed", "summary": "valid 80 days"},
        ],
    ),
    entry(14, TimelineKind.DELIVERY_FAILED, None, "pagerduty refused the page: 400"),
    entry(15, TimelineKind.SILENCED, COMMANDER, until=at(75).isoformat(), silences=["s1"]),
    entry(18, TimelineKind.UPDATE, COMMS, "Rolling back the 22:40 deploy"),
    entry(20, TimelineKind.STATUS_CHANGED, COMMANDER, old="Investigating", new="Mitigating"),
    entry(
        35,
        TimelineKind.ALERT,
        alert_actor("alertmanager"),
        alert="resolved",
        alertname="HighErrorRate",
        labels={"instance": "10.0.0.6:8080"},
    ),
    entry(40, TimelineKind.RESOLVED, COMMANDER, "Rolled back the deploy"),
    entry(55, TimelineKind.REOPENED, COMMANDER, "errors are back"),
    entry(56, TimelineKind.UPDATE, COMMS, "Raising the pool size"),
    entry(92, TimelineKind.RESOLVED, COMMANDER, "Pool size raised to 200"),
    entry(600, TimelineKind.POSTMORTEM, COMMANDER, op="written"),
    entry(601, TimelineKind.ACTION_ITEM, COMMANDER, op="added", number=1, owner=RESPONDER),
    entry(602, TimelineKind.ACTION_ITEM, COMMANDER, op="added", number=2),
    entry(700, TimelineKind.ACTION_ITEM, RESPONDER, op="done", number=2),
]


def seed_incident(
    session: Session,
    *,
    number: int = 7,
    title: str = "Checkout errors",
    timeline: list[dict[str, Any]] | None = None,
    status: Status = Status.RESOLVED,
    impact: str = "",
    resolution: str = "Pool size raised to 200",
    postmortem: dict[str, Any] | None = None,
    private: bool = False,
) -> Incident:
    """An incident of rows inserted as the features write them (fixed times)."""
    incident = insert_incident(
        session,
        number=number,
        title=title,
        severity="SEV2",
        impact=impact,
        status=status,
        private=private,
        declared_by=DECLARER,
        declared_in="C0GENERAL",
        started_at=START,
        resolved_at=at(92) if status is Status.RESOLVED else None,
        resolution=resolution if status is Status.RESOLVED else "",
        channel_id="C0INC7",
    )
    incident_id = incident.id or 0
    rows = RICH_TIMELINE if timeline is None else timeline
    record_entries(session, [{"incident_id": incident_id, "source": None, **row} for row in rows])
    for user, minutes in ((DECLARER, 0), (COMMANDER, 3), (COMMS, 6), (RESPONDER, 7)):
        add_member(session, incident_id=incident_id, user_id=user, now=at(minutes))
    for role, user in (("comms", COMMS), ("commander", COMMANDER)):
        session.add(
            IncidentRole(
                incident_id=incident_id,
                role=role,
                user_id=user,
                assigned_at=at(5),
                assigned_by=DECLARER,
            )
        )
    if postmortem is not None:
        session.add(
            Postmortem(
                incident_id=incident_id, written_by=COMMANDER, written_at=at(600), **postmortem
            )
        )
    session.flush()
    return incident


RICH_POSTMORTEM: dict[str, Any] = {
    "root_cause": (
        "The 22:40 deploy halved the connection pool (a config default changed).\n"
        "\n"
        "Under the evening peak, checkout requests queued for connections:\n"
        "- requests timed out after 30 s\n"
        "- retries doubled the load"
    ),
    "impact": (
        "- User impact: 8% of checkouts failed for 1 h 30 min\n"
        "- Business impact: about 1,200 orders delayed\n"
        "Technical impact: db-1 at 100% connections"
    ),
    "resolution": "",
    "went_well": "Alert fired within a minute\nThe rollback took 5 minutes",
    "could_improve": "",
    "exports": 2,
}


def add_action_items(session: Session, incident: Incident) -> None:
    session.add(
        ActionItem(
            incident_id=incident.id or 0,
            number=1,
            text="Alert on pool saturation above 80%",
            owner=RESPONDER,
            due=date(2026, 12, 9),
            created_by=COMMANDER,
            created_at=at(601),
        )
    )
    session.add(
        ActionItem(
            incident_id=incident.id or 0,
            number=2,
            text="Load test the pool [before] `deploys`",
            created_by=COMMANDER,
            created_at=at(602),
            done_at=at(700),
            done_by=RESPONDER,
        )
    )


def seed_rich(db: Database, **options: Any) -> int:
    with Session(db.engine) as session, session.begin():
        incident = seed_incident(session, postmortem=RICH_POSTMORTEM, **options)
        add_action_items(session, incident)
        return incident.number


def document(db: Database, number: int, **options: Any) -> DocumentData:
    from sqlalchemy import select
    from sqlmodel import col

    with Session(db.engine) as session:
        incident = session.scalars(select(Incident).where(col(Incident.number) == number)).one()
        return load_document(session, incident, policy=default_policy(), **options)


def rendered(data: DocumentData, renderer: Renderer | None = None) -> dict[str, str]:
    renderer = renderer or Renderer()
    pages = HtmlRenderer(renderer)
    return {
        "md": render_markdown(data, renderer),
        "html": render_html(data, pages),
        "confluence.xml": render_confluence(data, pages),
    }


def parse_confluence(body: str) -> ElementTree.Element:
    return ElementTree.fromstring(
        '<page xmlns:ac="http://atlassian.com/content">' + body + "</page>"
    )


# The golden files ---------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["md", "html", "confluence.xml"])
def test_the_document_is_the_golden_one(db: Database, suffix: str) -> None:
    output = rendered(document(db, seed_rich(db)))[suffix]
    golden = GOLDEN / f"rich.{suffix}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(output.encode("utf-8"))
    assert output.encode("utf-8") == golden.read_bytes()


def test_the_same_rows_give_the_same_bytes(db: Database) -> None:
    number = seed_rich(db)
    assert rendered(document(db, number)) == rendered(document(db, number))


# What the document says ---------------------------------------------------------------


def test_the_header_follows_the_runbook(db: Database) -> None:
    markdown = rendered(document(db, seed_rich(db)))["md"]
    header = markdown.split("\n\n")[0].splitlines()
    assert [line.rstrip() for line in header] == [
        "## Incident: INC-7 Checkout errors",
        "**Date:** 2026-11-22",
        "**Severity:** SEV2 (declared SEV3; SEV3 → SEV2 at 23:00 UTC)",
        "**Status:** Resolved",
        "**Duration:** 1 h 32 min (2026-11-22 22:50 UTC → 2026-11-23 00:22 UTC)",
        "**Time to acknowledge:** 4 min",
        "**Time to mitigate:** 20 min",
        "**Time to resolve:** 1 h 32 min",
        "**Affected Users:** User impact: 8% of checkouts failed for 1 h 30 min",
        "**Source:** Declared by @U0DECLARER with /incident",
        "**Postmortem:** Required for SEV2; not yet completed",
    ]


def test_the_whole_timeline_shows_oldest_first_under_its_dates(db: Database) -> None:
    late_but_first = entry(-5, TimelineKind.NOTE, RESPONDER, "written before the declaration")
    with Session(db.engine) as session, session.begin():
        # Inserted last, yet earliest: the timeline goes by time, then by insertion.
        seed_incident(session, timeline=[*RICH_TIMELINE, late_but_first])
    markdown = rendered(document(db, 7))["md"]
    timeline = markdown.split("### Timeline\n\n")[1].split("\n\n### Participants")[0]
    lines = timeline.splitlines()
    assert lines[0] == "**2026-11-22**"
    assert (
        lines[1]
        == "- 22:45 UTC · @U0RESPONDER · Note by @U0RESPONDER: written before the declaration"
    )
    assert lines[2].startswith("- 22:50 UTC · @U0DECLARER · Incident declared as SEV3")
    assert "" in lines and lines[lines.index("") + 1] == "**2026-11-23**"
    shown, day = [], ""
    for line in lines:
        if line.startswith("**"):
            day = line.strip("*")
        elif line.startswith("- "):
            shown.append((day, line[2:7]))
    assert len(shown) == len(RICH_TIMELINE) + 1 and shown == sorted(shown)


def test_every_kind_of_entry_reads_as_the_card_tells_it(db: Database) -> None:
    markdown = rendered(document(db, seed_rich(db)))["md"]
    for expected in [
        "🔔 Firing: **HighErrorRate** (instance=10.0.0.6:8080): 5xx rate above 5% "
        "([graph](https://grafana.example.com/d/checkout?from=now-1h&to=now))",
        "✅ Resolved: **HighErrorRate**",
        "Escalated to L1 On-call engineer by warroom",
        "Acknowledged by @U0COMMANDER after 4 min",
        "@U0COMMANDER assigned commander by @U0DECLARER",
        "Note by @U0RESPONDER: pool at \\*\\*100%\\*\\* on db-1, @U0COMMANDER is looking; "
        "logs in #C0LOGS",
        "💬 @U0RESPONDER: “connections climb since the 22:40 deploy” "
        "([message](https://acme.slack.com/archives/C0INC1/p1795394000000100))",
        "Severity SEV3 → SEV2 by @U0COMMANDER",
        "🩺 Diagnostics (runbook Checkout unresponsive) by @U0RESPONDER: 2 passed, 1 warned, "
        "1 failed · ❌ app-port: connection refused · ⚠️ db-latency: p99 850 ms \\> 500 ms",
        "Delivery failed by warroom: pagerduty refused the page: 400",
        "🔕 Alerts silenced until 2026-11-23 00:05 UTC by @U0COMMANDER",
        "Update by @U0COMMS: Rolling back the 22:40 deploy",
        "Status Investigating → Mitigating by @U0COMMANDER",
        "Resolved by @U0COMMANDER: Rolled back the deploy",
        "Reopened by @U0COMMANDER: errors are back",
        "📝 Postmortem written by @U0COMMANDER",
        "☑️ Action item 1 added by @U0COMMANDER (owner @U0RESPONDER)",
        "✅ Action item 2 done by @U0RESPONDER",
    ]:
        assert expected in markdown
    assert "<user:" not in markdown and "<channel:" not in markdown


def test_the_people_and_their_roles(db: Database) -> None:
    markdown = rendered(document(db, seed_rich(db)))["md"]
    participants = markdown.split("### Participants\n\n")[1].split("\n\n")[0]
    assert participants.splitlines() == [
        "- @U0COMMANDER — commander",
        "- @U0COMMS — comms",
        "- @U0DECLARER (declared the incident)",
        "- @U0RESPONDER",
    ]


def test_the_sections_people_wrote(db: Database) -> None:
    markdown = rendered(document(db, seed_rich(db)))["md"]
    assert (
        "### Root Cause\n\n"
        "The 22:40 deploy halved the connection pool (a config default changed).\n\n"
        "Under the evening peak, checkout requests queued for connections:\n\n"
        "- requests timed out after 30 s\n"
        "- retries doubled the load\n\n"
        "### Impact\n\n"
        "- User impact: 8% of checkouts failed for 1 h 30 min\n"
        "- Business impact: about 1,200 orders delayed\n"
        "- Technical impact: db-1 at 100% connections\n\n"
        # Not written in the form: the resolve note.
        "### Resolution\n\nPool size raised to 200\n\n"
        "### What Went Well\n\nAlert fired within a minute\n\nThe rollback took 5 minutes\n\n"
        f"### What Could Improve\n\n{NOT_YET_WRITTEN}\n\n"
        "### Action Items\n\n"
        "- [ ] 1. Alert on pool saturation above 80% — owner @U0RESPONDER, due 2026-12-09\n"
        "- [x] 2. Load test the pool \\[before\\] \\`deploys\\` — done 2026-11-23\n"
    ) in markdown


def test_without_a_postmortem_every_section_is_not_yet_written(db: Database) -> None:
    with Session(db.engine) as session, session.begin():
        seed_incident(session, status=Status.INVESTIGATING, timeline=RICH_TIMELINE[:13])
    data = document(db, 7)
    markdown = rendered(data)["md"]
    assert markdown.count(NOT_YET_WRITTEN) == 5
    assert "**Duration:** ongoing (since 2026-11-22 22:50 UTC)" in markdown
    assert "**Time to resolve:** —" in markdown and "**Time to mitigate:** —" in markdown
    assert "**Affected Users:** Not recorded" in markdown
    assert "_None yet: add them with /incident action add._" in markdown
    assert "version 1 of INC-7's postmortem" in markdown and "sections as written" not in markdown
    assert data.filename == "INC-7-postmortem.md"
    page = rendered(data)["html"]
    assert page.count("Not yet written: fill in the form with /incident postmortem.") == 5


def test_an_incident_open_again_has_no_resolution_time(db: Database) -> None:
    with Session(db.engine) as session, session.begin():
        seed_incident(session, status=Status.INVESTIGATING, timeline=RICH_TIMELINE[:17])
    data = document(db, 7)
    assert data.duration.startswith("ongoing") and data.time_to_resolve == "—"
    assert data.time_to_mitigate == "20 min"


def test_the_affected_users_come_from_the_incident_first(db: Database) -> None:
    number = seed_rich(db, impact="Checkout <b>down</b> for EU")
    assert document(db, number).affected_users == "Checkout <b>down</b> for EU"
    assert (
        "**Affected Users:** Checkout \\<b\\>down\\</b\\> for EU"
        in (rendered(document(db, number))["md"])
    )


def test_an_alert_opened_incident_names_its_source(db: Database) -> None:
    with Session(db.engine) as session, session.begin():
        incident = seed_incident(session)
        incident_row = session.get(Incident, incident.id)
        assert incident_row is not None
        incident_row.source, incident_row.declared_by = "alertmanager", "alert:alertmanager"
    data = document(db, 7)
    assert data.source == "Opened by Alertmanager"
    assert all(person.name != "@alert:alertmanager" for person in data.participants)


def test_the_version_is_the_last_shared_unless_told(db: Database) -> None:
    number = seed_rich(db)
    assert document(db, number).version == 2
    assert document(db, number).filename == "INC-7-postmortem-v2.md"
    third = document(db, number, version=3)
    assert (third.version, third.filename) == (3, "INC-7-postmortem-v3.md")
    assert "_INC-7-postmortem-v3.md: version 3 of INC-7's postmortem" in rendered(third)["md"]


@pytest.mark.parametrize(
    ("number", "version", "filename"),
    [
        (7, 1, "INC-7-postmortem.md"),
        (7, 2, "INC-7-postmortem-v2.md"),
        (123, 10, "INC-123-postmortem-v10.md"),
    ],
)
def test_document_filename(number: int, version: int, filename: str) -> None:
    assert document_filename(number, version) == filename
