"""Action items: the follow-up work an incident leaves (a new alert, a fix, a runbook
change), numbered within the incident, with an owner and a due date.

An owner is reminded in a direct message once a day from the morning after the due date
(the team's business hours' time zone and start) until the item is done; an item
without an owner is chased in the incident's channel instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.clock import Clock
from bot.delivery.outbox import DeliveryKind, enqueue
from bot.errors import UserError
from bot.incidents.access import IncidentRef, Outcome, write_entry
from bot.incidents.lifecycle import IncidentLifecycle
from bot.incidents.members import add_member
from bot.incidents.status import incident_key
from bot.incidents.views import visible_incident
from bot.policy.schema import Policy
from bot.storage.database import Database
from bot.storage.models import ActionItem, Incident, TimelineKind
from bot.text.markdown import Trusted, user_ref
from bot.text.templates import Renderer

log = logging.getLogger(__name__)

LIST_TEMPLATE = "action_items.md.j2"
REMINDER_TEMPLATE = "action_item_reminder.md.j2"
REMIND_EVERY = timedelta(days=1)


def first_reminder(due: date, policy: Policy) -> datetime:
    """The morning after the due date, when the team's day starts."""
    hours = policy.business_hours
    hour, minute = (int(part) for part in hours.start.split(":"))
    local = datetime.combine(due + timedelta(days=1), time(hour, minute), ZoneInfo(hours.timezone))
    return local.astimezone(UTC)


def items_of(session: Session, incident_id: int) -> list[ActionItem]:
    return list(
        session.scalars(
            select(ActionItem)
            .where(col(ActionItem.incident_id) == incident_id)
            .order_by(col(ActionItem.number))
        )
    )


@dataclass(frozen=True)
class ListedItem:
    number: int
    text: str
    owner: Trusted | None
    due: str
    done: bool
    overdue: bool


class ActionItems:
    def __init__(
        self,
        *,
        db: Database,
        policy: Policy,
        clock: Clock,
        lifecycle: IncidentLifecycle,
        renderer: Renderer,
    ) -> None:
        self._db = db
        self._policy = policy
        self._clock = clock
        self._lifecycle = lifecycle
        self._renderer = renderer

    async def add(
        self, ref: IncidentRef, *, actor: str, text: str, owner: str | None, due: date | None
    ) -> Outcome:
        text = " ".join(text.split())
        if not text:
            raise UserError("an action item needs some text", usage="action")

        def change(session: Session, incident: Incident, now: datetime) -> str:
            assert incident.id is not None
            if due is not None and due < now.date():
                raise UserError(f"{due.isoformat()} is past: give a due date from today on")
            last = session.scalar(
                select(func.max(col(ActionItem.number))).where(
                    col(ActionItem.incident_id) == incident.id
                )
            )
            number = (last or 0) + 1
            reminder = first_reminder(due, self._policy) if due is not None else None
            session.add(
                ActionItem(
                    incident_id=incident.id,
                    number=number,
                    text=text,
                    owner=owner,
                    due=due,
                    created_by=actor,
                    created_at=now,
                    next_reminder_at=reminder,
                )
            )
            if owner is not None:  # an owner can see (and tick off) what they own
                add_member(session, incident_id=incident.id, user_id=owner, now=now)
            write_entry(
                session,
                incident,
                TimelineKind.ACTION_ITEM,
                now,
                actor,
                text=text,
                data={
                    "op": "added",
                    "number": number,
                    "owner": owner,
                    "due": due.isoformat() if due else None,
                },
            )
            return f"Action item {number} added to {incident_key(incident.number)}"

        return await self._lifecycle.apply(ref, change, action="action", actor=actor)

    async def done(self, ref: IncidentRef, *, actor: str, number: int) -> Outcome:
        def change(session: Session, incident: Incident, now: datetime) -> str:
            key = incident_key(incident.number)
            item = session.scalar(
                select(ActionItem).where(
                    col(ActionItem.incident_id) == incident.id, col(ActionItem.number) == number
                )
            )
            if item is None:
                raise UserError(f"{key} has no action item {number} (`/incident action list`)")
            if item.done_at is not None:
                raise UserError(f"action item {number} of {key} is already done")
            item.done_at, item.done_by, item.next_reminder_at = now, actor, None
            write_entry(
                session,
                incident,
                TimelineKind.ACTION_ITEM,
                now,
                actor,
                text=item.text,
                data={"op": "done", "number": number},
            )
            return f"Action item {number} of {key} done"

        return await self._lifecycle.apply(ref, change, action="action", actor=actor)

    async def listing(self, ref: IncidentRef, *, viewer: str) -> str:
        today = self._clock().date()

        def read(session: Session) -> tuple[Incident, list[ActionItem]]:
            incident = visible_incident(session, ref, viewer)
            return incident, items_of(session, incident.id or 0)

        incident, items = await self._db.transaction(read, urgent=True)
        listed = [
            ListedItem(
                number=item.number,
                text=item.text,
                owner=user_ref(item.owner) if item.owner else None,
                due=item.due.isoformat() if item.due else "",
                done=item.done_at is not None,
                overdue=item.done_at is None and item.due is not None and item.due < today,
            )
            for item in items
        ]
        return self._renderer.render(LIST_TEMPLATE, key=incident_key(incident.number), items=listed)


class ActionItemReminders:
    """The timers' share of action items (see bot.timers.ticker.DueWork)."""

    def __init__(self, *, renderer: Renderer) -> None:
        self._renderer = renderer

    def fire_due(self, session: Session, now: datetime, limit: int) -> int:
        due = list(
            session.scalars(
                select(ActionItem)
                .where(
                    col(ActionItem.next_reminder_at) <= now,
                    col(ActionItem.done_at).is_(None),
                )
                .order_by(col(ActionItem.next_reminder_at))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for item in due:
            self._remind(session, item, now)
        return len(due)

    def earliest(self, session: Session) -> datetime | None:
        return session.scalar(
            select(func.min(col(ActionItem.next_reminder_at))).where(
                col(ActionItem.done_at).is_(None)
            )
        )

    def _remind(self, session: Session, item: ActionItem, now: datetime) -> None:
        # Once a day from now: a process that was down for days reminds once, not for each.
        item.next_reminder_at = now + REMIND_EVERY
        incident = session.get(Incident, item.incident_id)
        if incident is None:
            return
        key = incident_key(incident.number)
        markdown = self._renderer.render(
            REMINDER_TEMPLATE,
            key=key,
            number=item.number,
            text=item.text,
            due=item.due.isoformat() if item.due else "",
            owner=user_ref(item.owner) if item.owner else None,
        )
        fallback = f"Action item {item.number} of {key} is past due"
        payload: dict[str, object] = {"markdown": markdown, "fallback": fallback}
        if item.owner is not None:
            kind = DeliveryKind.POST_DIRECT
            payload["user"] = item.owner
        else:
            kind = DeliveryKind.POST_MESSAGE
        enqueue(session, incident_id=item.incident_id, owed=[(kind, payload)], now=now)
        log.info("reminded %s action item %s: past due", key, item.number)
