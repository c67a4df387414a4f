"""The figures of the stats page: `warroom stats`' own (bot/postmortem/stats.py), split
by severity, and the incidents declared each week, of what the viewer may see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.clock import ensure_utc
from bot.policy.schema import Policy
from bot.postmortem.stats import SETTLED, Spread, Stats, compute_stats, incident_milestones
from bot.storage.models import Incident
from bot.web.viewers import Viewer, visible

DEFAULT_DAYS = 90
MAX_DAYS = 3660  # ten years of weeks is still a chart
_WHOLE_NUMBER = re.compile(r"[0-9]{1,5}")


@dataclass(frozen=True)
class SeverityTimes:
    severity: str
    incidents: int
    mtta: Spread
    mttr: Spread


@dataclass(frozen=True)
class WebStats:
    overall: Stats
    by_severity: tuple[SeverityTimes, ...]
    weeks: tuple[tuple[date, int], ...]  # each week's Monday (UTC) and incidents declared


def load_stats(
    session: Session, *, policy: Policy, now: datetime, days: int, viewer: Viewer
) -> WebStats:
    # `compute_stats` takes a chat user for what they may see; a viewer who is nobody in
    # particular gets an id no one has, so only the public incidents count.
    overall = compute_stats(session, policy=policy, now=now, days=days, viewer=viewer.user_id or "")
    in_window = (
        col(Incident.started_at) >= overall.since,
        col(Incident.started_at) <= now,
        visible(viewer),
    )
    by_severity = tuple(
        _severity_times(session, in_window, severity, count)
        for severity, count in overall.incidents_by_severity.items()
    )
    return WebStats(
        overall=overall,
        by_severity=by_severity,
        weeks=_weeks(session, in_window, since=overall.since, now=now),
    )


def _severity_times(
    session: Session, in_window: tuple[ColumnElement[bool], ...], severity: str, count: int
) -> SeverityTimes:
    # The same milestones, measured the same way, as the overall figures.
    milestones = incident_milestones(session, (*in_window, col(Incident.severity) == severity))
    mtta = [(m.acknowledged - m.start).total_seconds() for m in milestones if m.acknowledged]
    mttr = [
        (m.resolved - m.start).total_seconds()
        for m in milestones
        if m.resolved is not None and m.status in SETTLED
    ]
    return SeverityTimes(severity, count, Spread.of(mtta), Spread.of(mttr))


def week_of(moment: datetime) -> date:
    """The Monday (UTC) of the week `moment` falls in."""
    day = ensure_utc(moment).date()
    return day - timedelta(days=day.weekday())


def _weeks(
    session: Session, in_window: tuple[ColumnElement[bool], ...], *, since: datetime, now: datetime
) -> tuple[tuple[date, int], ...]:
    counts: dict[date, int] = {}
    for started in session.scalars(select(col(Incident.started_at)).where(*in_window)):
        week = week_of(started)
        counts[week] = counts.get(week, 0) + 1
    weeks = []
    week, last = week_of(since), week_of(now)
    while week <= last:
        weeks.append((week, counts.get(week, 0)))
        week += timedelta(days=7)
    return tuple(weeks)


def read_days(value: str | None) -> int:
    """The window the page covers (`?days=`); ValueError saying what is accepted."""
    if value is None or not value.strip():
        return DEFAULT_DAYS
    text = value.strip()
    if not _WHOLE_NUMBER.fullmatch(text) or not 1 <= int(text) <= MAX_DAYS:
        shown = text if len(text) <= 12 else text[:11] + "…"
        raise ValueError(f"days must be a whole number from 1 to {MAX_DAYS} (got {shown!r})")
    return int(text)
