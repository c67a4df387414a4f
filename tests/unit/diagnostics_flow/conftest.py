"""Diagnostics runs wired as they serve, on FakeChat, with checks whose results the test
decides (the checks themselves are tested against real targets in tests/unit/diagnostics)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.app import Warroom, build
from bot.chat.fake import FakeChannel, FakeChat
from bot.diagnostics.results import CheckOutcome, CheckResult
from bot.inbound.requests import CommandRequest, Reply, Requester
from bot.incidents.declare import Declaration
from bot.policy.diagnostics import CheckBase
from bot.policy.schema import Policy, load_policy
from bot.storage.models import Incident
from tests.conftest import SteppingClock
from tests.unit.conftest import unit_settings

POLICY = """\
roles:
  commander: Leads the response
diagnostics:
  checks:
    - {name: api-health, type: http, url: "https://api.example.com/api/health",
       expect: ['$.status == "ok"'], headers: {Authorization: {env: DIAG_TOKEN}}}
    - {name: app-port, type: tcp, host: 10.0.0.5, port: 3000, description: the app's port}
    - {name: database, type: postgres, dsn_env: DIAG_DSN}
  runbooks:
    - name: app-unresponsive
      title: Application unresponsive
      steps:
        - {check: api-health, hint: "Restart the container, check env vars"}
        - {check: app-port, hint: "Is the process listening on 3000?"}
        - {check: database, hint: "Check the database and its connection pool"}
"""
DECLARER = "U0DECLARER"


@dataclass
class ScriptedChecks:
    """Checks that answer what the test says; a check named in `held` waits for release."""

    results: dict[str, CheckResult] = field(default_factory=dict)
    held: dict[str, asyncio.Event] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    _started: dict[str, asyncio.Event] = field(default_factory=dict)

    def hold(self, name: str) -> asyncio.Event:
        self.held[name] = asyncio.Event()
        return self.held[name]

    async def started(self, *names: str) -> None:
        """Until each of these checks has started (a safety timeout, never a sleep)."""
        for name in names:
            event = self._started.setdefault(name, asyncio.Event())
            await asyncio.wait_for(event.wait(), timeout=10)

    async def __call__(self, check: CheckBase) -> CheckResult:
        self.ran.append(check.name)
        self._started.setdefault(check.name, asyncio.Event()).set()
        if check.name in self.held:
            await self.held[check.name].wait()
        return self.results.get(
            check.name, CheckResult(check.name, CheckOutcome.PASSED, "fine", latency_ms=12)
        )


@dataclass
class Diag:
    warroom: Warroom
    chat: FakeChat
    clock: SteppingClock
    checks: ScriptedChecks

    async def declare(self, **kwargs: object) -> Incident:
        incident = await self.warroom.service.declare(
            Declaration(
                title="Checkout errors",
                severity="sev2",
                declared_by=DECLARER,
                declared_in="C0GENERAL",
                **kwargs,  # type: ignore[arg-type]
            )
        )
        await self.warroom.worker.drain()
        return incident

    async def command(
        self, text: str, *, user: str = DECLARER, channel: str | None, settle: bool = True
    ) -> Reply:
        reply = await self.warroom.inbound.command(CommandRequest(Requester(user, channel), text))
        if settle:  # every run ended, and what it owes landed
            await self.warroom.worker.drain()
        return reply

    def channel(self, incident: Incident) -> FakeChannel:
        channel_id = incident.channel_id
        if channel_id is None:
            found = [c for c in self.chat.channels.values() if c.opened_by_bot]
            return found[-1]
        return self.chat.channels[channel_id]


def diag_policy(tmp_path: Path, text: str = POLICY) -> Policy:
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


def wired(database_url: str, clock: SteppingClock, policy: Policy) -> Diag:
    """Warroom as it serves with `policy`, its checks scripted by the test."""
    chat = FakeChat()
    chat.add_channel("C0ANNOUNCE", "incidents")
    checks = ScriptedChecks()
    warroom = build(
        unit_settings(database_url), chat=chat, clock=clock, policy=policy, run_check=checks
    )
    return Diag(warroom, chat, clock, checks)


async def closed(diag: Diag) -> None:
    await diag.warroom.http.aclose()
    diag.warroom.db.dispose()


@pytest.fixture
async def diag(database_url: str, clock: SteppingClock, tmp_path: Path) -> AsyncIterator[Diag]:
    built = wired(database_url, clock, diag_policy(tmp_path))
    yield built
    await closed(built)
