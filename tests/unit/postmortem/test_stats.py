"""Response statistics over a known history: severities, MTTA and MTTR from the timeline,
the window's edges, private incidents, open action items and overdue postmortems."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from bot.incidents.access import IncidentRef
from bot.incidents.status import Status
from bot.policy.defaults import merge_policy_data
from bot.policy.postmortem import PostmortemPolicy
from bot.policy.schema import Policy, default_policy
from bot.postmortem.stats import Spread, Stats, compute_stats, format_table, render_stats
from bot.storage.database import Database
from bot.storage.models import Incident, IncidentMember, TimelineEntry, TimelineKind
from bot.storage.postmortem_models import ActionItem
from bot.text.templates import Renderer
from tests.unit.conftest import Harness, sev2

NOW = datetime(2026, 11, 22, 14, 8, tzinfo=UTC)
DAY, HOUR, MINUTE, SECOND = (
    timedelta(days=1),
    timedelta(hours=1),
    timedelta(minutes=1),
    timedelta(seconds=1),
)
DECLARED, ACKNOWLEDGED = TimelineKind.DECLARED, TimelineKind.ACKNOWLEDGED
RESOLVED, REOPENED = TimelineKind.RESOLVED, TimelineKind.REOPENED
LADDER = ["SEV1", "SEV2", "SEV3", "SEV4"]


class History:
    """Incidents written straight into the tables, with the timeline entries a test names."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.numbers = session.scalar(select(func.max(Incident.number))) or 0
        self.items: dict[int, int] = {}  # incident id -> its action items so far

    def incident(
        self,
        *,
        started_at: datetime,
        severity: str = "SEV2",
        status: Status = Status.INVESTIGATING,
        resolved_at: datetime | None = None,
        private: bool = False,
        members: Sequence[str] = (),
        declared_at: datetime | None = None,
        declared: bool = True,
    ) -> int:
        """A new incident with its `declared` entry, at `started_at` unless `declared_at`
        says when; `declared=False`: none, as if imported without its timeline."""
        self.numbers += 1
        incident = Incident(
            number=self.numbers,
            title=f"Incident {self.numbers}",
            severity=severity,
            status=status,
            private=private,
            declared_by="U0DECLARER",
            started_at=started_at,
            resolved_at=resolved_at,
        )
        self.session.add(incident)
        self.session.flush()
        assert incident.id is not None
        for user in members:
            self.session.add(IncidentMember(incident_id=incident.id, user_id=user, added_at=NOW))
        if declared:
            self.entry(incident.id, DECLARED, declared_at or started_at)
        return incident.id

    def entry(self, incident_id: int, kind: TimelineKind, at: datetime) -> None:
        self.session.add(TimelineEntry(incident_id=incident_id, kind=kind, at=at, actor="U0X"))

    def action_item(self, incident_id: int, *, done: bool = False) -> None:
        number = self.items.get(incident_id, 0) + 1
        self.items[incident_id] = number
        self.session.add(
            ActionItem(
                incident_id=incident_id,
                number=number,
                text="Add an alert",
                created_by="U0X",
                created_at=NOW - DAY,
                done_at=NOW if done else None,
            )
        )


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, threads=1)
    yield database
    database.dispose()


@contextmanager
def history(db: Database) -> Iterator[History]:
    with Session(db.engine) as session, session.begin():
        yield History(session)


def stats_of(
    db: Database,
    *,
    policy: Policy | None = None,
    days: int = 30,
    viewer: str | None = None,
    now: datetime = NOW,
) -> Stats:
    with Session(db.engine) as session:
        return compute_stats(
            session, policy=policy or default_policy(), now=now, days=days, viewer=viewer
        )


# MTTA and MTTR ----------------------------------------------------------------------


def test_response_times_are_measured_on_the_timeline(db: Database) -> None:
    start = NOW - 10 * DAY
    with history(db) as past:
        # Acknowledged after 5 min, resolved after 1 h, closed since.
        one = past.incident(started_at=start, severity="SEV1", status=Status.CLOSED)
        past.entry(one, ACKNOWLEDGED, start + 5 * MINUTE)
        past.entry(one, RESOLVED, start + HOUR)
        # 10 min, 2 h.
        two = past.incident(started_at=start, status=Status.RESOLVED)
        past.entry(two, ACKNOWLEDGED, start + 10 * MINUTE)
        past.entry(two, RESOLVED, start + 2 * HOUR)
        # Acknowledged twice (the first counts: 1 min); resolved, reopened and resolved
        # again (the last counts: 90 min).
        three = past.incident(started_at=start, status=Status.RESOLVED)
        past.entry(three, ACKNOWLEDGED, start + MINUTE)
        past.entry(three, ACKNOWLEDGED, start + 20 * MINUTE)
        past.entry(three, RESOLVED, start + 30 * MINUTE)
        past.entry(three, REOPENED, start + 40 * MINUTE)
        past.entry(three, RESOLVED, start + 90 * MINUTE)
        # 15 min; resolved, then reopened and still open: no time to resolve.
        four = past.incident(started_at=start, status=Status.INVESTIGATING)
        past.entry(four, ACKNOWLEDGED, start + 15 * MINUTE)
        past.entry(four, RESOLVED, start + 40 * MINUTE)
        past.entry(four, REOPENED, start + 50 * MINUTE)
        # No `declared` entry: measured from its start (2 min).
        five = past.incident(started_at=start, declared=False, status=Status.MITIGATING)
        past.entry(five, ACKNOWLEDGED, start + 2 * MINUTE)
        # Declared 10 min after the start it gives: measured from the declaration (3 min).
        six = past.incident(started_at=start, declared_at=start + 10 * MINUTE)
        past.entry(six, ACKNOWLEDGED, start + 13 * MINUTE)
        # Never acknowledged, never resolved.
        past.incident(started_at=start, severity="SEV4")

    stats = stats_of(db)

    # MTTA of 60, 120, 180, 300, 600, 900 s; MTTR of 3600, 5400, 7200 s.
    assert stats.mtta == Spread(median=240.0, p90=750.0, count=6)
    assert stats.mttr == Spread(median=5400.0, p90=6840.0, count=3)
    assert stats.incidents_by_severity == {"SEV1": 1, "SEV2": 5, "SEV3": 0, "SEV4": 1}


async def test_the_lifecycle_writes_what_the_statistics_read(harness: Harness) -> None:
    """The entries warroom itself writes: declared, acknowledged, resolved, reopened."""
    await harness.service.declare(sev2())
    first = IncidentRef(number=1)
    harness.clock.advance(minutes=4)
    await harness.lifecycle.acknowledge(first, actor="U0DECLARER")
    await harness.lifecycle.set_severity(first, actor="U0DECLARER", severity="sev1")
    harness.clock.advance(minutes=26)
    await harness.lifecycle.resolve(first, actor="U0DECLARER")
    harness.clock.advance(minutes=5)
    await harness.lifecycle.reopen(first, actor="U0DECLARER")
    harness.clock.advance(minutes=25)
    await harness.lifecycle.resolve(first, actor="U0DECLARER")
    # A second one, resolved, reopened and still open.
    await harness.service.declare(sev2("Search is slow"))
    second = IncidentRef(number=2)
    harness.clock.advance(minutes=10)
    await harness.lifecycle.resolve(second, actor="U0DECLARER")
    await harness.lifecycle.reopen(second, actor="U0DECLARER")
    now = harness.clock.advance(hours=1)

    stats = await harness.db.transaction(
        lambda session: compute_stats(session, policy=default_policy(), now=now)
    )

    assert stats.incidents_by_severity == {"SEV1": 1, "SEV2": 1, "SEV3": 0, "SEV4": 0}
    assert stats.mtta == Spread(median=240.0, p90=240.0, count=1)
    assert stats.mttr == Spread(median=3600.0, p90=3600.0, count=1)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        ([], Spread(median=None, p90=None, count=0)),
        ([42.0], Spread(median=42.0, p90=42.0, count=1)),
        ([10.0, 20.0], Spread(median=15.0, p90=19.0, count=2)),
        # numpy.percentile([1, 2, 3, 4, 100], 90) == 61.6
        ([100.0, 1.0, 3.0, 2.0, 4.0], Spread(median=3.0, p90=61.6, count=5)),
    ],
)
def test_spread_is_the_median_and_the_interpolated_90th_percentile(
    seconds: list[float], expected: Spread
) -> None:
    spread = Spread.of(seconds)
    assert spread.count == expected.count
    assert spread.median == expected.median
    assert spread.p90 == (None if expected.p90 is None else pytest.approx(expected.p90))


# Which incidents count --------------------------------------------------------------


def test_severity_is_the_final_one_and_every_level_of_the_ladder_is_listed(
    db: Database,
) -> None:
    with history(db) as past:
        raised = past.incident(started_at=NOW - DAY, severity="SEV1")  # declared SEV3
        past.entry(raised, TimelineKind.SEVERITY_CHANGED, NOW - DAY + MINUTE)
        past.incident(started_at=NOW - DAY, severity="SEV3")
        past.incident(started_at=NOW - DAY, severity="SEV0")  # a level no longer in the policy
        past.incident(started_at=NOW - DAY, severity="LEGACY")

    by_severity = stats_of(db).incidents_by_severity

    assert list(by_severity.items()) == [
        ("SEV1", 1),
        ("SEV2", 0),
        ("SEV3", 1),
        ("SEV4", 0),
        ("LEGACY", 1),
        ("SEV0", 1),
    ]


def test_severities_follow_the_ladder_order_of_the_policy(db: Database) -> None:
    policy = Policy.model_validate(
        merge_policy_data(
            {
                "severities": [
                    {"name": "urgent", "response": "5m"},
                    {"name": "high", "response": "30m"},
                    {"name": "low", "response": "next_business_day"},
                ],
                "escalation": [],
            }
        )
    )
    with history(db) as past:
        past.incident(started_at=NOW - DAY, severity="low")

    stats = stats_of(db, policy=policy)

    assert list(stats.incidents_by_severity.items()) == [("urgent", 0), ("high", 0), ("low", 1)]


def test_the_window_holds_incidents_started_in_its_days_edges_included(db: Database) -> None:
    since = NOW - 30 * DAY
    with history(db) as past:
        first_in = past.incident(started_at=since, severity="SEV1")
        past.entry(first_in, ACKNOWLEDGED, since + MINUTE)
        too_early = past.incident(started_at=since - SECOND, severity="SEV2")
        past.entry(too_early, ACKNOWLEDGED, since + HOUR)  # acknowledged within: still out
        past.incident(started_at=NOW, severity="SEV3")
        past.incident(started_at=NOW + SECOND, severity="SEV4")  # a clock ahead of ours

    stats = stats_of(db)

    assert stats.incidents_by_severity == {"SEV1": 1, "SEV2": 0, "SEV3": 1, "SEV4": 0}
    assert stats.mtta == Spread(median=60.0, p90=60.0, count=1)
    assert (stats.since, stats.until, stats.days) == (since, NOW, 30)
    assert stats_of(db, days=1).incidents == 1  # only the one started now
    assert stats_of(db, days=31).incidents == 3


def test_days_must_be_at_least_one(db: Database) -> None:
    with pytest.raises(ValueError, match="days must be at least 1"):
        stats_of(db, days=0)


def test_private_incidents_count_only_for_their_people(db: Database) -> None:
    start = NOW - 5 * DAY
    with history(db) as past:
        public = past.incident(started_at=start, severity="SEV2")
        past.entry(public, ACKNOWLEDGED, start + MINUTE)
        past.action_item(public)
        secret = past.incident(
            started_at=start,
            severity="SEV1",
            status=Status.RESOLVED,
            resolved_at=start + HOUR,
            private=True,
            members=["U0INSIDE"],
        )
        past.entry(secret, ACKNOWLEDGED, start + 3 * MINUTE)
        past.entry(secret, RESOLVED, start + HOUR)
        past.action_item(secret)
        past.action_item(secret)
        # Private and old: outside the window, but its follow-up is still owed.
        old_secret = past.incident(
            started_at=NOW - 90 * DAY,
            severity="SEV1",
            status=Status.RESOLVED,
            resolved_at=NOW - 89 * DAY,
            private=True,
            members=["U0INSIDE"],
        )
        past.action_item(old_secret)

    everything = stats_of(db)
    inside = stats_of(db, viewer="U0INSIDE")
    outside = stats_of(db, viewer="U0OUTSIDE")

    for seen in (everything, inside):
        assert seen.incidents_by_severity == {"SEV1": 1, "SEV2": 1, "SEV3": 0, "SEV4": 0}
        assert seen.mtta == Spread(median=120.0, p90=168.0, count=2)
        assert seen.mttr == Spread(median=3600.0, p90=3600.0, count=1)
        assert (seen.open_action_items, seen.postmortems_overdue) == (4, 2)
    assert outside.incidents_by_severity == {"SEV1": 0, "SEV2": 1, "SEV3": 0, "SEV4": 0}
    assert outside.mtta == Spread(median=60.0, p90=60.0, count=1)
    assert outside.mttr == Spread(median=None, p90=None, count=0)
    assert (outside.open_action_items, outside.postmortems_overdue) == (1, 0)


# What is owed -----------------------------------------------------------------------


def test_open_action_items_of_every_incident_are_counted(db: Database) -> None:
    with history(db) as past:
        recent = past.incident(started_at=NOW - DAY)
        past.action_item(recent)
        past.action_item(recent, done=True)
        ancient = past.incident(started_at=NOW - 400 * DAY, status=Status.CLOSED)
        past.action_item(ancient)
        past.action_item(ancient)

    assert stats_of(db).open_action_items == 3
    assert stats_of(db, days=1).open_action_items == 3  # not only the window's


def overdue_history(db: Database) -> None:
    """Resolved incidents on each side of the 48 h the default policy gives."""
    with history(db) as past:

        def resolved(severity: str, ago: timedelta, status: Status = Status.RESOLVED) -> None:
            resolved_at = NOW - ago
            past.incident(
                started_at=resolved_at - HOUR,
                severity=severity,
                status=status,
                resolved_at=resolved_at,
            )

        resolved("SEV1", 3 * DAY)  # overdue
        resolved("SEV2", 2 * DAY + SECOND)  # overdue by a second
        resolved("SEV1", 100 * DAY)  # overdue, long before the window
        resolved("SEV2", 2 * DAY)  # due right now: not yet overdue
        resolved("SEV1", HOUR)  # still within its 48 h
        resolved("SEV3", 10 * DAY)  # optional for SEV3: never overdue
        resolved("SEV4", 10 * DAY)
        resolved("SEV1", 10 * DAY, Status.CLOSED)  # closed: its postmortem is done
        # Reopened: not resolved any more.
        past.incident(started_at=NOW - 10 * DAY, severity="SEV1", status=Status.INVESTIGATING)
        # Resolved with no resolution time (rows written before it was kept).
        past.incident(started_at=NOW - 10 * DAY, severity="SEV1", status=Status.RESOLVED)


def test_postmortems_of_required_severities_are_overdue_past_the_deadline(
    db: Database,
) -> None:
    overdue_history(db)
    assert stats_of(db).postmortems_overdue == 3


def test_overdue_postmortems_follow_the_policy(db: Database) -> None:
    overdue_history(db)
    policy = default_policy()
    optional_sev1 = policy.model_copy(
        update={"postmortem": PostmortemPolicy(required=("SEV2", "SEV3"))}
    )
    # SEV2 48 h + 1 s ago, SEV3 10 days ago.
    assert stats_of(db, policy=optional_sev1).postmortems_overdue == 2
    a_week = policy.model_copy(
        update={"postmortem": PostmortemPolicy(complete_within=timedelta(days=7))}
    )
    assert stats_of(db, policy=a_week).postmortems_overdue == 1  # SEV1 100 days ago


# Efficiency ---------------------------------------------------------------------------


def statements_of(db: Database) -> int:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        stats_of(db, viewer="U0INSIDE")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])


def test_a_few_queries_however_many_incidents(db: Database) -> None:
    with history(db) as past:
        past.incident(started_at=NOW - DAY)
    few = statements_of(db)
    with history(db) as past:
        for n in range(50):
            incident = past.incident(started_at=NOW - n * HOUR, status=Status.RESOLVED)
            past.entry(incident, ACKNOWLEDGED, NOW - n * HOUR + MINUTE)
            past.entry(incident, RESOLVED, NOW - n * HOUR + 30 * MINUTE)
            past.action_item(incident)
    assert statements_of(db) == few <= 4


# Output -------------------------------------------------------------------------------


def known_stats() -> Stats:
    return Stats(
        since=NOW - 30 * DAY,
        until=NOW,
        days=30,
        incidents_by_severity={"SEV1": 2, "SEV2": 5, "SEV3": 0, "SEV4": 1},
        mtta=Spread(median=240.0, p90=750.5, count=6),
        mttr=Spread(median=3900.0, p90=2 * 86400.0 + 3 * 3600.0, count=3),
        open_action_items=4,
        postmortems_overdue=1,
    )


def test_json_has_exactly_the_documented_keys(db: Database) -> None:
    empty = stats_of(db).to_json()
    assert json.loads(json.dumps(empty)) == {
        "since": "2026-10-23T14:08:00+00:00",
        "until": "2026-11-22T14:08:00+00:00",
        "days": 30,
        "incidents_by_severity": {"SEV1": 0, "SEV2": 0, "SEV3": 0, "SEV4": 0},
        "mtta_seconds": {"median": None, "p90": None, "count": 0},
        "mttr_seconds": {"median": None, "p90": None, "count": 0},
        "open_action_items": 0,
        "postmortems_overdue": 0,
    }
    known = known_stats().to_json()
    assert known["mtta_seconds"] == {"median": 240.0, "p90": 750.5, "count": 6}
    assert list(known["incidents_by_severity"]) == LADDER


def test_the_table_for_a_terminal() -> None:
    assert format_table(known_stats()) == (
        "Response statistics, last 30 days (2026-10-23 14:08 UTC to 2026-11-22 14:08 UTC)\n"
        "\n"
        "Incidents   Count\n"
        "SEV1            2\n"
        "SEV2            5\n"
        "SEV3            0\n"
        "SEV4            1\n"
        "Total           8\n"
        "\n"
        "            Median         p90   Incidents\n"
        "MTTA         4 min      12 min           6\n"
        "MTTR     1 h 5 min     2 d 3 h           3\n"
        "\n"
        "Open action items         4\n"
        "Postmortems overdue       1\n"
    )


def test_the_table_without_figures_says_so(db: Database) -> None:
    table = format_table(stats_of(db, days=1))
    assert "last 1 day (" in table
    assert "MTTA             -           -           0\n" in table


def test_the_chat_report() -> None:
    assert render_stats(known_stats(), Renderer()) == (
        "**Response statistics**, last 30 days "
        "(2026-10-23 14:08 UTC to 2026-11-22 14:08 UTC)\n"
        "\n"
        "**Incidents:** 8 (SEV1: 2 · SEV2: 5 · SEV3: 0 · SEV4: 1)\n"
        "**Time to acknowledge:** median 4 min · p90 12 min (6 acknowledged)\n"
        "**Time to resolve:** median 1 h 5 min · p90 2 d 3 h (3 resolved)\n"
        "**Open action items:** 4\n"
        "**Postmortems overdue:** 1\n"
    )


def test_the_chat_report_without_figures(db: Database) -> None:
    report = render_stats(stats_of(db), Renderer())
    assert "**Time to acknowledge:** no incident acknowledged\n" in report
    assert "**Time to resolve:** no incident resolved\n" in report
    assert "**Incidents:** 0 (SEV1: 0 · SEV2: 0 · SEV3: 0 · SEV4: 0)\n" in report
