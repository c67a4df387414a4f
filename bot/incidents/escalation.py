"""The escalation path: reaching a level (invite, notify, log) and when the next automatic
step is due (the level's `after`, or the acknowledgement SLA running out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.chat.platforms import platform_of
from bot.delivery.outbox import DeliveryKind, enqueue
from bot.incidents.access import write_entry
from bot.incidents.members import add_member
from bot.incidents.status import incident_key
from bot.policy.business_hours import next_business_day_deadline
from bot.policy.schema import EscalationLevel, Policy
from bot.storage.models import Delivery, Incident, TimelineKind
from bot.text.markdown import group_ref, user_ref
from bot.text.templates import Renderer

ESCALATED_TEMPLATE = "escalated.md.j2"


@dataclass(frozen=True)
class Reacher:
    """Reaches a level: logs it, invites and notifies its people, pages its pagers."""

    renderer: Renderer

    def reach(
        self,
        session: Session,
        incident: Incident,
        level: EscalationLevel,
        *,
        actor: str | None,
        reason: str,
        now: datetime,
    ) -> None:
        """Log the escalation, invite the level's contacts and tell the channel who was
        called and why. `actor` None: warroom escalated on its own (a timer)."""
        write_entry(
            session,
            incident,
            TimelineKind.ESCALATED,
            now,
            actor,
            text=reason,
            data={"level": level.level, "name": level.name},
        )
        contacts = level.contacts
        pages = contacts.pager_targets()
        # Each platform's own people: a Teams incident calls the level's `teams_users`
        # (Slack's user groups mean nothing there).
        on_teams = platform_of(incident.channel_id or incident.declared_in) == "teams"
        people = contacts.teams_users if on_teams else contacts.users
        groups = () if on_teams else contacts.usergroups
        if not (people or groups or pages):
            return  # a step that calls nobody is logged on the timeline, not announced
        called: list[str] = [user_ref(u) for u in people]
        called += [group_ref(g) for g in groups]
        called += [f"the {next(iter(p))} pager" for p in pages]
        key = incident_key(incident.number)
        markdown = self.renderer.render(
            ESCALATED_TEMPLATE,
            key=key,
            level=level.label(),
            by=user_ref(actor) if actor else "warroom",
            reason=reason,
            called=called,
        )
        owed: list[tuple[DeliveryKind, dict[str, object]]] = []
        if people:
            owed.append((DeliveryKind.INVITE, {"users": list(people)}))
        if groups:
            owed.append((DeliveryKind.INVITE_GROUPS, {"groups": list(groups)}))
        fallback = f"{key} escalated to {level.label()}"
        owed.append((DeliveryKind.POST_MESSAGE, {"markdown": markdown, "fallback": fallback}))
        for target in pages:
            page: dict[str, object] = {"action": "trigger", "target": target, "level": level.level}
            owed.append((DeliveryKind.PAGE, page))
        for user in people:
            add_member(session, incident_id=incident.id or 0, user_id=user, now=now)
        enqueue(session, incident_id=incident.id or 0, owed=owed, now=now)


def applies(level: EscalationLevel, severity: str) -> bool:
    return not level.severities or severity in level.severities


def next_path_step(incident: Incident, policy: Policy) -> tuple[int, EscalationLevel] | None:
    """The next level the automatic path will reach for this severity, if any."""
    for index in range(incident.escalation_level, len(policy.escalation)):
        level = policy.escalation[index]
        if applies(level, incident.severity):
            return index, level
    return None


def due_path_steps(
    incident: Incident, policy: Policy, now: datetime
) -> list[tuple[int, EscalationLevel]]:
    """The levels the automatic path has reached by `now` beyond the incident's current
    one, in order (at a declaration: those with `after: 0s`). Stops at the first level
    for this severity that is not due yet, as the path climbs one level at a time."""
    due: list[tuple[int, EscalationLevel]] = []
    for index in range(incident.escalation_level, len(policy.escalation)):
        level = policy.escalation[index]
        if not applies(level, incident.severity):
            continue
        if incident.started_at + level.after > now:
            break
        due.append((index, level))
    return due


def ack_deadline(incident: Incident, policy: Policy) -> datetime | None:
    """When an unacknowledged incident breaks its severity's response time."""
    if incident.acknowledged_at is not None or incident.sla_breached:
        return None
    try:
        response = policy.severity(incident.severity).response
    except LookupError:
        return None
    if isinstance(response, timedelta):
        return incident.started_at + response
    return next_business_day_deadline(incident.started_at, policy.business_hours)


def next_escalation_due(incident: Incident, policy: Policy) -> datetime | None:
    """When the next automatic escalation step is due (None: nothing more to do)."""
    if not incident.status.is_open:
        return None
    due = [d for d in (ack_deadline(incident, policy),) if d is not None]
    step = next_path_step(incident, policy)
    if step is not None:
        due.append(incident.started_at + step[1].after)
    return min(due) if due else None


def follow_up_pages(session: Session, incident: Incident, action: str, now: datetime) -> None:
    """Tell every pager this incident triggered that it was acknowledged or resolved."""
    triggered = session.scalars(
        select(col(Delivery.payload)).where(
            col(Delivery.incident_id) == incident.id, col(Delivery.kind) == DeliveryKind.PAGE.value
        )
    )
    targets: list[dict[str, object]] = []
    for payload in triggered:
        if payload.get("action") == "trigger" and payload["target"] not in targets:
            targets.append(payload["target"])
    owed = [(DeliveryKind.PAGE, {"action": action, "target": target}) for target in targets]
    if owed:
        enqueue(session, incident_id=incident.id or 0, owed=owed, now=now)
