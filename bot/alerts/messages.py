"""What the channel sees of alerts: the card's alert line, the coalesced digest, and the
triage card of an alert routed to `notify`. Built from stored state, like every message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.alerts.silences import silence_end
from bot.alerts.store import IncidentAlerts
from bot.chat.port import Button, Message
from bot.incidents.status import incident_key
from bot.incidents.timeline import describe
from bot.storage.models import AlertGroup, Incident, TimelineEntry, TimelineKind
from bot.text.markdown import Trusted, actor_ref, link
from bot.text.templates import Renderer

DIGEST_TEMPLATE = "alert_digest.md.j2"
TRIAGE_TEMPLATE = "alert_triage.md.j2"
# A digest lists this many changes; the rest are counted (the timeline has them all).
DIGEST_LINES = 10

DECLARE_ALERT_ACTION = "incident.declare_from_alert"
IGNORE_ALERT_ACTION = "incident.ignore_alert"
SILENCE_ACTION = "incident.silence"
RESOLVE_FROM_ALERTS_ACTION = "incident.resolve"  # the card's own Resolve button
SILENCE_DURATIONS = ("1h", "4h", "24h")
GROUPS_ON_CARD = 5


@dataclass(frozen=True)
class AlertsOnCard:
    firing: int
    resolved: int
    truncated: int
    links: list[Trusted]
    groups: list[str]
    silenced: Trusted | None  # "until 14:05 UTC by @u", while a silence lasts


def on_card(alerts: IncidentAlerts, *, silenced: Trusted | None = None) -> AlertsOnCard:
    links = [made for label, url in alerts.links if (made := link(label, url)) is not None]
    return AlertsOnCard(
        firing=alerts.firing,
        resolved=alerts.resolved,
        truncated=alerts.truncated,
        links=links,
        groups=alerts.groups[:GROUPS_ON_CARD]
        + (
            [f"… {len(alerts.groups) - GROUPS_ON_CARD} more"]
            if len(alerts.groups) > GROUPS_ON_CARD
            else []
        ),
        silenced=silenced,
    )


def silence_button(incident: Incident, duration: str = "1h") -> Button:
    key = incident_key(incident.number)
    return Button(
        SILENCE_ACTION,
        f"Silence {duration}",
        f"{incident.number}:{duration}",
        confirm=f"Silence the alerts of {key} at Alertmanager for {duration}?",
    )


def alert_digest(
    incident: Incident,
    entries: Sequence[TimelineEntry],
    alerts: IncidentAlerts,
    *,
    renderer: Renderer,
    silenceable: bool,
    through: int,
) -> Message:
    """The alert changes gathered since the last digest, as one message."""
    key = incident_key(incident.number)
    kinds = [str(entry.data.get("alert", "")) for entry in entries]
    all_resolved = incident.alerts_resolved_at is not None and alerts.firing == 0
    shown = [describe(entry) for entry in entries[-DIGEST_LINES:]]
    buttons: list[Button] = []
    if all_resolved and incident.status.is_open:
        buttons.append(
            Button(
                RESOLVE_FROM_ALERTS_ACTION,
                "Resolve incident",
                str(incident.number),
                style="primary",
                confirm=f"Resolve {key} and post the all-clear?",
            )
        )
    elif alerts.firing and silenceable:
        buttons.append(silence_button(incident))
    fallback = (
        f"✅ All alerts resolved for {key}"
        if all_resolved
        else f"🔔 {key}: {len(entries)} alert change(s), {alerts.firing} firing"
    )
    return Message(
        markdown=renderer.render(
            DIGEST_TEMPLATE,
            key=key,
            all_resolved=all_resolved,
            firing=kinds.count("firing"),
            firing_again=kinds.count("firing_again"),
            resolved=kinds.count("resolved"),
            lines=shown,
            earlier=len(entries) - len(shown),
            alerts=on_card(alerts),
            is_open=incident.status.is_open,
        ),
        fallback=fallback,
        marker=f"alert-digest:{key}:{through}",
        buttons=tuple(buttons),
    )


def triage_card(
    group: AlertGroup,
    alerts: IncidentAlerts,
    *,
    renderer: Renderer,
    incident: Incident | None,
    source_name: str,
) -> Message:
    """An alert for someone to look at: Declare incident, or Ignore."""
    state = group.triage_state or "open"
    firing = group.status == "firing"
    buttons: tuple[Button, ...] = ()
    if state == "open" and incident is None:
        value = str(group.id)
        buttons = (
            Button(DECLARE_ALERT_ACTION, "Declare incident", value, style="primary"),
            Button(IGNORE_ALERT_ACTION, "Ignore", value),
        )
    labels = ", ".join(f"{name}={value}" for name, value in sorted(group.labels.items())[:6])
    return Message(
        markdown=renderer.render(
            TRIAGE_TEMPLATE,
            title=group.title,
            severity=group.severity,
            source=source_name,
            labels=labels,
            alerts=on_card(alerts),
            firing=firing,
            state=state,
            incident=incident_key(incident.number) if incident is not None else "",
            by=actor_ref(group.triaged_by) if group.triaged_by else "",
        ),
        fallback=f"🔔 Alert: {group.title} ({group.severity})",
        marker=f"alert-triage:{group.id}",
        buttons=buttons,
    )


def silenced_line(entries: Sequence[TimelineEntry], *, now: datetime) -> Trusted | None:
    """The latest silence still running, as the card says it."""
    for entry in reversed(entries):
        if entry.kind is not TimelineKind.SILENCED:
            continue
        until = datetime.fromisoformat(str(entry.data.get("until")))
        if until <= now:
            return None
        who = actor_ref(entry.actor) if entry.actor else Trusted("warroom")
        return Trusted(
            f"until {silence_end(until, now=now)} by {who} (no alert updates while silenced)"
        )
    return None
