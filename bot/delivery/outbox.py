"""The outbox: chat effects stored with the change that owes them, delivered until they land.

A use case owes effects with `enqueue`, in its own transaction, so nothing reaches chat
unless the change is committed, and nothing owed is lost. Deliveries of one incident run
in order within their lane (the card needs its channel; pages have a lane of their own),
carried out by a `DeliveryWorker` (bot/delivery/worker.py), which retries them until
they land, also after a restart.

The database is the source of truth; the in-memory handoff is a shortcut. Under
`claiming`, a use case inserts its deliveries already leased to the local worker and hands
them over once its transaction has committed: their first call goes out at once, without
waiting for a poll or a second claim transaction. If the process dies first, the leases
simply expire and any worker (this one restarted, or another process) claims them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.delivery.leases import (
    CHAT_LANE,
    DELIVERY,
    DIAGNOSTICS_LANE,
    DIGEST_LANE,
    PAGER_LANE,
    TRIAGE_LANE,
    as_delivery,
    lane_busy,
)
from bot.delivery.worker import RECHECK_LANE, DeliveryWorker, Effect, Landed, backoff
from bot.storage.database import Database
from bot.storage.models import Delivery, DeliveryState

__all__ = [
    "Claim",
    "DeliveryKind",
    "DeliveryWorker",
    "Effect",
    "Handoff",
    "Landed",
    "backoff",
    "claiming",
    "enqueue",
    "failed_count",
    "pending_count",
]


class DeliveryKind(StrEnum):
    PAGE = "page"  # trigger / acknowledge / resolve at a pager (its own lane)
    OPEN_CHANNEL = "open_channel"
    INVITE = "invite"
    POST_CARD = "post_card"
    PIN_CARD = "pin_card"
    ANNOUNCE = "announce"
    UPDATE_CARD = "update_card"
    POST_ALL_CLEAR = "post_all_clear"
    POST_MESSAGE = "post_message"  # prepared Markdown for the incident channel
    INVITE_GROUPS = "invite_groups"  # everyone in these user groups
    UPDATE_ANNOUNCEMENT = "update_announcement"  # edit the announcement in place
    # A later look at a call whose outcome was unknown (a late duplicate to remove, an
    # edit to make again); in a lane of its own, so waiting for it holds up nothing.
    RECHECK = "recheck"
    # Alert changes on an incident, gathered a few seconds into one channel message.
    POST_ALERT_DIGEST = "post_alert_digest"
    # An alert routed to `notify`: its card in the triage channel, and edits of it.
    POST_TRIAGE = "post_triage"
    UPDATE_TRIAGE = "update_triage"
    SILENCE = "silence"  # a silence at the alert source (an HTTP call, as pages are)
    # A diagnostics run: its checks run (lane of its own), its message posted and edited
    # from the stored run, the full detail in the message's thread.
    RUN_DIAGNOSTICS = "run_diagnostics"
    POST_DIAGNOSTICS = "post_diagnostics"
    UPDATE_DIAGNOSTICS = "update_diagnostics"
    POST_DIAGNOSTICS_DETAIL = "post_diagnostics_detail"
    # The postmortem document: a version shared in the channel as a file, and the
    # Confluence page created or updated (an HTTP call, in the pager's lane).
    EXPORT_POSTMORTEM = "export_postmortem"
    PUBLISH_POSTMORTEM = "publish_postmortem"
    POST_DIRECT = "post_direct"  # a reminder for one person, in their direct conversation


_LANES = {
    DeliveryKind.PAGE: PAGER_LANE,
    DeliveryKind.SILENCE: PAGER_LANE,
    DeliveryKind.PUBLISH_POSTMORTEM: PAGER_LANE,
    DeliveryKind.RECHECK: RECHECK_LANE,
    DeliveryKind.POST_ALERT_DIGEST: DIGEST_LANE,
    DeliveryKind.POST_TRIAGE: TRIAGE_LANE,
    DeliveryKind.UPDATE_TRIAGE: TRIAGE_LANE,
    DeliveryKind.RUN_DIAGNOSTICS: DIAGNOSTICS_LANE,
}


def lane_of(kind: DeliveryKind) -> str:
    return _LANES.get(kind, CHAT_LANE)


class Handoff(Protocol):
    """A worker in this process that takes deliveries leased to it as they were created."""

    @property
    def owner(self) -> str: ...

    @property
    def lease(self) -> timedelta: ...

    def take(self, claimed: Sequence[Delivery]) -> None:
        """Run these deliveries (leased to `owner`, committed); call after the commit."""
        ...


class Claim:
    """What one transaction claims for the local worker (see `claiming`)."""

    def __init__(self, owner: str | None, until: datetime | None) -> None:
        self.owner, self.until = owner, until
        self.claimed: list[Delivery] = []  # for `Handoff.take`, once committed
        self._idle: set[tuple[int, str]] = set()  # lanes this claim may fill
        self._created: set[int] = set()

    def created(self, incident_id: int) -> None:
        """The incident was created by this transaction: nothing of it can be pending, so
        its lanes are claimed without looking (a declaration is waited for)."""
        self._created.add(incident_id)

    def takes(self, session: Session, incident_id: int | None, lane: str) -> bool:
        """Whether what is owed in this lane now is ours to run."""
        if self.owner is None:
            return False
        if incident_id is None:
            return False  # a lane of no incident is shared: a poll takes it in order
        key = (incident_id, lane)
        if key not in self._idle and (
            incident_id in self._created
            or not lane_busy(session, incident_id=incident_id, lane=lane)
        ):
            self._idle.add(key)  # later rows in it follow our own
        return key in self._idle


_CLAIM_KEY = "warroom.delivery_claim"


def current_claim(session: Session) -> Claim | None:
    """The claim `claiming` put on this session, if any."""
    claim: Claim | None = session.info.get(_CLAIM_KEY)
    return claim


@contextmanager
def claiming(session: Session, handoff: Handoff | None, *, now: datetime) -> Iterator[Claim]:
    """Deliveries enqueued on `session` within the block are leased to `handoff` as they are
    inserted, and collected in `Claim.claimed`: give them to `handoff.take` after the commit.

    Only a lane with nothing pending is claimed: anything pending there comes first and is
    run (or waited for) by whoever holds it, who then claims what follows. With `handoff`
    None nothing is claimed; the worker finds the deliveries on its next poll.

    The claim rides on the session, so helpers that enqueue on their own (an escalation
    reaching its level) are covered without knowing about it.
    """
    if handoff is None:
        yield Claim(None, None)
        return
    claim = Claim(handoff.owner, now + handoff.lease)
    outer = session.info.get(_CLAIM_KEY)
    session.info[_CLAIM_KEY] = claim
    try:
        yield claim
    finally:
        session.info[_CLAIM_KEY] = outer


_INSERT = DELIVERY.insert()
_INSERT_RETURNING_IDS = DELIVERY.insert().returning(DELIVERY.c.id, sort_by_parameter_order=True)


def enqueue(
    session: Session,
    *,
    incident_id: int | None,
    owed: Iterable[tuple[DeliveryKind, Mapping[str, Any]]],
    now: datetime,
    due: datetime | None = None,
) -> list[Delivery]:
    """Owe chat effects, in order; they are delivered once the caller's transaction commits
    (`due`: not before then; such deliveries are never handed over, a poll finds them).

    Returns the deliveries claimed for the local worker (see `claiming`), else nothing.
    """
    claim: Claim | None = session.info.get(_CLAIM_KEY)
    rows: list[dict[str, Any]] = []
    ours: list[bool] = []
    for kind, payload in owed:
        lane = lane_of(kind)
        mine = due is None and claim is not None and claim.takes(session, incident_id, lane)
        ours.append(mine)
        rows.append(
            {
                "incident_id": incident_id,
                "kind": kind.value,
                "lane": lane,
                "payload": dict(payload),
                "state": DeliveryState.PENDING,
                "created_at": now,
                "next_attempt_at": due or now,
                # A claimed row's first attempt starts with its lease, as a worker's claim.
                "lease_owner": claim.owner if claim is not None and mine else None,
                "lease_until": claim.until if claim is not None and mine else None,
                "attempts": 1 if mine else 0,
            }
        )
    if not any(ours):
        if rows:
            session.connection().execute(_INSERT, rows)
        return []
    ids = session.connection().execute(_INSERT_RETURNING_IDS, rows).scalars()
    claimed = [
        as_delivery({**row, "id": delivery_id})
        for row, delivery_id, mine in zip(rows, ids, ours, strict=True)
        if mine
    ]
    assert claim is not None
    claim.claimed.extend(claimed)
    return claimed


async def pending_count(db: Database) -> int:
    return await _count(db, DeliveryState.PENDING)


async def failed_count(db: Database) -> int:
    """Deliveries the receiver refused for good (each also noted on its incident's timeline)."""
    return await _count(db, DeliveryState.FAILED)


async def _count(db: Database, state: DeliveryState) -> int:
    def count(session: Session) -> int:
        total = session.scalar(
            select(func.count()).select_from(Delivery).where(col(Delivery.state) == state)
        )
        return int(total or 0)

    return await db.transaction(count, urgent=True)
