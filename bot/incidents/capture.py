"""Chat messages added to an incident's timeline: by a pin, a 📌 reaction or the shortcut.

An entry keeps the message's own author, time and permalink. It is keyed by the message
(`source`), so the same message is captured once however it is flagged, and un-flagging
removes it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.chat.port import ChatMessage
from bot.clock import Clock
from bot.errors import UserError
from bot.incidents.access import IncidentRef, Outcome
from bot.incidents.lifecycle import IncidentLifecycle
from bot.incidents.status import incident_key
from bot.incidents.timeline import record
from bot.storage.database import Database
from bot.storage.models import Incident, ProcessedEvent, TimelineEntry, TimelineKind

log = logging.getLogger(__name__)

MAX_CAPTURED_TEXT = 3000


class TimelineCapture:
    def __init__(self, *, db: Database, lifecycle: IncidentLifecycle, clock: Clock) -> None:
        self._db = db
        self._lifecycle = lifecycle
        self._clock = clock

    async def capture(self, ref: IncidentRef, message: ChatMessage, *, actor: str) -> Outcome:
        def change(session: Session, incident: Incident, now: datetime) -> str:
            key = incident_key(incident.number)
            if _entry(session, incident, message.source) is not None:
                raise UserError(f"that message is already on {key}'s timeline")
            record(
                session,
                incident_id=incident.id or 0,
                kind=TimelineKind.MESSAGE,
                at=message.posted_at or now,
                actor=message.author,
                text=message.text[:MAX_CAPTURED_TEXT],
                data={"permalink": message.permalink, "added_by": actor},
                source=message.source,
            )
            return f"Added to {key}'s timeline"

        return await self._lifecycle.apply(ref, change, action="capture", actor=actor)

    async def release(self, ref: IncidentRef, message_source: str, *, actor: str) -> None:
        """Remove a captured message's entry, if there is one (un-flagging a message that
        was never captured, or outside an incident channel, changes nothing)."""

        def change(session: Session, incident: Incident, now: datetime) -> str:
            removed = session.execute(
                delete(TimelineEntry).where(
                    col(TimelineEntry.incident_id) == incident.id,
                    col(TimelineEntry.source) == message_source,
                )
            )
            if not getattr(removed, "rowcount", 0):
                raise UserError("not on the timeline")
            return f"Removed from {incident_key(incident.number)}'s timeline"

        try:
            await self._lifecycle.apply(ref, change, action="capture", actor=actor)
        except UserError as error:
            log.debug("nothing released: %s", error)

    async def first_time(self, event_id: str) -> bool:
        """Record an event id; False if it was seen before (a re-delivery)."""
        now = self._clock()

        def claim(session: Session) -> bool:
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            # RETURNING, not rowcount: with psycopg the rowcount of a skipped insert is
            # not 0, and a re-delivery would be taken as new.
            inserted = session.connection().execute(
                insert(ProcessedEvent)
                .values(event_id=event_id, received_at=now)
                .on_conflict_do_nothing()
                .returning(col(ProcessedEvent.event_id))
            )
            return inserted.first() is not None

        return await self._db.transaction(claim, urgent=True)


def _entry(session: Session, incident: Incident, source: str) -> int | None:
    return session.scalar(
        select(col(TimelineEntry.id)).where(
            col(TimelineEntry.incident_id) == incident.id, col(TimelineEntry.source) == source
        )
    )
