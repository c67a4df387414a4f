"""Unit-test fixtures: the core wired to FakeChat, a real database and a stepping clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from bot.chat.fake import FakeChat
from bot.delivery.effects import ChatEffects
from bot.delivery.outbox import DeliveryWorker
from bot.incidents.declare import Declaration, IncidentService
from bot.incidents.lifecycle import IncidentLifecycle
from bot.policy.schema import default_policy
from bot.storage.database import Database
from bot.storage.models import Delivery, Incident, TimelineEntry
from bot.text.templates import Renderer
from bot.timers.ticker import Timers
from tests.conftest import SteppingClock

T = TypeVar("T")


@dataclass
class Harness:
    db: Database
    chat: FakeChat
    service: IncidentService
    lifecycle: IncidentLifecycle
    worker: DeliveryWorker
    clock: SteppingClock
    timers: Timers

    async def all(self, model: type[T], order: Any) -> list[T]:
        return await self.db.transaction(
            lambda session: list(session.scalars(select(model).order_by(order)))
        )

    async def incidents(self) -> list[Incident]:
        return await self.all(Incident, Incident.number)

    async def deliveries(self) -> list[Delivery]:
        return await self.all(Delivery, Delivery.id)

    async def timeline(self) -> list[TimelineEntry]:
        return await self.all(TimelineEntry, TimelineEntry.id)


@pytest.fixture
async def harness(database_url: str, clock: SteppingClock) -> AsyncIterator[Harness]:
    db = Database(database_url)
    chat = FakeChat()
    chat.add_channel("C0ANNOUNCE", "incidents")
    policy = default_policy()
    effects = ChatEffects(db=db, chat=chat, policy=policy, renderer=Renderer(), clock=clock)
    worker = DeliveryWorker(db=db, effects=effects.registry(), clock=clock)
    service = IncidentService(db=db, policy=policy, clock=clock, announce_channel="C0ANNOUNCE")
    lifecycle = IncidentLifecycle(
        db=db,
        policy=policy,
        clock=clock,
        mention=chat.user_mention,
        group_mention=chat.group_mention,
    )
    timers = Timers(
        db=db,
        policy=policy,
        clock=clock,
        mention=chat.user_mention,
        group_mention=chat.group_mention,
    )
    yield Harness(db, chat, service, lifecycle, worker, clock, timers)
    db.dispose()


def sev2(title: str = "Checkout errors", **kwargs: object) -> Declaration:
    return Declaration(
        title=title, severity="sev2", declared_by="U0DECLARER", declared_in="C0GENERAL", **kwargs
    )  # type: ignore[arg-type]
