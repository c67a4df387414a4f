"""The web view in process: the real app (create_app) on a seeded database, FakeChat and a
stepping clock, asked over HTTP with httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import Warroom, build, create_app
from bot.chat.fake import FakeChat
from bot.config import Settings
from tests.conftest import SteppingClock
from tests.web.seed import ALICE, BOB, Seeded, scripted_checks, seed, web_policy

TOKEN = "a-long-web-token-for-the-tests-0123"
HEADER = "X-Forwarded-Email"
BASE = "http://warroom.test"
PAGE = {"Accept": "text/html,application/xhtml+xml"}
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Web:
    warroom: Warroom
    chat: FakeChat
    clock: SteppingClock
    client: httpx.AsyncClient
    seeded: Seeded | None

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, **kwargs)

    def as_member(self) -> dict[str, str]:
        """The proxy's header of someone in the private incident (INC-2)."""
        return {HEADER: f"{BOB.lower()}@example.com"}


MakeWeb = Callable[..., Awaitable[Web]]


@pytest.fixture
async def make_web(
    database_url: str, clock: SteppingClock, tmp_path: Path
) -> AsyncIterator[MakeWeb]:
    made: list[Web] = []

    async def make(*, seeded: bool = True, **settings: Any) -> Web:
        chat = FakeChat()
        chat.add_channel("C0ANNOUNCE", "incidents")
        chat.emails.update({"u0bob@example.com": BOB, "u0alice@example.com": ALICE})
        warroom = build(
            Settings(
                _env_file=None,
                database_url=database_url,
                announce_channel="C0ANNOUNCE",
                post_interval_seconds=0,
                **settings,
            ),
            chat=chat,
            clock=clock,
            policy=web_policy(tmp_path),
            run_check=scripted_checks,
        )
        planted = await seed(warroom, chat, clock) if seeded else None
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(warroom=warroom)), base_url=BASE
        )
        web = Web(warroom, chat, clock, client, planted)
        made.append(web)
        return web

    yield make
    for web in made:
        await web.client.aclose()
        await web.warroom.http.aclose()
        web.warroom.db.dispose()


@pytest.fixture
async def web(make_web: MakeWeb) -> Web:
    """Seeded, with both the token and the proxy's header configured."""
    return await make_web(web_token=TOKEN, web_trusted_header=HEADER)
