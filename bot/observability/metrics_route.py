"""GET /metrics: this process's metrics, in the format the scraper asks for.

Prometheus' text format by default, OpenMetrics when the scraper's Accept header asks for
it (prometheus_client chooses, and names the content type). The stored gauges are read
first, off the event loop; a failed read still answers 200 with everything else.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Protocol

from fastapi import FastAPI, Request, Response
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from bot.clock import Clock
from bot.observability.metrics import Metrics
from bot.observability.metrics_database import StoredGauges, read_stored
from bot.policy.schema import Policy
from bot.storage.database import Database

log = logging.getLogger(__name__)


class Scraped(Protocol):
    """What /metrics reads of the running process (bot.app.Warroom)."""

    @property
    def metrics(self) -> Metrics: ...

    @property
    def db(self) -> Database: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def policy(self) -> Policy: ...


class _ThisScrape:
    """The process's registry followed by the stored gauges read for this scrape: nothing
    is kept between scrapes, so two at once never mix their reads."""

    def __init__(self, *collectors: Collector) -> None:
        self._collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self._collectors:
            yield from collector.collect()


async def scrape(warroom: Scraped, accept: str = "") -> tuple[bytes, str]:
    """The exposition and its content type."""
    state = await read_stored(warroom.db)
    stored = StoredGauges(state, severities=warroom.policy.severity_names(), clock=warroom.clock)
    encode, content_type = choose_encoder(accept)
    return encode(_ThisScrape(warroom.metrics.registry, stored)), content_type


def add_metrics_route(api: FastAPI, warroom: Scraped) -> None:
    @api.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        try:
            body, content_type = await scrape(warroom, request.headers.get("accept", ""))
        except Exception:
            # Never a traceback for a scraper: say so in the scraper's own terms.
            log.exception("metrics could not be rendered")
            return Response(
                "# metrics could not be rendered; see warroom's log\n",
                status_code=503,
                media_type="text/plain; charset=utf-8",
            )
        return Response(body, media_type=content_type)
