"""What is kept only for a while: the ids of chat events already handled (their only use
is recognising a platform's re-delivery, which comes within minutes)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.storage.database import Database
from bot.storage.models import ProcessedEvent

PROCESSED_EVENTS_KEPT = timedelta(days=7)


async def prune_processed_events(db: Database, *, now: datetime) -> int:
    """Forget handled events older than a week; returns how many were removed."""
    cutoff = now - PROCESSED_EVENTS_KEPT

    def prune(session: Session) -> int:
        result = session.execute(
            delete(ProcessedEvent).where(col(ProcessedEvent.received_at) < cutoff)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    return await db.transaction(prune)
