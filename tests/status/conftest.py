"""The status page wired as it serves: the real composition root on FakeChat, a stepping
clock, a migrated database, and the FastAPI app asked over ASGI (no server, no lifespan:
deliveries run when a test drains them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select

from bot.app import Warroom, build, create_app
from bot.chat.fake import FakeChat
from bot.inbound.requests import CommandRequest, Requester
from bot.policy.schema import Policy, load_policy
from bot.storage.models import Incident, TimelineEntry
from bot.storage.status_models import PublicIncident, PublicUpdate
from tests.conftest import SteppingClock

# The end-to-end fixtures (the real server, the fake Slack), for this folder's e2e tests.
from tests.e2e.conftest import fake_slack, make_server, server_env, slack  # noqa: F401
from tests.unit.conftest import unit_settings

T = TypeVar("T")
DECLARER = "U0DECLARER"
POLICY = """\
status_page:
  title: Acme Status
  components:
    - {name: Checkout, description: Paying for an order}
    - {name: API}
    - {name: Search}
"""


def policy_of(tmp_path: Path, text: str = POLICY) -> Policy:
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


@dataclass
class StatusHarness:
    warroom: Warroom
    chat: FakeChat
    clock: SteppingClock
    web: httpx.AsyncClient

    async def command(
        self, text: str, *, user: str = DECLARER, channel: str | None = "C0GENERAL"
    ) -> str:
        """`/incident <text>` as typed; the reply's text. What it owes is delivered."""
        reply = await self.warroom.inbound.command(CommandRequest(Requester(user, channel), text))
        await self.warroom.worker.drain()
        return reply.markdown or ""

    async def declare(self, text: str = "sev2 Checkout errors", *, user: str = DECLARER) -> str:
        """Declares; returns the incident's channel."""
        reply = await self.command(f"declare {text}", user=user)
        assert reply.startswith("Declaring INC-"), reply
        incidents = await self.incidents()
        channel = incidents[-1].channel_id
        assert channel is not None
        return channel

    async def all(self, model: type[T], order: Any) -> list[T]:
        return await self.warroom.db.transaction(
            lambda session: list(session.scalars(select(model).order_by(order)))
        )

    async def incidents(self) -> list[Incident]:
        return await self.all(Incident, Incident.number)

    async def public_updates(self) -> list[PublicUpdate]:
        return await self.all(PublicUpdate, PublicUpdate.id)

    async def public_incidents(self) -> list[PublicIncident]:
        return await self.all(PublicIncident, PublicIncident.id)

    async def timeline(self) -> list[TimelineEntry]:
        return await self.all(TimelineEntry, TimelineEntry.id)

    def messages(self, channel: str) -> list[str]:
        """What was posted in a channel, oldest first."""
        return [message.markdown for message in self.chat.channels[channel].messages.values()]

    async def get(self, path: str, **headers: str) -> httpx.Response:
        return await self.web.get(path, headers=headers)


Wire = Callable[..., AsyncIterator[StatusHarness]]


async def _wired(
    database_url: str, clock: SteppingClock, policy: Policy
) -> AsyncIterator[StatusHarness]:
    chat = FakeChat()
    chat.add_channel("C0ANNOUNCE", "incidents")
    chat.add_channel("C0GENERAL", "general")
    warroom = build(unit_settings(database_url), chat=chat, clock=clock, policy=policy)
    app = create_app(warroom=warroom)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://status.test") as web:
        yield StatusHarness(warroom, chat, clock, web)
    await warroom.http.aclose()
    warroom.db.dispose()


@pytest.fixture
async def status(
    database_url: str, clock: SteppingClock, tmp_path: Path
) -> AsyncIterator[StatusHarness]:
    async for harness in _wired(database_url, clock, policy_of(tmp_path)):
        yield harness


@pytest.fixture
def wire(
    database_url: str, clock: SteppingClock
) -> Callable[[Policy], AsyncIterator[StatusHarness]]:
    """A harness with a policy of the test's own: `async for h in wire(policy): …`."""
    return lambda policy: _wired(database_url, clock, policy)
