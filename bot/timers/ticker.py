"""Timers that never miss: due work is read from the stored incidents, not kept in memory.

Each process ticks (see schedule.py) and fires what is due in one transaction per batch:
the due incidents are locked with SELECT … FOR UPDATE SKIP LOCKED, the reminder is
queued in the outbox and the next due time is written back before the commit. Several
processes on one Postgres therefore never fire the same reminder twice, and a process
that was down fires what came due meanwhile on its first tick. SQLite: one process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Mapped, Session
from sqlmodel import col

from bot.clock import Clock
from bot.delivery.outbox import DeliveryKind, enqueue
from bot.incidents.access import card_refresh_waiting
from bot.incidents.escalation import Reacher, ack_deadline, next_escalation_due, next_path_step
from bot.incidents.members import holder_of
from bot.incidents.status import Status, incident_key
from bot.observability.metrics import Metrics
from bot.policy.schema import Policy
from bot.storage.database import Database
from bot.storage.models import Incident
from bot.text.durations import format_elapsed
from bot.text.markdown import actor_ref
from bot.text.templates import Renderer

log = logging.getLogger(__name__)

OPEN = (Status.INVESTIGATING, Status.MITIGATING)
# The earliest of each kind of deadline; both columns are indexed, like the status.
_NEXT_DEADLINES = select(
    func.min(col(Incident.next_reminder_at)), func.min(col(Incident.next_escalation_at))
).where(col(Incident.status).in_(OPEN))


@dataclass(frozen=True)
class Fired:
    """What one tick fired: incidents escalated, reminders queued, other due work."""

    escalations: int
    reminders: int
    other: int = 0


class DueWork(Protocol):
    """Timed work of another capability (the postmortem's follow-through, action items'
    reminders), fired by the same ticker under the same rules: what is due is read from
    the database, locked with SKIP LOCKED and moved on before the commit."""

    def fire_due(self, session: Session, now: datetime, limit: int) -> int:
        """Fire at most `limit` of what is due at `now`; how many fired."""
        ...

    def earliest(self, session: Session) -> datetime | None:
        """When the next of it is due (past included), if any."""
        ...


class Timers:
    def __init__(
        self,
        *,
        db: Database,
        policy: Policy,
        clock: Clock,
        renderer: Renderer,
        on_commit: Callable[[], None] = lambda: None,
        batch_size: int = 200,
        more: Sequence[DueWork] = (),
        metrics: Metrics | None = None,
    ) -> None:
        self._more = tuple(more)
        self._metrics = metrics or Metrics()
        self._db = db
        self._policy = policy
        self._clock = clock
        self._renderer = renderer
        self._reacher = Reacher(renderer=renderer)
        self._on_commit = on_commit
        self._batch_size = batch_size

    async def tick(self) -> Fired:
        """Fire everything due now."""
        escalations = await self._drain(self._fire_escalations)
        reminders = await self._drain(self._fire_reminders)
        other = 0
        for work in self._more:
            other += await self._drain(self._firing(work))
        return Fired(escalations=escalations, reminders=reminders, other=other)

    def _firing(self, work: DueWork) -> Callable[[Session], int]:
        return lambda session: work.fire_due(session, self._clock(), self._batch_size)

    async def _drain(self, fire: Callable[[Session], int]) -> int:
        fired = 0
        while True:
            batch = await self._db.transaction(fire)
            fired += batch
            if batch:
                self._on_commit()
            if batch < self._batch_size:
                return fired

    def _fire_escalations(self, session: Session) -> int:
        return self._fire_due(session, col(Incident.next_escalation_at), self._escalate)

    def _fire_reminders(self, session: Session) -> int:
        return self._fire_due(session, col(Incident.next_reminder_at), self._remind)

    def _fire_due(
        self,
        session: Session,
        due_at: Mapped[datetime | None],
        fire: Callable[[Session, Incident, datetime], None],
    ) -> int:
        """Lock a batch of open incidents whose `due_at` has passed and fire each."""
        now = self._clock()
        due = list(
            session.scalars(
                select(Incident)
                .where(col(Incident.status).in_(OPEN), due_at <= now)
                .order_by(due_at)
                .limit(self._batch_size)
                .with_for_update(skip_locked=True)
            )
        )
        for incident in due:
            fire(session, incident, now)
        return len(due)

    def _escalate(self, session: Session, incident: Incident, now: datetime) -> None:
        """Every automatic step now due: the ack SLA (once), then the path's levels."""
        self._metrics.timer_fired(session, "escalation", due=incident.next_escalation_at, now=now)
        path = self._policy.escalation
        deadline = ack_deadline(incident, self._policy)
        if deadline is not None and deadline <= now:
            incident.sla_breached = True
            if incident.escalation_level < len(path):
                level = path[incident.escalation_level]
                incident.escalation_level += 1
                waited = format_elapsed(deadline - incident.started_at)
                reason = f"not acknowledged within {waited} ({incident.severity} response time)"
                self._reacher.reach(session, incident, level, actor=None, reason=reason, now=now)
        while (step := next_path_step(incident, self._policy)) is not None:
            index, level = step
            if incident.started_at + level.after > now:
                break
            incident.escalation_level = index + 1
            reason = (
                f"unresolved after {format_elapsed(level.after)}" if level.after else "declared"
            )
            self._reacher.reach(session, incident, level, actor=None, reason=reason, now=now)
        incident.next_escalation_at = next_escalation_due(incident, self._policy)
        incident.version += 1
        if not card_refresh_waiting(session, incident.id or 0):
            enqueue(
                session,
                incident_id=incident.id or 0,
                owed=[(DeliveryKind.UPDATE_CARD, {})],
                now=now,
            )

    def _remind(self, session: Session, incident: Incident, now: datetime) -> None:
        self._metrics.timer_fired(session, "reminder", due=incident.next_reminder_at, now=now)
        key = incident_key(incident.number)
        incident_id = incident.id or 0
        deadline = incident.next_update_at or now
        commander = holder_of(session, incident_id=incident_id, role="commander")
        markdown = self._renderer.render(
            "reminder.md.j2",
            key=key,
            due_at=deadline,
            overdue=format_elapsed(now - deadline),
            # Someone who can post the update: the commander, whoever acknowledged, or
            # the declarer (an alert source's name when an alert opened it).
            who=actor_ref(
                commander.user_id if commander else incident.acknowledged_by or incident.declared_by
            ),
        )
        cadence = self._policy.severity(incident.severity).update_every
        # Again every cadence while overdue; an update or the resolution resets it.
        incident.next_reminder_at = now + cadence if cadence else None
        incident.version += 1
        owed: list[tuple[DeliveryKind, dict[str, object]]] = [
            (DeliveryKind.POST_MESSAGE, {"markdown": markdown, "fallback": f"{key} update overdue"})
        ]
        if not card_refresh_waiting(session, incident_id):
            owed.append((DeliveryKind.UPDATE_CARD, {}))
        enqueue(session, incident_id=incident_id, owed=owed, now=now)
        log.info("reminded %s: update overdue since %s", key, deadline)

    async def next_deadline(self) -> datetime | None:
        """When the next reminder or escalation of an open incident is due (None: none).

        Past deadlines count: whatever is due and not fired yet (another process may be
        firing it) is what the ticker must look at first."""

        def earliest(session: Session) -> datetime | None:
            due = [d for d in session.execute(_NEXT_DEADLINES).one() if d is not None]
            due += [d for work in self._more if (d := work.earliest(session)) is not None]
            return min(due) if due else None

        return await self._db.transaction(earliest)
