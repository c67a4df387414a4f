"""What the composition root checks before serving, and what /readyz then reports:
templates compiled at start and asked again, Slack over Socket Mode without a secret."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from bot.app import Warroom, build, create_app
from bot.config import Settings
from bot.errors import ConfigurationError
from bot.policy.schema import default_policy


def settings(database_url: str, **values: object) -> Settings:
    return Settings(_env_file=None, database_url=database_url, **values)


def client(app: FastAPI) -> httpx.AsyncClient:
    """Requests straight to the app; its lifespan (worker, timers, Socket Mode) not run."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom")


@pytest.fixture
async def closing() -> AsyncIterator[list[Warroom]]:
    built: list[Warroom] = []
    yield built
    for warroom in built:
        await warroom.http.aclose()
        warroom.db.dispose()


def test_build_refuses_a_broken_template(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "incident_active.md.j2").write_text("{{ incident.title \n")
    with pytest.raises(ConfigurationError, match=r"template incident_active\.md\.j2 is broken"):
        build(settings(database_url, templates_dir=tmp_path), policy=default_policy())


async def test_readyz_names_a_template_broken_while_serving(
    database_url: str, tmp_path: Path, closing: list[Warroom]
) -> None:
    override = tmp_path / "reminder.md.j2"
    override.write_text("Reminder\n")
    warroom = build(settings(database_url, templates_dir=tmp_path), policy=default_policy())
    closing.append(warroom)
    async with client(create_app(warroom=warroom)) as probe:
        ready = await probe.get("/readyz")
        assert ready.status_code == 200 and ready.json()["templates"] == "ok"
        override.write_text("{% if %}\n")
        later = override.stat().st_mtime + 10
        os.utime(override, (later, later))
        broken = await probe.get("/readyz")
    assert broken.status_code == 503
    assert broken.json()["status"] == "unavailable"
    assert broken.json()["templates"].startswith("error: template reminder.md.j2 is broken")


async def test_socket_mode_needs_no_signing_secret(
    database_url: str, closing: list[Warroom]
) -> None:
    warroom = build(
        settings(database_url, slack_bot_token="xoxb-1", slack_app_token="xapp-1"),
        policy=default_policy(),
    )
    closing.append(warroom)
    assert warroom.bolt is not None  # what Socket Mode connects with (see the lifespan)
    async with client(create_app(warroom=warroom)) as http:
        assert (await http.get("/readyz")).json()["slack"] == "configured"
        refused = await http.post("/slack/events", content=b"command=/incident")
    assert refused.status_code == 503
    assert refused.json()["missing"] == ["SLACK_SIGNING_SECRET"]
