"""The delivery worker: carries out the outbox's deliveries through their effects.

Each incident's lane (chat, pager) is a task of its own that runs that lane's deliveries
one after the other, so the card never overtakes its channel, while lanes of different
incidents run side by side: one hanging call holds up its own incident only. Effects run
in a bounded number of slots, and the pager lane has slots of its own, so a slow pager
never takes a slot from chat, nor the other way round. Rechecks (a later look after a call
whose outcome was unknown, bot/delivery/effects.py) have a lane and slots of their own too:
they fall due seconds ahead, and must not wait at the head of an incident's chat lane.

Work reaches a lane in two ways: handed over in memory by the use case that created it,
already leased to this worker (`take`), or claimed from the database by a poll (`wake`:
after a commit, and on every tick) for what other processes, restarts and retries left.
A lane that is running here holds a lease on everything it has queued (renewed by one
heartbeat while the worker holds anything), so no poll, here or elsewhere, claims it
twice. When a delivery lands, the same transaction records what the effect learned (the
channel it opened, the card it posted), marks the delivery done and leases the next.

A failure the receiver calls permanent (`DeliveryError(retryable=False)`) ends that
delivery as failed and the lane moves on; any other failure gives the lane back with a
backoff (or exactly the receiver's `Retry-After`), and a poll resumes it when it is due.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.delivery import leases
from bot.delivery.foreground import Foreground
from bot.delivery.leases import CHAT_LANE, DIAGNOSTICS_LANE, DIGEST_LANE, PAGER_LANE, TRIAGE_LANE
from bot.errors import DeliveryError, NotNow
from bot.incidents.timeline import record
from bot.observability.logs import log_context
from bot.storage.database import Database
from bot.storage.models import Delivery, DeliveryState, TimelineKind

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=5)
DEFAULT_LEASE = timedelta(seconds=15)

# What an effect learned (the channel it opened, the card it posted), stored in the
# transaction that records its delivery as done.
Landed = Callable[[Session], None]
Effect = Callable[[Delivery], Awaitable[Landed | None]]
LaneKey = tuple[int | None, str]  # (incident id, lane); None: the lane of no incident
# Later looks at calls whose outcome was unknown: due seconds or minutes ahead, so they
# must not wait at the head of the chat lane, holding up what the incident owes next.
RECHECK_LANE = "recheck"


def backoff(attempts: int, *, jitter: float = 0.2) -> timedelta:
    """1s, 2s, 4s … capped at five minutes, spread a little so retries don't stampede."""
    base = min(2.0 ** max(attempts - 1, 0), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=base * random.uniform(1 - jitter, 1 + jitter))


@dataclass(frozen=True)
class _Outcome:
    state: DeliveryState  # DONE, FAILED, or PENDING: to be tried again after `delay`
    landed: Landed | None = None
    error: str | None = None
    delay: timedelta = timedelta(0)
    counted: bool = True  # False: no call was made (NotNow), so no attempt either


@dataclass
class _Lane:
    """The deliveries of one incident's lane this worker holds, in order; the first runs."""

    key: LaneKey
    queue: deque[Delivery] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None

    def add(self, delivery: Delivery) -> None:
        if self.queue and (self.queue[-1].id or 0) > (delivery.id or 0):
            # Never ahead of the running head (index 0), else in id order.
            rest = sorted([*list(self.queue)[1:], delivery], key=lambda d: d.id or 0)
            self.queue = deque([self.queue[0], *rest])
        else:
            self.queue.append(delivery)


class DeliveryWorker:
    """Runs deliveries: handed over with `take`, or found by a poll after `wake()`."""

    def __init__(
        self,
        *,
        db: Database,
        effects: Mapping[str, Effect],
        clock: Clock,
        lease: timedelta = DEFAULT_LEASE,
        concurrency: int = 8,
        pager_concurrency: int = 4,
        recheck_concurrency: int = 2,
        digest_concurrency: int = 2,
        diagnostics_concurrency: int = 8,
        batch_size: int = 64,
        foreground: Foreground | None = None,
    ) -> None:
        self._db = db
        self._effects = effects
        self._clock = clock
        self._lease = lease
        self._batch_size = batch_size
        self._capacity = {
            CHAT_LANE: concurrency,
            PAGER_LANE: pager_concurrency,
            RECHECK_LANE: recheck_concurrency,
            DIGEST_LANE: digest_concurrency,
            # One lane for every triage card (they belong to no incident): one slot.
            TRIAGE_LANE: 1,
            # Runs mostly wait on their targets: several at once cost little.
            DIAGNOSTICS_LANE: diagnostics_concurrency,
        }
        self._slots = {lane: asyncio.Semaphore(n) for lane, n in self._capacity.items()}
        self._lanes: dict[LaneKey, _Lane] = {}
        self._handed: list[Delivery] = []
        self._wakeup = asyncio.Event()
        self._poll_wanted = False
        self._more_due = False  # the last poll left due work for want of slots
        self._heartbeat: asyncio.Task[None] | None = None
        self._landed = 0
        self.owner = f"worker-{uuid.uuid4().hex[:12]}"
        # The requests this process answers, which the deliveries give way to.
        self.foreground = foreground or Foreground()

    @property
    def lease(self) -> timedelta:
        return self._lease

    def wake(self) -> None:
        """Look in the database for due deliveries (after a commit, and on every tick)."""
        self._poll_wanted = True
        self._wakeup.set()

    def take(self, claimed: Sequence[Delivery]) -> None:
        """Run deliveries a committed transaction created already leased to `owner`."""
        if claimed:
            self._handed.extend(claimed)
            self._wakeup.set()

    async def run_forever(self) -> None:
        """Serve: start what is handed over at once, poll when woken. Cancelling it stops
        the lanes too; what they held is claimed again once its leases expire."""
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                self._start(self._take_handed())
                if not self._poll_wanted:
                    continue
                self._poll_wanted = False
                # Let the lanes just handed over queue their first transaction ahead of ours.
                await asyncio.sleep(0)
                try:
                    await self.poll()
                except Exception:  # the database may be briefly away; the next tick retries
                    log.exception("delivery poll failed")
        finally:
            lanes = [lane.task for lane in self._lanes.values() if lane.task is not None]
            for task in lanes:
                task.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)

    async def drain(self) -> int:
        """Deliver what was handed over and everything due now, and wait until every lane
        has landed or given up for the time being; returns how many deliveries landed.
        For tests and tools: serving runs `run_forever`, which never waits for a lane."""
        landed_before = self._landed
        while True:
            self._start(self._take_handed())
            await self.poll()
            running = {lane.task for lane in self._lanes.values() if lane.task is not None}
            if not running and not self._more_due:
                return self._landed - landed_before
            if not running:  # slots freed while the poll ran: look again with them
                continue
            await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)

    async def poll(self) -> int:
        """Claim due lane heads, no more than there are free slots for, and start them
        without waiting for them; returns how many were claimed."""
        lanes = self._capacity
        held = {lane: sum(1 for key in self._lanes if key[1] == lane) for lane in lanes}
        wanted = {
            lane: min(self._capacity[lane] - held[lane], self._batch_size)
            for lane in lanes
            if held[lane] < self._capacity[lane]
        }
        # Set before the claim: a lane that ends meanwhile then wakes us to use its slot.
        self._more_due = len(wanted) < len(lanes)
        claimed = await self._db.transaction(partial(self._claim, wanted)) if wanted else []
        counts = {lane: sum(1 for d in claimed if d.lane == lane) for lane in lanes}
        self._more_due |= any(counts[lane] == limit for lane, limit in wanted.items())
        self._start(claimed)
        return len(claimed)

    async def release_all_leases(self) -> None:
        """Free every claim: only for a database this process owns alone (SQLite), at start,
        so work a crashed predecessor had claimed resumes at once."""
        await self._db.transaction(leases.release_all)

    # claiming ---------------------------------------------------------------------------

    def _take_handed(self) -> list[Delivery]:
        handed, self._handed = self._handed, []
        return handed

    def _claim(self, wanted: Mapping[str, int], session: Session) -> list[Delivery]:
        now = self._clock()
        return [
            delivery
            for lane, limit in wanted.items()
            for delivery in leases.claim_due_heads(
                session, lane=lane, owner=self.owner, now=now, until=now + self._lease, limit=limit
            )
        ]

    def _start(self, deliveries: Iterable[Delivery]) -> None:
        """Queue each delivery on its lane, starting a task for a lane not running yet."""
        for delivery in sorted(deliveries, key=lambda d: d.id or 0):
            key = (delivery.incident_id, delivery.lane)
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = _Lane(key)
                lane.add(delivery)
                lane.task = asyncio.create_task(self._run_lane(lane), name=f"delivery-{key}")
            elif all(queued.id != delivery.id for queued in lane.queue):
                lane.add(delivery)
            # else: queued here already, claimed again after its lease lapsed (a stalled
            # heartbeat): the lease is ours again, and it must not run twice.
        if self._lanes and self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._keep_leases(), name="delivery-leases")

    # running ----------------------------------------------------------------------------

    async def _run_lane(self, lane: _Lane) -> None:
        try:
            while lane.queue:
                delivery = lane.queue[0]  # stays queued while it runs: the heartbeat renews it
                logged = log_context(delivery_id=delivery.id, incident_id=delivery.incident_id)
                async with self._slots[delivery.lane], self.foreground.giving_way(), logged:
                    outcome = await self._attempt(delivery)
                behind = list(lane.queue)[1:]
                if outcome.state is DeliveryState.PENDING:
                    await self._db.transaction(partial(self._try_later, delivery, outcome, behind))
                    lane.queue.clear()
                    return
                following = await self._db.transaction(
                    partial(self._settle, delivery, outcome, behind)
                )
                lane.queue.popleft()
                if outcome.state is DeliveryState.DONE:
                    self._landed += 1
                if following is None:  # what was queued behind is no longer ours
                    lane.queue.clear()
                else:
                    for claimed in following:
                        lane.add(claimed)
        except Exception:  # the database is away: what we hold is freed when leases expire
            log.exception("delivery lane %s stopped", lane.key)
        finally:
            del self._lanes[lane.key]
            if not self._lanes and self._heartbeat is not None:
                self._heartbeat.cancel()
                self._heartbeat = None
            if self._more_due:
                self.wake()  # a slot is free now for work the last poll had to leave

    async def _attempt(self, delivery: Delivery) -> _Outcome:
        effect = self._effects.get(delivery.kind)
        try:
            if effect is None:
                raise DeliveryError("unknown_delivery_kind", detail=delivery.kind)
            landed = await effect(delivery)
        except NotNow as error:
            log.debug("delivery %s (%s) handed back: %s", delivery.id, delivery.kind, error)
            delay = timedelta(seconds=error.retry_after or 1)
            return _Outcome(DeliveryState.PENDING, error=str(error), delay=delay, counted=False)
        except DeliveryError as error:
            if not error.retryable:
                log.error(
                    "delivery %s (%s, incident %s) failed for good on attempt %s: %s",
                    delivery.id, delivery.kind, delivery.incident_id, delivery.attempts, error,
                )  # fmt: skip
                return _Outcome(DeliveryState.FAILED, error=str(error))
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
            return _Outcome(DeliveryState.PENDING, error=str(error), delay=delay)
        except Exception as exc:  # a bug must not lose the effect: keep it, retry later
            log.exception("delivery %s (%s) raised", delivery.id, delivery.kind)
            return _Outcome(
                DeliveryState.PENDING, error=repr(exc), delay=backoff(delivery.attempts)
            )
        return _Outcome(DeliveryState.DONE, landed=landed)

    def _settle(
        self, delivery: Delivery, outcome: _Outcome, behind: list[Delivery], session: Session
    ) -> list[Delivery] | None:
        """One transaction: what the effect learned, the delivery done (or failed), and the
        lane's next delivery kept or leased. None: the deliveries `behind` are not ours."""
        now = self._clock()
        if outcome.landed is not None:
            outcome.landed(session)  # a fact about the chat platform, whoever holds the row
        recorded = {"last_error": outcome.error[:2000]} if outcome.error else {}
        settled = leases.settle(
            session, delivery, owner=self.owner, state=outcome.state, done_at=now, **recorded
        )
        if settled and outcome.state is DeliveryState.FAILED and delivery.incident_id is not None:
            # What never reached chat (or the pager) is part of the incident's story.
            record(
                session,
                incident_id=delivery.incident_id,
                kind=TimelineKind.DELIVERY_FAILED,
                at=now,
                actor=None,
                text=f"{delivery.kind.replace('_', ' ')}: {outcome.error or 'refused'}"[:4000],
                data={"delivery": delivery.kind, "error": (outcome.error or "")[:500]},
            )
        if behind:  # handed over with it: already ours
            return [] if self._still_held(session, behind, now=now) else None
        following = leases.claim_next_in_lane(
            session, delivery, owner=self.owner, now=now, until=now + self._lease
        )
        return [] if following is None else [following]

    def _still_held(self, session: Session, queued: list[Delivery], *, now: datetime) -> bool:
        """Whether this worker still holds the leases of what it queued. Leases taken or
        renewed within the last third of their time are trusted (the heartbeat renews
        them); older ones, after a long call, are renewed here, or given back if any
        was lost: another process may be running that lane now."""
        if all(d.lease_until and d.lease_until - now > self._lease * 2 / 3 for d in queued):
            return True
        ids, until = [d.id or 0 for d in queued], now + self._lease
        if leases.renew(session, ids, owner=self.owner, until=until) == len(ids):
            for held in queued:
                held.lease_until = until
            return True
        leases.give_back(session, ids, owner=self.owner)
        return False

    def _try_later(
        self, delivery: Delivery, outcome: _Outcome, behind: list[Delivery], session: Session
    ) -> None:
        """Give the lane back: its head due again after the delay, the rest behind it."""
        uncounted = {} if outcome.counted else {"attempts": max(delivery.attempts - 1, 0)}
        leases.settle(
            session,
            delivery,
            owner=self.owner,
            next_attempt_at=self._clock() + outcome.delay,
            last_error=(outcome.error or "")[:2000],
            **uncounted,
        )
        leases.give_back(session, [d.id or 0 for d in behind], owner=self.owner)

    async def _keep_leases(self) -> None:
        """Renew the leases of everything held, running or queued, while slow calls run."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            held = [d for lane in self._lanes.values() for d in lane.queue] + self._handed
            until = self._clock() + self._lease
            ids = [d.id or 0 for d in held]
            try:
                renewed = await self._db.transaction(
                    partial(leases.renew, ids=ids, owner=self.owner, until=until)
                )
            except Exception:  # the next beat tries again; a lease lasts three beats
                log.warning("could not renew delivery leases", exc_info=True)
                continue
            if renewed == len(ids):  # else a lane finds out which, when it gets there
                for delivery in held:
                    delivery.lease_until = until
