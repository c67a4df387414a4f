"""The probes: `/healthz` (the process answers) and `/readyz` (the database answers,
every template compiles, and what is owed), for load balancers and orchestrators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from bot.delivery.outbox import failed_count, pending_count

if TYPE_CHECKING:
    from bot.app import Warroom


def add_probe_routes(api: FastAPI, warroom: Warroom) -> None:
    @api.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz")
    async def readyz() -> Response:
        body: dict[str, Any] = {
            "slack": "configured" if warroom.settings.slack_configured else "not configured",
            "teams": "configured" if warroom.teams_door is not None else "not configured",
        }
        # A template override edited while serving is compiled again here, not first on
        # a card: the probe names it.
        broken = warroom.renderer.problem()
        body["templates"] = f"error: {broken}" if broken else "ok"
        try:
            await warroom.db.ping()
            body["pending_deliveries"] = await pending_count(warroom.db)
            body["failed_deliveries"] = await failed_count(warroom.db)
            body["follow_ups"] = warroom.follow_ups.running
        except Exception as exc:
            body.update(status="unavailable", database=f"error: {type(exc).__name__}")
            return JSONResponse(body, status_code=503)
        body.update(status="unavailable" if broken else "ready", database="ok")
        return JSONResponse(body, status_code=503 if broken else 200)
