"""The postmortem's follow-through: after a resolution, the channel is told when the
meeting is due and, if the document is not complete by its deadline, reminded until the
incident is closed.

The next reminder's time is stored on the incident (`followup_at`), set by every change
that moves the incident into or out of Resolved, and fired by the timers like the update
reminders: locked with SKIP LOCKED, so two processes never remind twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.delivery.outbox import DeliveryKind, enqueue
from bot.incidents.members import holder_of
from bot.incidents.status import Status, incident_key
from bot.policy.schema import Policy
from bot.storage.models import Incident, Postmortem
from bot.text.durations import format_elapsed
from bot.text.markdown import actor_ref
from bot.text.templates import Renderer

log = logging.getLogger(__name__)

REMINDER_TEMPLATE = "postmortem_reminder.md.j2"


def schedule_followup(
    incident: Incident, policy: Policy, *, was: Status, was_severity: str
) -> None:
    """After a change: when the next follow-through reminder is due. Resolving starts
    the clock; reopening or closing stops it; a change of severity may make the
    postmortem required (or optional) while resolved."""
    if (
        incident.status is not Status.RESOLVED
        or incident.resolved_at is None
        or not policy.postmortem_required(incident.severity)
    ):
        incident.followup_at = None
    elif was is not Status.RESOLVED or (
        incident.followup_at is None and was_severity != incident.severity
    ):
        incident.followup_at = incident.resolved_at + policy.postmortem.meet_within


def is_overdue(incident: Incident, policy: Policy, now: datetime) -> bool:
    """A required postmortem past its deadline whose incident is not closed yet."""
    return (
        incident.status is Status.RESOLVED
        and incident.resolved_at is not None
        and policy.postmortem_required(incident.severity)
        and incident.resolved_at + policy.postmortem.complete_within < now
    )


class PostmortemFollowup:
    """The timers' share of the follow-through (see bot.timers.ticker.DueWork)."""

    def __init__(self, *, policy: Policy, renderer: Renderer) -> None:
        self._policy = policy
        self._renderer = renderer

    def fire_due(self, session: Session, now: datetime, limit: int) -> int:
        due = list(
            session.scalars(
                select(Incident)
                .where(
                    col(Incident.status) == Status.RESOLVED,
                    col(Incident.followup_at) <= now,
                )
                .order_by(col(Incident.followup_at))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for incident in due:
            self._remind(session, incident, now)
        return len(due)

    def earliest(self, session: Session) -> datetime | None:
        return session.scalar(
            select(func.min(col(Incident.followup_at))).where(
                col(Incident.status) == Status.RESOLVED
            )
        )

    def _remind(self, session: Session, incident: Incident, now: datetime) -> None:
        assert incident.id is not None and incident.resolved_at is not None
        due = self._policy.postmortem
        meet_by = incident.resolved_at + due.meet_within
        complete_by = incident.resolved_at + due.complete_within
        written = session.scalar(
            select(col(Postmortem.id)).where(col(Postmortem.incident_id) == incident.id)
        )
        overdue = now >= complete_by
        # Past the meeting's deadline, the next word is at the document's; past that,
        # every `remind_every` until the incident is closed.
        incident.followup_at = now + due.remind_every if overdue else complete_by
        incident.version += 1
        if not overdue and written is not None:
            return  # being written: nothing to chase before the document's deadline
        key = incident_key(incident.number)
        commander = holder_of(session, incident_id=incident.id, role="commander")
        who = commander.user_id if commander else incident.acknowledged_by
        markdown = self._renderer.render(
            REMINDER_TEMPLATE,
            key=key,
            overdue=overdue,
            written=written is not None,
            meet_by=meet_by,
            complete_by=complete_by,
            late=format_elapsed(now - complete_by) if overdue else "",
            who=actor_ref(who or incident.declared_by),
        )
        fallback = f"{key} postmortem overdue" if overdue else f"{key} postmortem due"
        enqueue(
            session,
            incident_id=incident.id,
            owed=[(DeliveryKind.POST_MESSAGE, {"markdown": markdown, "fallback": fallback})],
            now=now,
        )
        log.info("reminded %s: postmortem %s", key, "overdue" if overdue else "meeting due")
