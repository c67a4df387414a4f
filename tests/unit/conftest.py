"""Unit-test fixtures: the core wired to FakeChat, a real database and a stepping clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from bot.app import Warroom, build
from bot.chat.fake import FakeChat
from bot.config import Settings
from bot.delivery.outbox import DeliveryWorker
from bot.incidents.declare import Declaration, IncidentService
from bot.incidents.lifecycle import IncidentLifecycle
from bot.policy.schema import default_policy
from bot.storage.database import Database
from bot.storage.models import Delivery, Incident, TimelineEntry
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
    warroom: Warroom  # the whole composition root, for what the fields above don't name

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


def unit_settings(database_url: str) -> Settings:
    """Settings of a unit test: nothing read from the environment or a `.env` file."""
    # No pacing of posts: unit tests run on an injected clock and never wait for real time.
    return Settings(
        _env_file=None,
        database_url=database_url,
        announce_channel="C0ANNOUNCE",
        post_interval_seconds=0,
    )


@pytest.fixture
async def harness(database_url: str, clock: SteppingClock) -> AsyncIterator[Harness]:
    chat = FakeChat()
    chat.add_channel("C0ANNOUNCE", "incidents")
    warroom = build(unit_settings(database_url), chat=chat, clock=clock, policy=default_policy())
    yield Harness(
        warroom.db,
        chat,
        warroom.service,
        warroom.lifecycle,
        warroom.worker,
        clock,
        warroom.timers,
        warroom,
    )
    await warroom.http.aclose()
    warroom.db.dispose()


def sev2(title: str = "Checkout errors", **kwargs: object) -> Declaration:
    return Declaration(
        title=title, severity="sev2", declared_by="U0DECLARER", declared_in="C0GENERAL", **kwargs
    )  # type: ignore[arg-type]
