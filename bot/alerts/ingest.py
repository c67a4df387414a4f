"""Alert deliveries in: stored, routed, grouped into incidents, before the source hears 2xx.

Each delivery is stored in one transaction (deliveries that arrive together share one,
each in a savepoint of its own): the group is found (or created and routed, once) and
locked, the alerts that changed are written, and whatever follows is decided on the
stored state, not on the body (bot.alerts.grouping applies one delivery; this module
batches them into transactions):

- a group routed to `declare` opens its incident (or, past the route's storm limit,
  joins the route's one storm incident); later alerts attach to it: one timeline entry
  each, and one coalesced digest in the channel a few seconds later;
- a group routed to `notify` gets a triage card with Declare / Ignore buttons;
- `drop` stores only;
- every alert of an incident resolved: the digest says so, with a Resolve button, or the
  route's `auto_resolve` resolves it; a group firing again within `reopen_within` of its
  incident's resolution reopens that incident.

The chat side is owed through the outbox, so a crash after the answer loses nothing and
the same state sent twice changes nothing and posts nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.alerts.grouping import AlertGrouping, Receipt
from bot.alerts.model import AlertBatch
from bot.clock import Clock
from bot.delivery.outbox import claiming
from bot.incidents.declare import IncidentService
from bot.incidents.lifecycle import IncidentLifecycle
from bot.policy.schema import Policy
from bot.storage.database import Database
from bot.storage.models import Delivery

log = logging.getLogger(__name__)

# Deliveries stored in one transaction at most: a storm's bodies wait for one another
# no longer than this many take.
TOGETHER = 16
# Tries of a delivery whose group a concurrent delivery created first.
CREATE_RACE_TRIES = 3


class AlertIntake:
    def __init__(
        self,
        *,
        db: Database,
        policy: Policy,
        clock: Clock,
        service: IncidentService,
        lifecycle: IncidentLifecycle,
        announce_channel: str | None = None,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._service = service
        self._on_commit = on_commit
        self._grouping = AlertGrouping(
            policy=policy,
            service=service,
            lifecycle=lifecycle,
            announce_channel=announce_channel or policy.announce_channel,
        )
        # Deliveries waiting for the next transaction, and the task storing them.
        self._arrived: list[tuple[AlertBatch, asyncio.Future[Receipt]]] = []
        self._storing: asyncio.Task[None] | None = None

    async def receive(self, batch: AlertBatch) -> Receipt:
        """Store and act on one delivery; returns once it is committed.

        Deliveries that arrive while a transaction is running are stored together in the
        next one, each in a savepoint of its own: in a storm the cost of a transaction
        (and of handing it to the database thread) is paid once for many bodies, and
        every one of them is still committed before its answer."""
        waiting: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._arrived.append((batch, waiting))
        if self._storing is None:
            self._storing = asyncio.create_task(self._store_arrived())
        return await waiting

    async def _store_arrived(self) -> None:
        try:
            while self._arrived:
                taken = self._arrived[:TOGETHER]
                del self._arrived[:TOGETHER]
                try:
                    await self._store_together(taken)
                except Exception as error:  # never leave a sender waiting for an answer
                    log.exception("alert deliveries could not be stored")
                    for _, waiting in taken:
                        _settle(waiting, error=error)
        finally:
            self._storing = None

    async def _store_together(
        self, taken: list[tuple[AlertBatch, asyncio.Future[Receipt]]]
    ) -> None:
        now = self._clock()
        try:
            outcomes, claimed = await self._db.transaction(
                partial(self._store_each, [batch for batch, _ in taken], now), urgent=True
            )
        except Exception as error:
            if len(taken) == 1:
                _settle(taken[0][1], error=error)
                return
            # The transaction itself failed (the database went away at the commit):
            # each on its own, so one bad body cannot refuse the others.
            for one in taken:
                await self._store_together([one])
            return
        self._service.after_commit(claimed)
        self._on_commit()
        retry = []
        for (batch, waiting), outcome in zip(taken, outcomes, strict=True):
            if isinstance(outcome, IntegrityError):
                retry.append((batch, waiting))
            elif isinstance(outcome, BaseException):
                _settle(waiting, error=outcome)
            else:
                _settle(waiting, receipt=outcome)
        for one in retry:
            await self._store_alone(*one)

    async def _store_alone(self, batch: AlertBatch, waiting: asyncio.Future[Receipt]) -> None:
        """A delivery whose group (or route counter) another process created at the same
        moment: again on its own, finding it this time."""
        for attempt in range(1, CREATE_RACE_TRIES + 1):
            now = self._clock()
            try:
                outcomes, claimed = await self._db.transaction(
                    partial(self._store_each, [batch], now, isolated=False), urgent=True
                )
            except IntegrityError as error:
                if attempt == CREATE_RACE_TRIES:
                    _settle(waiting, error=error)
                    return
                continue
            except Exception as error:
                _settle(waiting, error=error)
                return
            self._service.after_commit(claimed)
            self._on_commit()
            (outcome,) = outcomes
            if isinstance(outcome, BaseException):
                _settle(waiting, error=outcome)
            else:
                _settle(waiting, receipt=outcome)
            return

    def _store_each(
        self, batches: list[AlertBatch], now: datetime, session: Session, *, isolated: bool = True
    ) -> tuple[list[Receipt | BaseException], list[Delivery]]:
        outcomes: list[Receipt | BaseException] = []
        with claiming(session, self._service.handoff, now=now) as claim:
            for batch in batches:
                if not isolated:
                    outcomes.append(self._grouping.apply(session, batch, now))
                    continue
                try:
                    with session.begin_nested():
                        outcomes.append(self._grouping.apply(session, batch, now))
                except Exception as error:  # rolled back to its savepoint; the rest stays
                    if not isinstance(error, IntegrityError):
                        log.exception("an alert delivery could not be stored")
                    outcomes.append(error)
        return outcomes, claim.claimed


def _settle(
    waiting: asyncio.Future[Receipt],
    *,
    receipt: Receipt | None = None,
    error: BaseException | None = None,
) -> None:
    if waiting.done():  # its request went away meanwhile
        return
    if error is not None:
        waiting.set_exception(error)
    else:
        assert receipt is not None
        waiting.set_result(receipt)
