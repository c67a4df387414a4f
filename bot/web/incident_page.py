"""One incident's page: its card as chat shows it, the whole timeline, its alerts, its
diagnostics runs, its action items and its postmortem, read in one transaction.

The card is the chat card itself (bot/incidents/cards.py, templates/incident_active.md.j2)
turned into HTML; the timeline, the action items and the postmortem preview are the
postmortem document's (bot/postmortem/), so the page says what chat and the document say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.alerts.messages import on_card, silenced_line
from bot.alerts.store import incident_alerts
from bot.diagnostics.results import CheckResult
from bot.incidents.cards import incident_card
from bot.incidents.members import roles_of
from bot.incidents.status import incident_key
from bot.incidents.timeline import describe, entries_of
from bot.policy.schema import Policy
from bot.postmortem.document import DocumentData, load_document
from bot.postmortem.document_inline import markdown_to_html, markdown_to_plain
from bot.storage.models import (
    Alert,
    AlertGroup,
    DiagnosticRun,
    TimelineEntry,
    TimelineKind,
)
from bot.text.markdown import actor_ref
from bot.text.templates import Renderer, format_utc
from bot.web.markdown_html import message_to_html
from bot.web.viewers import Viewer, incident_for

# A storm's group can hold thousands of alerts: the page lists the first ones of each.
ALERTS_SHOWN_PER_GROUP = 50

MessageAt = tuple[str, str]  # (channel id, message ref): a message in chat


@dataclass(frozen=True)
class TimelineRowView:
    time: str  # "14:08 UTC"
    who: str  # "@U123", the alert source's name, "warroom"
    what: Markup
    message: MessageAt | None  # the chat message the entry is, if any
    link: str | None  # that message's link, when stored


@dataclass(frozen=True)
class TimelineDayView:
    date: str
    rows: tuple[TimelineRowView, ...]


@dataclass(frozen=True)
class AlertView:
    status: str
    name: str
    labels: str  # "instance=a, job=api"
    summary: str
    links: tuple[tuple[str, str], ...]  # (label, http(s) url)
    started: str


@dataclass(frozen=True)
class AlertGroupView:
    title: str
    source: str
    status: str
    severity: str
    labels: str
    first_seen: str
    last_seen: str
    alerts: tuple[AlertView, ...]
    not_shown: int  # alerts of the group beyond ALERTS_SHOWN_PER_GROUP


@dataclass(frozen=True)
class RunView:
    label: str
    state: str
    requested_by: str
    requested_at: str
    finished_at: str
    checks: tuple[CheckResult, ...]
    message: MessageAt | None  # the run's message in the incident channel


@dataclass(frozen=True)
class IncidentPage:
    number: int
    key: str
    title: str
    private: bool
    is_open: bool
    card: Markup
    card_message: MessageAt | None
    timeline: tuple[TimelineDayView, ...]
    entries: int
    alerts: tuple[AlertGroupView, ...]
    runs: tuple[RunView, ...]
    document: DocumentData  # its action items, and the postmortem preview's figures

    def messages(self) -> set[MessageAt]:
        """Every chat message the page links to whose link is not stored."""
        wanted = {row.message for day in self.timeline for row in day.rows if row.link is None}
        wanted |= {run.message for run in self.runs}
        wanted.add(self.card_message)
        return {message for message in wanted if message is not None}


def load_incident_page(
    session: Session,
    number: int,
    *,
    viewer: Viewer,
    policy: Policy,
    renderer: Renderer,
    now: datetime,
) -> IncidentPage:
    """The page of incident `number`; IncidentNotFound if `viewer` may not see it."""
    incident = incident_for(session, number, viewer)
    incident_id = incident.id or 0
    entries = entries_of(session, incident_id)
    alerts = incident_alerts(session, incident_id)
    card = incident_card(
        incident,
        entries,
        roles=roles_of(session, incident_id),
        policy=policy,
        renderer=renderer,
        now=now,
        alerts=on_card(alerts, silenced=silenced_line(entries, now=now)) if alerts else None,
    )
    document = load_document(session, incident, policy=policy)
    channel = incident.channel_id
    return IncidentPage(
        number=incident.number,
        key=incident_key(incident.number),
        title=incident.title,
        private=incident.private,
        is_open=incident.status.is_open,
        card=message_to_html(card.markdown),
        card_message=(channel, incident.card_ref) if channel and incident.card_ref else None,
        timeline=_timeline(document, entries, channel),
        entries=len(entries),
        alerts=_alert_groups(session, incident_id),
        runs=_runs(session, incident_id, channel),
        document=document,
    )


def _timeline(
    document: DocumentData, entries: Sequence[TimelineEntry], channel: str | None
) -> tuple[TimelineDayView, ...]:
    """The document's timeline, each row with the chat message it came from. The document
    read the entries itself, in the same order: a row is paired with an entry only when it
    says what that entry says (an entry written between the two reads pairs with none)."""
    remaining = iter(entries)
    days = []
    for day in document.timeline:
        rows = []
        for time, who, what in day.rows:
            entry = next(remaining, None)
            message, link = (None, None)
            if entry is not None and describe(entry) == what:
                message, link = _message_of(entry, channel)
            rows.append(TimelineRowView(time, who, markdown_to_html(what), message, link))
        days.append(TimelineDayView(day.date, tuple(rows)))
    return tuple(days)


def _message_of(entry: TimelineEntry, channel: str | None) -> tuple[MessageAt | None, str | None]:
    """A captured message: where it is in chat, and its stored link (http(s) only)."""
    if entry.kind is not TimelineKind.MESSAGE or not entry.source:
        return None, None
    stored = str(entry.data.get("permalink") or "")
    link = stored if stored.lower().startswith(("https://", "http://")) else None
    # The source is "<channel>:<message>"; a channel id may hold colons of its own.
    if channel and entry.source.startswith(channel + ":"):
        message: MessageAt = (channel, entry.source.removeprefix(channel + ":"))
    else:
        where, _, ref = entry.source.rpartition(":")
        message = (where, ref)
    return (message if all(message) else None), link


def _alert_groups(session: Session, incident_id: int) -> tuple[AlertGroupView, ...]:
    groups = session.scalars(
        select(AlertGroup)
        .where(col(AlertGroup.incident_id) == incident_id)
        .order_by(col(AlertGroup.id))
    ).all()
    views = []
    for group in groups:
        alerts = session.scalars(
            select(Alert)
            .where(col(Alert.group_id) == group.id)
            # Firing first, then by when each started.
            .order_by(col(Alert.status) != "firing", col(Alert.starts_at), col(Alert.id))
            .limit(ALERTS_SHOWN_PER_GROUP + 1)
        ).all()
        shown = alerts[:ALERTS_SHOWN_PER_GROUP]
        total = len(alerts)
        if total > ALERTS_SHOWN_PER_GROUP:
            total = _count_alerts(session, group.id or 0)
        views.append(
            AlertGroupView(
                title=group.title,
                source=group.source,
                status=group.status,
                severity=group.severity,
                labels=_labels(group.group_labels),
                first_seen=format_utc(group.first_seen_at),
                last_seen=format_utc(group.last_seen_at),
                alerts=tuple(_alert(alert) for alert in shown),
                not_shown=total - len(shown),
            )
        )
    return tuple(views)


def _count_alerts(session: Session, group_id: int) -> int:
    count = session.scalar(
        select(func.count()).select_from(Alert).where(col(Alert.group_id) == group_id)
    )
    return int(count or 0)


def _alert(alert: Alert) -> AlertView:
    labels = {k: v for k, v in alert.labels.items() if k != "alertname"}
    links = tuple(
        (str(pair[0]), str(pair[1]))
        for pair in alert.links
        if len(pair) == 2 and str(pair[1]).lower().startswith(("https://", "http://"))
    )
    annotations = alert.annotations
    return AlertView(
        status=alert.status,
        name=alert.labels.get("alertname", alert.fingerprint),
        labels=_labels(labels),
        summary=annotations.get("summary") or annotations.get("description") or "",
        links=links,
        started=format_utc(alert.starts_at) if alert.starts_at else "",
    )


def _labels(labels: dict[str, str]) -> str:
    return ", ".join(f"{name}={value}" for name, value in sorted(labels.items()))


def _runs(session: Session, incident_id: int, channel: str | None) -> tuple[RunView, ...]:
    runs = session.scalars(
        select(DiagnosticRun)
        .where(col(DiagnosticRun.incident_id) == incident_id)
        .order_by(col(DiagnosticRun.requested_at).desc(), col(DiagnosticRun.id).desc())
    ).all()
    return tuple(
        RunView(
            label=run.label,
            state=run.state.value,
            requested_by=markdown_to_plain(actor_ref(run.requested_by)),
            requested_at=format_utc(run.requested_at),
            finished_at=format_utc(run.finished_at) if run.finished_at else "",
            checks=tuple(_checks(run.results)),
            message=(channel, run.message_ref) if channel and run.message_ref else None,
        )
        for run in runs
    )


def _checks(results: Sequence[dict[str, object]]) -> list[CheckResult]:
    shown = []
    for result in results:
        try:
            shown.append(CheckResult.from_json(result))
        except ValueError:  # an outcome this version does not know: left out, not a 500
            continue
    return shown
