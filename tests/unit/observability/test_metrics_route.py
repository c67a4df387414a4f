"""GET /metrics on the app itself: Prometheus' text format (OpenMetrics when asked), one
registry per app, alert webhooks counted by the status they were answered, and a scrape
that still answers when the database cannot."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS
from sqlalchemy.orm import Session

from bot.app import build, create_app
from bot.chat.fake import FakeChat
from bot.clock import Clock
from bot.config import Settings
from bot.observability.metrics import Metrics
from bot.observability.metrics_database import read_stored
from bot.observability.metrics_route import scrape
from bot.policy.schema import Policy, default_policy
from bot.storage.database import Database
from tests.conftest import SteppingClock
from tests.unit.conftest import Harness, sev2, unit_settings
from tests.unit.observability.test_metrics import counted, declared, parsed, value

ALERT_TOKEN = "alert-token-for-tests"
GENERIC = {"title": "Checkout error rate above 5%", "severity": "critical", "service": "checkout"}


@pytest.fixture
async def app_client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(warroom=harness.warroom)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://warroom") as client:
        yield client


async def test_metrics_are_served_in_prometheus_text_format(
    harness: Harness, app_client: httpx.AsyncClient
) -> None:
    await harness.service.declare(sev2())
    response = await app_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_PLAIN_0_0_4
    samples = parsed(response.text)
    labels = {"severity": "SEV2", "source": "command"}
    assert value(samples, "warroom_incidents_declared_total", **labels) == 1
    assert value(samples, "warroom_open_incidents", severity="SEV2") == 1
    assert value(samples, "warroom_database_read_ok") == 1
    # The process's own figures, from its own registry.
    assert value(samples, "process_resident_memory_bytes")
    # Not an API for people: left out of the OpenAPI page.
    assert "/metrics" not in (await app_client.get("/openapi.json")).json()["paths"]


async def test_openmetrics_when_the_scraper_asks_for_it(app_client: httpx.AsyncClient) -> None:
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    response = await app_client.get("/metrics", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")
    assert OPENMETRICS.startswith("application/openmetrics-text")


async def test_alert_webhooks_count_by_source_and_the_status_answered(
    database_url: str, clock: SteppingClock
) -> None:
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        announce_channel="C0ANNOUNCE",
        post_interval_seconds=0,
        alert_token=ALERT_TOKEN,
    )
    warroom = build(settings, chat=FakeChat(), clock=clock, policy=default_policy())
    transport = httpx.ASGITransport(app=create_app(warroom=warroom))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://warroom") as client:
            good = {"Authorization": f"Bearer {ALERT_TOKEN}"}
            assert (await client.post("/alerts/generic", json=GENERIC, headers=good)).is_success
            wrong = {"Authorization": "Bearer wrong"}
            assert (
                await client.post("/alerts/generic", json=GENERIC, headers=wrong)
            ).status_code == 401
            assert (
                await client.post("/alerts/grafana", content=b"{", headers=good)
            ).status_code == 400
            assert (await client.post("/alerts/generic", json={}, headers=good)).status_code == 422
    finally:
        await warroom.http.aclose()
        warroom.db.dispose()

    def webhooks(source: str, status: str) -> float:
        return counted(warroom, "warroom_alert_webhooks_total", source=source, status=status)

    assert webhooks("generic", "200") == 1
    assert webhooks("generic", "401") == 1
    assert webhooks("grafana", "400") == 1
    assert webhooks("generic", "422") == 1
    assert declared(warroom, "SEV1", "alert") == 1  # the delivery answered 200 opened it


async def test_alert_webhooks_without_a_token_configured_count_as_503(
    app_client: httpx.AsyncClient, harness: Harness
) -> None:
    response = await app_client.post("/alerts/alertmanager", json={})
    assert response.status_code == 503
    warroom = harness.warroom
    assert (
        counted(warroom, "warroom_alert_webhooks_total", source="alertmanager", status="503") == 1
    )


async def test_each_app_counts_its_own_and_reads_the_shared_database(
    database_url: str, clock: SteppingClock
) -> None:
    """Two processes on one database (replicas): each counts what it did itself; both
    read the same open incidents."""
    first, second = (
        build(unit_settings(database_url), chat=FakeChat(), clock=clock, policy=default_policy())
        for _ in range(2)
    )
    try:
        await first.service.declare(sev2())
        assert declared(first) == 1 and declared(second) == 0
        for warroom in (first, second):
            body, _ = await scrape(warroom)
            assert value(parsed(body.decode()), "warroom_open_incidents", severity="SEV2") == 1
    finally:
        for warroom in (first, second):
            await warroom.worker.drain()
            await warroom.http.aclose()
            warroom.db.dispose()


@dataclass
class Unreadable:
    """What /metrics reads of a process whose database cannot answer."""

    metrics: Metrics
    db: Database
    clock: Clock
    policy: Policy


async def test_a_scrape_whose_database_read_fails_still_answers(clock: SteppingClock) -> None:
    metrics = Metrics(severities=["SEV1"])
    metrics.alert_webhook("generic", 200)
    database = Database("sqlite:////nonexistent-directory/warroom.db")
    try:
        body, content_type = await scrape(Unreadable(metrics, database, clock, default_policy()))
    finally:
        database.dispose()
    assert content_type == CONTENT_TYPE_PLAIN_0_0_4
    samples = parsed(body.decode())
    assert value(samples, "warroom_database_read_ok") == 0
    # The stored gauges are left out, not reported as zeros that look like good news.
    assert not [name for name, _ in samples if name.startswith(("warroom_open", "warroom_outbox"))]
    assert value(samples, "warroom_alert_webhooks_total", source="generic", status="200") == 1
    assert value(samples, "warroom_incidents_declared_total", severity="SEV1", source="alert") == 0


async def test_a_database_too_busy_to_answer_in_time_is_not_waited_for(
    database_url: str,
) -> None:
    database = Database(database_url, threads=1)
    started, release = threading.Event(), threading.Event()

    def hold(session: Session) -> None:
        started.set()
        assert release.wait(10)

    held = asyncio.ensure_future(database.transaction(hold))
    try:
        assert await asyncio.to_thread(started.wait, 10)
        assert await read_stored(database, within=0.05) is None
    finally:
        release.set()
        await held
        # The read given up on still runs: let it end before the database goes.
        await database.transaction(lambda session: None, urgent=True)
        database.dispose()


async def test_metrics_that_cannot_be_rendered_answer_503_not_a_traceback(
    harness: Harness, app_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> Callable[[], None]:
        raise RuntimeError("a collector broke")

    monkeypatch.setattr(harness.warroom.metrics.registry, "collect", broken)
    response = await app_client.get("/metrics")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/plain")
    assert "Traceback" not in response.text
