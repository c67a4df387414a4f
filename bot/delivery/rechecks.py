"""Rechecks after an unknown outcome (bot.delivery.effects): when a late copy of a call
may still land, owing one look for then, and the sweep that deletes every late copy of a
marked post but the one kept."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col

from bot.chat.port import ChatPlatform
from bot.delivery.outbox import DeliveryKind, enqueue
from bot.errors import DeliveryError
from bot.storage.database import Database
from bot.storage.models import Delivery, DeliveryState, Incident

log = logging.getLogger(__name__)

# When a late copy of a call with an unknown outcome would have landed: twice as long as
# the call went unanswered (a call Slack sat on for 15 s may take about as long again),
# within these bounds.
SETTLE_FACTOR = 2
SETTLE_MIN = timedelta(seconds=5)
SETTLE_MAX = timedelta(minutes=2)
# Which copy a sweep keeps: the one the incident recorded, or (messages it does not
# record) the first one posted.
KEEP_CARD, KEEP_ANNOUNCEMENT, KEEP_FIRST = "card", "announcement", "first"

_DELIVERY = SQLModel.metadata.tables["delivery"]


def settle_time(unanswered: timedelta) -> timedelta:
    """How long after an unknown outcome a late copy may still land."""
    return min(max(unanswered * SETTLE_FACTOR, SETTLE_MIN), SETTLE_MAX)


def owe_recheck(
    session: Session,
    *,
    incident_id: int | None,
    payload: Mapping[str, Any],
    due: datetime,
    now: datetime,
) -> None:
    """Owe one recheck at `due`. The same recheck owed already and not started yet is
    moved to the later time instead: several unknown outcomes of one post (Slack down for
    a while) need one look after the last of them."""
    waiting = session.scalars(
        select(Delivery).where(
            col(Delivery.incident_id) == incident_id,
            col(Delivery.kind) == DeliveryKind.RECHECK.value,
            col(Delivery.state) == DeliveryState.PENDING,
            col(Delivery.lease_owner).is_(None),
        )
    )
    for row in waiting:
        if row.payload == dict(payload):
            if row.next_attempt_at < due:
                session.connection().execute(
                    _DELIVERY.update().where(_DELIVERY.c.id == row.id).values(next_attempt_at=due)
                )
            return
    enqueue(
        session,
        incident_id=incident_id,
        owed=[(DeliveryKind.RECHECK, dict(payload))],
        now=now,
        due=due,
    )


async def sweep_copies(
    db: Database,
    chat: ChatPlatform,
    incident_id: int | None,
    *,
    channel_id: str,
    marker: str,
    keep: str,
    after: int,
    thread_ref: str | None = None,
) -> None:
    """Delete every copy of a marked post but one: the one the incident recorded (the
    card, the announcement), else the first posted, which is also the one a retry
    adopts. Not while the post is still being retried: which copy it ends with is
    not known yet."""

    def load(session: Session) -> tuple[Incident | None, bool]:
        post = session.get(Delivery, after) if after else None
        unsettled = post is not None and post.state is DeliveryState.PENDING
        incident = session.get(Incident, incident_id) if incident_id is not None else None
        return incident, unsettled

    incident, unsettled = await db.transaction(load)
    if incident is None and incident_id is not None:
        raise DeliveryError("incident_missing", retryable=False, detail=str(incident_id))
    if unsettled:
        raise DeliveryError("post_not_settled", detail=f"delivery {after}")
    copies = await chat.all_marked(channel_id=channel_id, marker=marker, thread_ref=thread_ref)
    recorded = (
        {KEEP_CARD: incident.card_ref, KEEP_ANNOUNCEMENT: incident.announcement_ref}
        if incident is not None
        else {}
    )
    kept = recorded.get(keep) or (copies[0] if copies else None)
    for ref in copies:
        if ref != kept:
            log.warning("deleting %s in %s: a late duplicate of %s", ref, channel_id, kept)
            await chat.delete(channel_id=channel_id, message_ref=ref)
