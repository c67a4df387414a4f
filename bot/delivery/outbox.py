"""The outbox: chat effects stored with the change that owes them, delivered until they land.

A delivery is claimed with a lease, so several processes on one Postgres never run the
same one twice at once, and a crashed process's claims expire (leases are short and
renewed while an effect runs). Deliveries of one incident run in order (the card needs
its channel); a failure delays that incident's queue with exponential backoff, or exactly
as long as the platform's `Retry-After` asks. Other incidents proceed meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlmodel import SQLModel, col

from bot.clock import Clock
from bot.errors import DeliveryError
from bot.storage.database import Database
from bot.storage.models import Delivery, DeliveryState, UTCDateTime

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=5)
DEFAULT_LEASE = timedelta(seconds=15)


class PermanentFailure(Exception):
    """The receiver refused the delivery for good: record it as failed, do not retry."""


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


Effect = Callable[[Delivery], Awaitable[None]]


def enqueue(
    session: Session,
    *,
    incident_id: int,
    owed: Iterable[tuple[DeliveryKind, Mapping[str, Any]]],
    now: datetime,
) -> None:
    """Owe chat effects, in order; they are delivered once the caller's transaction commits."""
    rows = [
        {
            "incident_id": incident_id,
            "kind": kind.value,
            "lane": "pager" if kind is DeliveryKind.PAGE else "chat",
            "payload": dict(payload),
            "state": DeliveryState.PENDING,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
        for kind, payload in owed
    ]
    if rows:
        session.connection().execute(_INSERT_DELIVERY, rows)


def backoff(attempts: int, *, jitter: float = 0.2) -> timedelta:
    """1s, 2s, 4s … capped at five minutes, spread a little so retries don't stampede."""
    base = min(2.0 ** max(attempts - 1, 0), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=base * random.uniform(1 - jitter, 1 + jitter))


_INSERT_DELIVERY = SQLModel.metadata.tables["delivery"].insert()
# Statements are built once, with bound parameters, so SQLAlchemy compiles each only once.
_NOW = bindparam("now", type_=UTCDateTime())
_LEASE_FREE = or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) < _NOW)
_EARLIER = aliased(Delivery)
# Due, unleased, and first in its incident's queue.
_DUE_HEADS = (
    select(col(Delivery.id))
    .where(
        col(Delivery.state) == DeliveryState.PENDING,
        col(Delivery.next_attempt_at) <= _NOW,
        _LEASE_FREE,
        ~exists().where(
            col(_EARLIER.incident_id) == col(Delivery.incident_id),
            col(_EARLIER.lane) == col(Delivery.lane),
            col(_EARLIER.state) == DeliveryState.PENDING,
            col(_EARLIER.id) < col(Delivery.id),
        ),
    )
    .order_by(col(Delivery.next_attempt_at))
    .limit(bindparam("batch"))
    .with_for_update(skip_locked=True)
)
# The first pending delivery of one incident (due or not: its order decides).
_FIRST_PENDING_OF = (
    select(col(Delivery.id))
    .where(
        col(Delivery.incident_id) == bindparam("incident_id"),
        col(Delivery.lane) == bindparam("lane"),
        col(Delivery.state) == DeliveryState.PENDING,
    )
    .order_by(col(Delivery.id))
    .limit(1)
    .with_for_update(skip_locked=True)
)
# Take a lease if nobody holds it: a compare-and-set that works on any database (on
# Postgres the row is also locked by the SELECT … SKIP LOCKED before it).
_TAKE_LEASE = (
    update(Delivery)
    .where(
        col(Delivery.id) == bindparam("delivery_id"),
        col(Delivery.state) == DeliveryState.PENDING,
        col(Delivery.next_attempt_at) <= _NOW,
        _LEASE_FREE,
    )
    .values(
        lease_owner=bindparam("owner"),
        lease_until=bindparam("lease_until", type_=_NOW.type),
        attempts=col(Delivery.attempts) + 1,
    )
    .returning(Delivery)
)


class DeliveryWorker:
    """Claims due deliveries and runs their effects; `wake()` after a commit, tick otherwise."""

    def __init__(
        self,
        *,
        db: Database,
        effects: Mapping[str, Effect],
        clock: Clock,
        lease: timedelta = DEFAULT_LEASE,
        concurrency: int = 8,
        batch_size: int = 64,
    ) -> None:
        self._db = db
        self._effects = effects
        self._clock = clock
        self._lease_time = lease
        self._batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)
        self._wakeup = asyncio.Event()
        self._draining = asyncio.Lock()
        self.owner = f"worker-{uuid.uuid4().hex[:12]}"

    def wake(self) -> None:
        self._wakeup.set()

    async def run_forever(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            try:
                await self.drain()
            except Exception:  # the database may be briefly away; the next tick retries
                log.exception("delivery round failed")

    async def drain(self) -> int:
        """Deliver everything due now; returns how many deliveries landed."""
        async with self._draining:
            landed = 0
            while True:
                claimed = await self._db.transaction(self._claim_heads)
                if not claimed:
                    return landed
                results = await asyncio.gather(*(self._run_chain(d) for d in claimed))
                landed += sum(results)

    def _claim_heads(self, session: Session) -> list[Delivery]:
        now = self._clock()
        found = session.scalars(_DUE_HEADS, {"now": now, "batch": self._batch_size})
        ids = [int(delivery_id) for delivery_id in found if delivery_id is not None]
        return [d for d in (self._lease(session, i, now) for i in ids) if d is not None]

    def _lease(self, session: Session, delivery_id: int, now: datetime) -> Delivery | None:
        leased: Delivery | None = session.scalar(
            _TAKE_LEASE,
            {
                "delivery_id": delivery_id,
                "now": now,
                "owner": self.owner,
                "lease_until": now + self._lease_time,
            },
        )
        return leased

    def _finish_and_claim_next(self, done: Delivery) -> Callable[[Session], Delivery | None]:
        """One transaction: record `done` as delivered and lease its incident's next one."""

        def work(session: Session) -> Delivery | None:
            now = self._clock()
            self._write_own(session, done, state=DeliveryState.DONE, done_at=now)
            next_id = session.scalar(
                _FIRST_PENDING_OF, {"incident_id": done.incident_id, "lane": done.lane}
            )
            return None if next_id is None else self._lease(session, next_id, now)

        return work

    async def _run_chain(self, delivery: Delivery | None) -> int:
        """Run an incident's deliveries in order until one fails or none is due."""
        landed = 0
        while delivery is not None:
            async with self._slots:
                ok = await self._run_one(delivery)
            if not ok:
                break
            landed += 1
            delivery = await self._db.transaction(self._finish_and_claim_next(delivery))
        return landed

    async def _run_one(self, delivery: Delivery) -> bool:
        effect = self._effects.get(delivery.kind)
        heartbeat = asyncio.create_task(self._keep_lease(delivery))
        try:
            if effect is None:
                raise DeliveryError("unknown_delivery_kind", detail=delivery.kind)
            await effect(delivery)
        except DeliveryError as error:
            delay = (
                timedelta(seconds=error.retry_after)
                if error.retry_after
                else backoff(delivery.attempts)
            )
            log.warning(
                "delivery %s (%s, incident %s) failed on attempt %s: %s; next try in %.1fs",
                delivery.id, delivery.kind, delivery.incident_id, delivery.attempts, error,
                delay.total_seconds(),
            )  # fmt: skip
            await self._release(delivery, error=str(error), delay=delay)
            return False
        except PermanentFailure as refusal:
            log.error("delivery %s (%s) refused for good: %s", delivery.id, delivery.kind, refusal)
            await self._update_own(
                delivery, state=DeliveryState.FAILED, done_at=self._clock(), last_error=str(refusal)
            )
            return True  # the lane moves on
        except Exception as exc:  # a bug must not lose the effect: keep it, retry later
            log.exception("delivery %s (%s) raised", delivery.id, delivery.kind)
            await self._release(delivery, error=repr(exc), delay=backoff(delivery.attempts))
            return False
        finally:
            heartbeat.cancel()
        return True

    async def _release(self, delivery: Delivery, *, error: str, delay: timedelta) -> None:
        await self._update_own(
            delivery, next_attempt_at=self._clock() + delay, last_error=error[:2000]
        )

    async def _update_own(self, delivery: Delivery, **values: Any) -> None:
        await self._db.transaction(lambda session: self._write_own(session, delivery, **values))

    def _write_own(self, session: Session, delivery: Delivery, **values: Any) -> None:
        """Change a delivery this worker holds, giving its lease back."""
        session.execute(
            update(Delivery)
            .where(col(Delivery.id) == delivery.id, col(Delivery.lease_owner) == self.owner)
            .values(lease_owner=None, lease_until=None, **values)
        )

    async def _keep_lease(self, delivery: Delivery) -> None:
        """Renew the lease while a slow call (retries, Retry-After) is still running."""

        def renew(session: Session) -> None:
            session.execute(
                update(Delivery)
                .where(col(Delivery.id) == delivery.id, col(Delivery.lease_owner) == self.owner)
                .values(lease_until=self._clock() + self._lease_time)
            )

        while True:
            await asyncio.sleep(self._lease_time.total_seconds() / 3)
            await self._db.transaction(renew)

    async def release_all_leases(self) -> None:
        """Free every claim: only for a database this process owns alone (SQLite), at start,
        so work a crashed predecessor had claimed resumes at once."""

        def release(session: Session) -> None:
            session.execute(
                update(Delivery)
                .where(col(Delivery.state) == DeliveryState.PENDING)
                .values(lease_owner=None, lease_until=None)
            )

        await self._db.transaction(release)


async def pending_count(db: Database) -> int:
    def count(session: Session) -> int:
        total = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(col(Delivery.state) == DeliveryState.PENDING)
        )
        return int(total or 0)

    return await db.transaction(count, urgent=True)
