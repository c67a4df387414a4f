"""Response statistics: incidents per severity over a window of days, how long they took
to acknowledge and to resolve (MTTA, MTTR, read from the timeline), and the follow-up
still owed (open action items, overdue postmortems).

`warroom stats` sees every incident; `/incident stats` only what the asker may see: a
private incident they are not in is left out of every figure.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, true
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.incidents.members import visible_to
from bot.incidents.status import Status
from bot.policy.schema import Policy
from bot.storage.models import Incident, TimelineEntry, TimelineKind
from bot.storage.postmortem_models import ActionItem
from bot.text.durations import format_elapsed
from bot.text.templates import Renderer, format_utc

# The timeline entries the response times are measured between.
MILESTONES = (TimelineKind.DECLARED, TimelineKind.ACKNOWLEDGED, TimelineKind.RESOLVED)
# An incident in these states stands resolved: a reopened one is back at work.
SETTLED = (Status.RESOLVED, Status.CLOSED)
NOT_AVAILABLE = "-"


@dataclass(frozen=True)
class Spread:
    """How a set of durations (seconds) spreads: median, 90th percentile, how many."""

    median: float | None
    p90: float | None
    count: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Spread:
        if not seconds:
            return cls(median=None, p90=None, count=0)
        # Linear interpolation between closest ranks (numpy.percentile's default); the
        # quantiles of a single value need at least two before Python 3.13.
        p90 = (
            seconds[0]
            if len(seconds) == 1
            else statistics.quantiles(seconds, n=10, method="inclusive")[8]
        )
        return cls(median=float(statistics.median(seconds)), p90=float(p90), count=len(seconds))

    def to_json(self) -> dict[str, Any]:
        return {"median": self.median, "p90": self.p90, "count": self.count}


@dataclass(frozen=True)
class Stats:
    since: datetime
    until: datetime
    days: int
    # Every severity of the policy's ladder in its order (0 when none), then any other
    # severity stored (a level since removed from the policy).
    incidents_by_severity: dict[str, int]
    mtta: Spread
    mttr: Spread
    open_action_items: int
    postmortems_overdue: int

    @property
    def incidents(self) -> int:
        return sum(self.incidents_by_severity.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "days": self.days,
            "incidents_by_severity": dict(self.incidents_by_severity),
            "mtta_seconds": self.mtta.to_json(),
            "mttr_seconds": self.mttr.to_json(),
            "open_action_items": self.open_action_items,
            "postmortems_overdue": self.postmortems_overdue,
        }


@dataclass
class _Milestones:
    """When one incident of the window was declared, first acknowledged, last resolved."""

    started_at: datetime
    status: Status
    declared: datetime | None = None
    acknowledged: datetime | None = None
    resolved: datetime | None = None

    @property
    def start(self) -> datetime:
        # Without its `declared` entry (written in other ways than warroom's), the start
        # it was given.
        return self.declared or self.started_at


def compute_stats(
    session: Session,
    *,
    policy: Policy,
    now: datetime,
    days: int = 30,
    viewer: str | None = None,
) -> Stats:
    """The figures of the `days` up to `now`; with a `viewer`, of what they may see only."""
    if days < 1:
        raise ValueError(f"days must be at least 1 (got {days})")
    since = now - timedelta(days=days)
    visible = true() if viewer is None else visible_to(viewer)
    # The window's incidents, of those the viewer may see.
    in_window = (
        col(Incident.started_at) >= since,
        col(Incident.started_at) <= now,
        visible,
    )
    milestones = incident_milestones(session, in_window)
    mtta = [
        (m.acknowledged - m.start).total_seconds() for m in milestones if m.acknowledged is not None
    ]
    mttr = [
        (m.resolved - m.start).total_seconds()
        for m in milestones
        if m.resolved is not None and m.status in SETTLED
    ]
    return Stats(
        since=since,
        until=now,
        days=days,
        incidents_by_severity=_by_severity(session, in_window, policy.severity_names()),
        mtta=Spread.of(mtta),
        mttr=Spread.of(mttr),
        open_action_items=_open_action_items(session, visible),
        postmortems_overdue=_postmortems_overdue(session, visible, policy=policy, now=now),
    )


def _by_severity(
    session: Session, in_window: tuple[ColumnElement[bool], ...], ladder: list[str]
) -> dict[str, int]:
    rows = session.execute(
        select(col(Incident.severity), func.count())
        .where(*in_window)
        .group_by(col(Incident.severity))
    )
    counted = {severity: int(count) for severity, count in rows}
    ordered = {name: counted.pop(name, 0) for name in ladder}
    return ordered | dict(sorted(counted.items()))


def incident_milestones(
    session: Session, in_window: tuple[ColumnElement[bool], ...]
) -> list[_Milestones]:
    """One aggregate over the window's timeline, per incident and kind: the first entry,
    but the last resolution (the one that stands after a reopening)."""
    at = col(TimelineEntry.at)
    kind = col(TimelineEntry.kind)
    mark = case((kind == TimelineKind.RESOLVED, func.max(at)), else_=func.min(at))
    query = (
        select(
            col(TimelineEntry.incident_id),
            kind,
            col(Incident.started_at),
            col(Incident.status),
            mark,
        )
        .join(Incident, col(Incident.id) == col(TimelineEntry.incident_id))
        .where(kind.in_(MILESTONES), *in_window)
        .group_by(
            kind, col(TimelineEntry.incident_id), col(Incident.started_at), col(Incident.status)
        )
    )
    # Plain rows, all fetched at once: with 10,000 incidents the ORM's row handling and
    # fetching row by row took a third of the time.
    rows = session.connection().execute(query).all()
    found: dict[int, _Milestones] = {}
    for incident_id, entry_kind, started_at, status, when in rows:
        incident = found.setdefault(incident_id, _Milestones(started_at, status))
        if entry_kind is TimelineKind.DECLARED:
            incident.declared = when
        elif entry_kind is TimelineKind.ACKNOWLEDGED:
            incident.acknowledged = when
        else:
            incident.resolved = when
    return list(found.values())


def _open_action_items(session: Session, visible: ColumnElement[bool]) -> int:
    """Of every incident, not only the window's: what is owed now."""
    count = session.scalar(
        select(func.count())
        .select_from(ActionItem)
        .join(Incident, col(Incident.id) == col(ActionItem.incident_id))
        .where(col(ActionItem.done_at).is_(None), visible)
    )
    return int(count or 0)


def _postmortems_overdue(
    session: Session, visible: ColumnElement[bool], *, policy: Policy, now: datetime
) -> int:
    """Resolved incidents of any time whose required postmortem is past its deadline; a
    closed incident has its postmortem done."""
    rows = session.execute(
        select(col(Incident.severity), func.count())
        .where(
            col(Incident.status) == Status.RESOLVED,
            col(Incident.resolved_at).is_not(None),
            # resolved_at + complete_within < now, with the arithmetic on the bound side:
            # adding an interval to a column is written differently on each database.
            col(Incident.resolved_at) < now - policy.postmortem.complete_within,
            visible,
        )
        .group_by(col(Incident.severity))
    )
    return sum(int(count) for severity, count in rows if policy.postmortem_required(severity))


# Presentation ---------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    return NOT_AVAILABLE if seconds is None else format_elapsed(timedelta(seconds=seconds))


def _window(stats: Stats) -> str:
    plural = "s" if stats.days != 1 else ""
    return f"last {stats.days} day{plural} ({format_utc(stats.since)} to {format_utc(stats.until)})"


def format_table(stats: Stats) -> str:
    """The figures as a plain-text table for a terminal."""
    severities = [*stats.incidents_by_severity.items(), ("Total", stats.incidents)]
    width = max(len("Incidents"), *(len(name) for name, _ in severities))
    lines = [f"Response statistics, {_window(stats)}", ""]
    lines.append(f"{'Incidents':<{width}}  {'Count':>6}")
    lines += [f"{name:<{width}}  {count:>6}" for name, count in severities]
    lines.append("")
    lines.append(f"{'':<6}{'Median':>12}{'p90':>12}{'Incidents':>12}")
    for label, spread in (("MTTA", stats.mtta), ("MTTR", stats.mttr)):
        median, p90 = _duration(spread.median), _duration(spread.p90)
        lines.append(f"{label:<6}{median:>12}{p90:>12}{spread.count:>12}")
    lines.append("")
    lines.append(f"{'Open action items':<21}{stats.open_action_items:>6}")
    lines.append(f"{'Postmortems overdue':<21}{stats.postmortems_overdue:>6}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class _ShownSpread:
    median: str
    p90: str
    count: int


def _shown(spread: Spread) -> _ShownSpread:
    return _ShownSpread(_duration(spread.median), _duration(spread.p90), spread.count)


def render_stats(stats: Stats, renderer: Renderer) -> str:
    """The chat version (Markdown), durations as people say them."""
    return renderer.render(
        "stats.md.j2",
        window=_window(stats),
        total=stats.incidents,
        severities=list(stats.incidents_by_severity.items()),
        mtta=_shown(stats.mtta),
        mttr=_shown(stats.mttr),
        open_action_items=stats.open_action_items,
        postmortems_overdue=stats.postmortems_overdue,
    )
