"""Paging PagerDuty and a signed webhook through httpx, against a mock transport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.app import build
from bot.chat.fake import FakeChat
from bot.delivery.paging import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.policy.schema import (
    Contacts,
    EscalationLevel,
    PagerDutyTarget,
    WebhookTarget,
    default_policy,
)
from bot.storage.models import DeliveryState
from tests.conftest import SteppingClock
from tests.unit.conftest import Harness, unit_settings
from tests.unit.incidents.test_lifecycle import open_incident


class FakePagers:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.answers.pop(0) if self.answers else 202
        return httpx.Response(status, json={"status": "success" if status < 300 else "error"})

    def bodies(self) -> list[dict[str, object]]:
        return [json.loads(r.content) for r in self.requests]


@pytest.fixture
def pagers() -> FakePagers:
    return FakePagers()


@pytest.fixture
async def paging(
    database_url: str, clock: SteppingClock, pagers: FakePagers, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    """warroom wired as it serves, its first escalation level paging both pagers."""
    monkeypatch.setenv("PD_KEY", "routing-key-123")
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    level = EscalationLevel(
        level="L1",
        name="On-call",
        contacts=Contacts(
            pagerduty=PagerDutyTarget(routing_key_env="PD_KEY"),
            webhook=WebhookTarget(url="https://hooks.example/page", secret_env="HOOK_SECRET"),
        ),
    )
    policy = default_policy().model_copy(
        update={"escalation": (level,), "pagerduty_url": "https://pd.example"}
    )
    chat = FakeChat()
    chat.add_channel("C0ANNOUNCE", "incidents")
    http = httpx.AsyncClient(transport=httpx.MockTransport(pagers))
    warroom = build(unit_settings(database_url), chat=chat, http=http, clock=clock, policy=policy)
    yield Harness(
        db=warroom.db,
        chat=chat,
        service=warroom.service,
        lifecycle=warroom.lifecycle,
        worker=warroom.worker,
        clock=clock,
        timers=warroom.timers,
        warroom=warroom,
    )
    await warroom.http.aclose()
    warroom.db.dispose()


async def test_trigger_acknowledge_resolve_share_the_dedup_key(
    paging: Harness, pagers: FakePagers
) -> None:
    harness = paging
    _, here = await open_incident(harness)  # L1 is reached, and paged, as it is declared
    await harness.lifecycle.acknowledge(here, actor="U0ONCALL")
    await harness.worker.drain()
    await harness.lifecycle.resolve(here, actor="U0ONCALL")
    await harness.worker.drain()
    pd = [
        b
        for r, b in zip(pagers.requests, pagers.bodies(), strict=True)
        if r.url.host == "pd.example"
    ]
    assert [b["event_action"] for b in pd] == ["trigger", "acknowledge", "resolve"]
    assert {b["dedup_key"] for b in pd} == {"INC-1"} and pd[0]["routing_key"] == "routing-key-123"
    assert pd[0]["payload"] == {
        "summary": "[SEV2] INC-1: Checkout errors",
        "source": "warroom",
        "severity": "error",
        "custom_details": {"escalation_level": "L1", "status": "Investigating"},
    }
    hooks = [r for r in pagers.requests if r.url.host == "hooks.example"]
    assert [json.loads(r.content)["event"] for r in hooks] == ["trigger", "acknowledge", "resolve"]
    first = hooks[0]
    stamp = first.headers[TIMESTAMP_HEADER]
    assert first.headers[SIGNATURE_HEADER] == sign("s3cret", stamp, first.content)


async def test_5xx_is_retried_and_4xx_is_not(paging: Harness, pagers: FakePagers) -> None:
    harness = paging
    # PagerDuty is down once, then takes the page; the webhook refuses for good.
    pagers.answers = [503, 202, 400]
    await open_incident(harness)
    harness.clock.advance(seconds=5)
    await harness.worker.drain()
    pages = [d for d in await harness.deliveries() if d.kind == "page"]
    states = sorted((d.payload["target"].__contains__("pagerduty"), d.state) for d in pages)
    assert states == [(False, DeliveryState.FAILED), (True, DeliveryState.DONE)]
    refused = next(d for d in pages if d.state is DeliveryState.FAILED)
    assert refused.last_error is not None and refused.last_error.startswith("http_400")
    assert len(pagers.requests) == 3
    chat_done = [d for d in await harness.deliveries() if d.lane == "chat"]
    assert all(d.state is DeliveryState.DONE for d in chat_done)  # never held up by the pager
    harness.clock.advance(minutes=10)
    await harness.worker.drain()
    assert len(pagers.requests) == 3  # the refused page is not tried again
