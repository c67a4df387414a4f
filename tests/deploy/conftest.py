"""Fixtures of the deployment tests: the real app to ask which routes it serves, and the
end-to-end fixtures (a real `warroom serve`, the fake Slack) for the wiring tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from bot.app import build, create_app
from bot.config import Settings
from tests.e2e.conftest import fake_slack, make_server, server_env, slack

__all__ = ["fake_slack", "make_server", "server_env", "slack"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "docker: builds the image and runs it; only where a Docker daemon answers and the "
        "base image is present or can be pulled",
    )


@dataclass(frozen=True)
class ServedApp:
    client: httpx.AsyncClient
    paths: frozenset[str]  # every route the app serves


@pytest.fixture
async def served_app(database_url: str) -> AsyncIterator[ServedApp]:
    """The real app on a migrated database, asked in process (its lifespan not run)."""
    warroom = build(Settings(_env_file=None, database_url=database_url))
    app = create_app(warroom=warroom)
    paths = frozenset(str(getattr(route, "path", "")) for route in app.routes)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://warroom") as client:
        yield ServedApp(client, paths)
    await warroom.http.aclose()
    warroom.db.dispose()
