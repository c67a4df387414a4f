"""The changes of an incident's status as steps of a use case's transaction: resolve,
reopen, any move through the transition table, and the rule that updates are for open
incidents. Used by the lifecycle's use cases and by alerts that resolve or reopen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.delivery.outbox import DeliveryKind, enqueue
from bot.errors import UserError
from bot.incidents.access import Change, move, write_entry
from bot.incidents.escalation import follow_up_pages
from bot.incidents.status import Status, incident_key
from bot.policy.schema import Policy
from bot.storage.models import Incident, TimelineKind, set_next_update
from bot.text.durations import format_elapsed
from bot.text.markdown import single_line


def resolving(*, actor: str, resolution: str = "") -> Change:
    """The resolution: the all-clear owed, the pager told, no more reminders."""
    resolution = single_line(resolution)

    def change(session: Session, incident: Incident, now: datetime) -> str:
        incident.status = move(incident, Status.RESOLVED)
        incident.resolved_at, incident.resolution = now, resolution
        follow_up_pages(session, incident, "resolve", now)
        set_next_update(incident, None)
        write_entry(session, incident, TimelineKind.RESOLVED, now, actor, text=resolution)
        assert incident.id is not None
        enqueue(session, incident_id=incident.id, owed=[(DeliveryKind.POST_ALL_CLEAR, {})], now=now)
        took = format_elapsed(now - incident.started_at)
        return f"{incident_key(incident.number)} resolved after {took}"

    return change


def reopening(*, actor: str, policy: Policy, reason: str = "") -> Change:
    """Back to Investigating, with the update cadence started again."""

    def change(session: Session, incident: Incident, now: datetime) -> str:
        incident.status = move(incident, Status.INVESTIGATING)
        incident.resolved_at, incident.resolution = None, ""
        cadence = policy.severity(incident.severity).update_every
        set_next_update(incident, now + cadence if cadence else None)
        write_entry(session, incident, TimelineKind.REOPENED, now, actor, text=reason)
        return f"{incident_key(incident.number)} reopened: back to Investigating"

    return change


def ensure_open_for_updates(incident: Incident) -> None:
    """Updates are for open incidents: a resolved one is reopened first."""
    if not incident.status.is_open:
        key, status = incident_key(incident.number), incident.status.label
        raise UserError(f"{key} is {status}: reopen it to post updates")


def change_status(
    session: Session,
    incident: Incident,
    status: Status,
    *,
    now: datetime,
    actor: str,
    note: str = "",
) -> Status:
    """Move through the transition table and log it; returns the status left behind."""
    old = incident.status
    incident.status = move(incident, status)
    write_entry(
        session,
        incident,
        TimelineKind.STATUS_CHANGED,
        now,
        actor,
        text=note,
        data={"old": old.label, "new": status.label},
    )
    return old
