"""Messages the core posts, built from stored state (chat is a view of the database)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.alerts.messages import AlertsOnCard, silence_button
from bot.chat.port import Button, Message
from bot.diagnostics.results import Tally
from bot.incidents.status import Status, incident_key
from bot.incidents.timeline import TimelineLine, lines
from bot.policy.schema import Policy
from bot.storage.models import Incident, IncidentRole, TimelineEntry, TimelineKind
from bot.text.durations import format_elapsed
from bot.text.markdown import Trusted, channel_ref, user_ref
from bot.text.templates import Renderer, format_hhmm

CARD_TEMPLATE = "incident_active.md.j2"
ANNOUNCEMENT_TEMPLATE = "announcement.md.j2"
ALL_CLEAR_TEMPLATE = "all_clear.md.j2"
CHANNEL_READY_TEMPLATE = "channel_ready.md.j2"
# The card shows the latest entries; the full timeline is one command away.
CARD_TIMELINE_LINES = 10


@dataclass(frozen=True)
class CardView:
    key: str
    title: str
    severity: str
    severity_description: str
    impact: str
    status: str
    is_open: bool
    started_at: datetime
    next_update_at: datetime | None
    overdue: str  # "overdue by 4 min", or "" while on time
    timeline: list[TimelineLine]
    earlier_count: int
    acknowledged: Trusted | None
    resolution: str
    roles: list[tuple[str, Trusted]]
    alerts: AlertsOnCard | None = None  # for an incident with alerts attached
    last_diagnostics: str = ""  # "14:02 UTC · runbook Application unresponsive · 2 passed"


POSTMORTEM_ACTION = "incident.postmortem"


def card_marker(incident: Incident) -> str:
    return f"card:{incident_key(incident.number)}"


def card_view(
    incident: Incident,
    entries: Sequence[TimelineEntry],
    *,
    roles: Sequence[IncidentRole] = (),
    policy: Policy,
    now: datetime | None = None,
    alerts: AlertsOnCard | None = None,
) -> CardView:
    timeline = lines(entries)
    shown = timeline[-CARD_TIMELINE_LINES:]
    try:
        description = policy.severity(incident.severity).description
    except LookupError:
        description = ""  # a severity since removed from the policy still renders
    return CardView(
        key=incident_key(incident.number),
        title=incident.title,
        severity=incident.severity,
        severity_description=description,
        impact=incident.impact,
        status=incident.status.label,
        is_open=incident.status.is_open,
        started_at=incident.started_at,
        next_update_at=incident.next_update_at if incident.status.is_open else None,
        overdue=_overdue(incident, now),
        timeline=shown,
        earlier_count=len(timeline) - len(shown),
        acknowledged=_acknowledged(incident),
        resolution=incident.resolution if incident.status is Status.RESOLVED else "",
        roles=[(held.role.capitalize(), user_ref(held.user_id)) for held in roles],
        alerts=alerts,
        last_diagnostics=_last_diagnostics(entries),
    )


def _last_diagnostics(entries: Sequence[TimelineEntry]) -> str:
    runs = [entry for entry in entries if entry.kind is TimelineKind.DIAGNOSTICS]
    if not runs:
        return ""
    last = max(runs, key=lambda entry: (entry.at, entry.id or 0))
    tally = last.data.get("tally")
    counts = Tally(**tally).words() if isinstance(tally, dict) else "?"
    return f"{format_hhmm(last.at)} UTC · {last.data.get('label', 'diagnostics')} · {counts}"


def _overdue(incident: Incident, now: datetime | None) -> str:
    deadline = incident.next_update_at
    if now is None or deadline is None or not incident.status.is_open or now <= deadline:
        return ""
    return f"overdue by {format_elapsed(now - deadline)}"


def _acknowledged(incident: Incident) -> Trusted | None:
    if incident.acknowledged_at is None:
        return None
    after = format_elapsed(incident.acknowledged_at - incident.started_at)
    return Trusted(f"by {user_ref(incident.acknowledged_by or '')} after {after}")


def incident_card(
    incident: Incident,
    entries: Sequence[TimelineEntry],
    *,
    roles: Sequence[IncidentRole] = (),
    policy: Policy,
    renderer: Renderer,
    now: datetime | None = None,
    alerts: AlertsOnCard | None = None,
    silenceable: bool = False,
) -> Message:
    view = card_view(incident, entries, roles=roles, policy=policy, now=now, alerts=alerts)
    icon = "🔴" if view.is_open else "✅"
    buttons = card_buttons(incident, policy)
    if silenceable and buttons and alerts is not None and alerts.firing:
        buttons = (*buttons[:-1], silence_button(incident), buttons[-1])
    return Message(
        markdown=renderer.render(CARD_TEMPLATE, card=view),
        fallback=f"{icon} {view.key} [{view.severity}] {view.title} · {view.status}",
        marker=card_marker(incident),
        buttons=buttons,
    )


ACKNOWLEDGE_ACTION = "incident.acknowledge"
POST_UPDATE_ACTION = "incident.post_update"
ESCALATE_ACTION = "incident.escalate"
RESOLVE_ACTION = "incident.resolve"
DIAGNOSE_ACTION = "incident.run_diagnostics"


def diagnostics_button(incident: Incident, policy: Policy) -> Button | None:
    """Run the runbook the incident's alert route attached, else diagnostics (a picker
    when there is more than one runbook to choose from)."""
    diagnostics = policy.diagnostics
    if not diagnostics.checks:
        return None
    runbook = diagnostics.runbook(incident.runbook) if incident.runbook else None
    if runbook is not None:
        return Button(
            DIAGNOSE_ACTION, f"Run runbook: {runbook.label()}", f"{incident.number}:{runbook.name}"
        )
    return Button(DIAGNOSE_ACTION, "Run diagnostics", str(incident.number))


def card_buttons(incident: Incident, policy: Policy | None = None) -> tuple[Button, ...]:
    """What a responder can do from the card: acknowledge once, resolve while open."""
    if not incident.status.is_open:
        return ()
    value, key = str(incident.number), incident_key(incident.number)
    buttons = []
    if incident.acknowledged_at is None:
        buttons.append(Button(ACKNOWLEDGE_ACTION, "Acknowledge", value, style="primary"))
    buttons.append(Button(POST_UPDATE_ACTION, "Post update", value))
    buttons.append(
        Button(
            ESCALATE_ACTION,
            "Escalate",
            value,
            confirm=f"Call the next level of the escalation path for {key}?",
        )
    )
    diagnose = diagnostics_button(incident, policy) if policy is not None else None
    if diagnose is not None:
        buttons.append(diagnose)
    buttons.append(
        Button(
            RESOLVE_ACTION,
            "Resolve",
            value,
            style="danger",
            confirm=f"Resolve {key} and post the all-clear?",
        )
    )
    return tuple(buttons)


def all_clear(incident: Incident, *, renderer: Renderer, policy: Policy) -> Message:
    """The runbook's all-clear message for a resolved incident, with when its
    postmortem is due (the policy's `postmortem`), and a button to write it."""
    key = incident_key(incident.number)
    resolved_at = incident.resolved_at or incident.started_at
    due = policy.postmortem
    return Message(
        markdown=renderer.render(
            ALL_CLEAR_TEMPLATE,
            key=key,
            title=incident.title,
            severity=incident.severity,
            impact=incident.impact,
            resolution=incident.resolution,
            started_at=incident.started_at,
            resolved_at=resolved_at,
            duration=format_elapsed(resolved_at - incident.started_at),
            postmortem_required=policy.postmortem_required(incident.severity),
            meet_by=resolved_at + due.meet_within,
            complete_by=resolved_at + due.complete_within,
        ),
        buttons=(Button(POSTMORTEM_ACTION, "Write the postmortem", str(incident.number)),),
        fallback=f"✅ [RESOLVED] {key}: {incident.title}",
        marker=f"all-clear:{key}:{int(resolved_at.timestamp())}",
    )


def announcement_marker(incident: Incident) -> str:
    return f"announcement:{incident_key(incident.number)}"


def announcement(incident: Incident, *, renderer: Renderer) -> Message:
    """The announce channel's one message about a public incident: posted when declared,
    edited in place as the incident moves (never a second message)."""
    key = incident_key(incident.number)
    ended = incident.resolved_at if not incident.status.is_open else None
    duration = format_elapsed(ended - incident.started_at) if ended is not None else ""
    if incident.status.is_open:
        fallback = f"🔴 {key} declared ({incident.severity}): {incident.title}"
    else:
        after = f" after {duration}" if duration else ""
        fallback = f"✅ {key} {incident.status.value}{after}: {incident.title}"
    return Message(
        markdown=renderer.render(
            ANNOUNCEMENT_TEMPLATE,
            key=key,
            severity=incident.severity,
            title=incident.title,
            status=incident.status.label,
            is_open=incident.status.is_open,
            duration=duration,
            channel=channel_ref(incident.channel_id or ""),
        ),
        fallback=fallback,
        marker=announcement_marker(incident),
    )


def channel_ready(incident: Incident, *, renderer: Renderer) -> Message:
    """The declarer's pointer to the incident's channel, once it is open."""
    key = incident_key(incident.number)
    return Message(
        markdown=renderer.render(
            CHANNEL_READY_TEMPLATE, key=key, channel=channel_ref(incident.channel_id or "")
        ),
        fallback=f"{key} is open in #{incident.channel_name or incident.channel_id}",
    )
