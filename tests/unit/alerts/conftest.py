"""Alert intake wired as it serves, on FakeChat and a stepping clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest

from bot.alerts.grouping import Receipt
from bot.alerts.ingest import AlertIntake
from bot.alerts.model import AlertBatch, AlertIn, AlertSource, AlertStatus, Link
from bot.app import Warroom, build
from bot.chat.fake import FakeChat
from bot.policy.schema import Policy, default_policy
from tests.conftest import SteppingClock
from tests.unit.conftest import unit_settings

TRIAGE = "C0TRIAGE"


def alert(
    fingerprint: str,
    status: str = "firing",
    *,
    starts_at: datetime | None = None,
    **labels: str,
) -> AlertIn:
    return AlertIn(
        fingerprint=fingerprint,
        status=AlertStatus(status),
        labels={"alertname": "HighErrorRate", "service": "checkout", **labels},
        annotations={"summary": f"5xx rate above 5% on {fingerprint}"},
        starts_at=starts_at,
        links=(Link("graph", f"http://prometheus.local/graph?g={fingerprint}"),),
    )


def batch(
    alerts: Sequence[AlertIn],
    *,
    group: str = "checkout",
    severity: str = "critical",
    source: AlertSource = AlertSource.ALERTMANAGER,
    truncated: int = 0,
) -> AlertBatch:
    firing = any(a.status is AlertStatus.FIRING for a in alerts)
    return AlertBatch(
        source=source,
        group_key=f'{{}}:{{alertname="HighErrorRate", service="{group}"}}',
        status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
        alerts=tuple(alerts),
        group_labels={"alertname": "HighErrorRate", "service": group},
        common_labels={"alertname": "HighErrorRate", "service": group, "severity": severity},
        truncated=truncated,
    )


@dataclass
class Alerts:
    warroom: Warroom
    chat: FakeChat
    clock: SteppingClock
    silences: list[httpx.Request]  # what reached the fake Alertmanager
    # How the fake Alertmanager answers; a test may put its own.
    alertmanager: Callable[[httpx.Request], httpx.Response]

    @property
    def intake(self) -> AlertIntake:
        return self.warroom.alerts

    async def receive(self, delivered: AlertBatch) -> Receipt:
        receipt = await self.intake.receive(delivered)
        await self.warroom.worker.drain()
        return receipt

    async def settle(self, seconds: float = 5) -> None:
        """Let the coalescing window pass and deliver what fell due."""
        self.clock.advance(seconds=seconds)
        await self.warroom.worker.drain()

    def channel_messages(self, name: str) -> list[str]:
        channel = self.chat.channel_named(name)
        assert channel is not None, f"no channel {name}"
        return [message.markdown for message in channel.messages.values()]


MakeAlerts = Callable[..., "AsyncIterator[Alerts]"]


def silences_created(requests: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    """Alertmanager's silences API, creating every silence asked for."""

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.method == "GET":
            return httpx.Response(200, json=[])
        return httpx.Response(200, json={"silenceID": f"silence-{len(requests)}"})

    return answer


@pytest.fixture
async def make_alerts(
    database_url: str, clock: SteppingClock
) -> AsyncIterator[Callable[[Policy | None], Alerts]]:
    built: list[Warroom] = []

    def make(policy: Policy | None = None) -> Alerts:
        chat = FakeChat()
        chat.add_channel("C0ANNOUNCE", "incidents")
        chat.add_channel(TRIAGE, "triage")
        requests: list[httpx.Request] = []
        made: list[Alerts] = []
        http = httpx.AsyncClient(
            transport=httpx.MockTransport(lambda request: made[0].alertmanager(request))
        )
        warroom = build(
            unit_settings(database_url),
            chat=chat,
            http=http,
            clock=clock,
            policy=policy or default_policy(),
        )
        built.append(warroom)
        made.append(Alerts(warroom, chat, clock, requests, silences_created(requests)))
        return made[0]

    yield make
    for warroom in built:
        await warroom.http.aclose()
        warroom.db.dispose()


def with_alerts(**alerts: object) -> Policy:
    """The default policy with an `alerts:` section laid over it."""
    data = default_policy().model_dump(mode="json")
    data["alerts"] = {**data["alerts"], **alerts}
    return Policy.model_validate(data)
