"""Fixtures of the delivery tests: a real database, bare incidents, and effects that can
be made to hang or fail, which record what ran and how many ran at once per lane."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.delivery.outbox import DeliveryKind, Effect, enqueue
from bot.errors import DeliveryError
from bot.incidents.status import Status
from bot.storage.database import Database
from bot.storage.models import Delivery, insert_incident
from tests.conftest import SteppingClock

# Only a safety net: every wait in these tests ends on an event, long before this.
SIGNAL_TIMEOUT = 5.0


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


async def new_incident(db: Database, clock: SteppingClock, number: int) -> int:
    def insert(session: Session) -> int:
        incident = insert_incident(
            session,
            number=number,
            title=f"Incident {number}",
            severity="SEV2",
            impact="",
            status=Status.INVESTIGATING,
            private=False,
            declared_by="U1",
            started_at=clock.now,
        )
        return incident.id or 0

    return await db.transaction(insert)


async def owe(db: Database, clock: SteppingClock, incident_id: int, *kinds: DeliveryKind) -> None:
    await db.transaction(
        lambda session: enqueue(
            session, incident_id=incident_id, owed=[(k, {}) for k in kinds], now=clock.now
        )
    )


async def deliveries(db: Database) -> list[Delivery]:
    return await db.transaction(
        lambda session: list(session.scalars(select(Delivery).order_by(col(Delivery.id))))
    )


class FakeEffects:
    """Effects for every kind. `gate(incident, kind)` makes those effects wait for the
    event returned; `errors[kind]` are raised by the next effects of that kind."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.ran: list[Delivery] = []
        self.errors: dict[str, list[DeliveryError]] = {}
        self.in_flight: Counter[tuple[int, str]] = Counter()
        self.most_in_flight_per_lane = 0
        self.most_in_flight = 0
        self._gates: dict[tuple[int, str | None], asyncio.Event] = {}
        self._changed = asyncio.Event()

    def registry(self) -> dict[str, Effect]:
        return {kind.value: self._effect for kind in DeliveryKind}

    def gate(self, incident_id: int, kind: DeliveryKind | None = None) -> asyncio.Event:
        """Hold the incident's effects (of `kind`, or all) until the event is set."""
        gate = self._gates[(incident_id, kind.value if kind else None)] = asyncio.Event()
        return gate

    def ran_of(self, incident_id: int) -> list[str]:
        return [d.kind for d in self.ran if d.incident_id == incident_id]

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        """Wait for the effects to reach `condition`, woken by each effect's progress."""

        async def watch() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(watch(), SIGNAL_TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"effects never reached: {what}") from None

    async def _effect(self, delivery: Delivery) -> Any:
        key = (delivery.incident_id, delivery.lane)
        self.in_flight[key] += 1
        self.most_in_flight_per_lane = max(self.most_in_flight_per_lane, self.in_flight[key])
        self.most_in_flight = max(self.most_in_flight, sum(self.in_flight.values()))
        self.started.append(delivery.id or 0)
        self._changed.set()
        try:
            await asyncio.sleep(0)  # a call's await: other lanes may run meanwhile
            for gate_key in ((delivery.incident_id, delivery.kind), (delivery.incident_id, None)):
                if gate_key in self._gates:
                    await self._gates[gate_key].wait()
            queued = self.errors.get(delivery.kind)
            if queued:
                raise queued.pop(0)
            self.ran.append(delivery)
            return None
        finally:
            self.in_flight[key] -= 1
            self._changed.set()


@pytest.fixture
def effects() -> FakeEffects:
    return FakeEffects()
