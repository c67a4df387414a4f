"""The serving process's life beside its requests: started when the app starts, stopped in
order when it stops."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from fastapi import FastAPI
from slack_bolt.adapter.socket_mode.websockets import AsyncSocketModeHandler

from bot.chat.slack.adapter import share_session
from bot.storage.retention import prune_processed_events

if TYPE_CHECKING:
    from bot.app import Warroom

log = logging.getLogger(__name__)


def lifespan_of(warroom: Warroom) -> Any:
    """What runs beside the requests while the app serves: the delivery worker, the
    timers, the pollers, Socket Mode; stopped in order when it shuts down."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        scheduler = AsyncIOScheduler(timezone="UTC")
        socket_mode: AsyncSocketModeHandler | None = None
        settings = warroom.settings
        if not settings.slack_configured:
            log.warning(
                "%s. Create the app from manifest.yml (`warroom manifest`). "
                "Serving the alert webhooks, /healthz and /readyz.",
                settings.slack_summary(),
            )
        # One HTTP session for every Slack Web API call, on this loop, instead of one per call.
        web_session = await share_session(
            warroom.chat, warroom.bolt.client if warroom.bolt else None
        )
        worker = warroom.worker
        if warroom.db.is_sqlite:
            await worker.release_all_leases()  # one process per SQLite file: ours are stale
        warroom.background.append(asyncio.create_task(worker.run_forever()))
        # APScheduler only ticks this process; due work lives in the database.

        # Coroutines, so APScheduler runs them on the event loop: the wake-ups set asyncio
        # events, which are not safe to set from its thread pool.
        async def poll_deliveries() -> None:
            worker.wake()

        scheduler.add_job(
            poll_deliveries, "interval", seconds=settings.tick_seconds, id="deliveries"
        )
        # Timers run at their next deadline; the poll is the safety net that also learns
        # the deadlines other processes wrote. A coroutine, so that APScheduler calls it on
        # the event loop: an asyncio.Event must not be set from its thread pool.
        timer_loop = warroom.timer_loop

        async def poll_timers() -> None:
            timer_loop.wake()

        warroom.background.append(asyncio.create_task(timer_loop.run_forever()))
        scheduler.add_job(
            poll_timers,
            "interval",
            seconds=settings.tick_seconds,
            id="timers",
            max_instances=1,
            coalesce=True,
        )

        async def prune() -> None:
            try:
                removed = await prune_processed_events(warroom.db, now=warroom.clock())
            except Exception:  # the database may be briefly away; the next run prunes
                log.exception("pruning handled events failed")
                return
            if removed:
                log.info("forgot %d handled chat events older than a week", removed)

        scheduler.add_job(prune, "interval", hours=1, id="retention", coalesce=True)
        scheduler.start()
        worker.wake()  # deliveries left pending by an earlier process
        if warroom.bolt is not None and settings.slack_app_token:
            socket_mode = AsyncSocketModeHandler(warroom.bolt, settings.slack_app_token)
            await socket_mode.connect_async()  # type: ignore[no-untyped-call]
            log.info("Socket Mode connected")
        # Everything built so far lives as long as the process: keep it out of the cyclic
        # garbage collector, whose full passes over it would otherwise stall requests.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if socket_mode is not None:
                await socket_mode.close_async()  # type: ignore[no-untyped-call]
            if scheduler.running:
                scheduler.shutdown(wait=False)
            await warroom.follow_ups.close()
            for task in warroom.background:
                task.cancel()
            await asyncio.gather(*warroom.background, return_exceptions=True)
            if web_session is not None:
                await web_session.close()
            await warroom.http.aclose()
            warroom.db.dispose()

    return lifespan
