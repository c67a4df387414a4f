"""The alert webhook routes, `POST /alerts/<source>`: read and checked by the glue, then
handed to the core, which stores the delivery before the 2xx goes back."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.alerts.model import AlertBatch, AlertSource
from handlers.alerts.auth import AlertCredentials
from handlers.alerts.intake import read_alert, request_schema
from handlers.http import Refusal

log = logging.getLogger(__name__)

Receive = Callable[[AlertBatch], Awaitable[dict[str, Any]]]
# Told of every answer: (source, HTTP status), for the metrics.
Answered = Callable[[str, int], None]

_SUMMARIES = {
    AlertSource.ALERTMANAGER: "Alertmanager webhook (version 4)",
    AlertSource.GRAFANA: "Grafana alerting webhook contact point",
    AlertSource.GENERIC: "Any other alert source: warroom's own small JSON",
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {"description": "Stored: what the delivery changed, and the incident it is part of"},
    400: {"description": "Not JSON (`invalid_json`)"},
    401: {"description": "Missing or wrong bearer token, or a bad Grafana signature"},
    413: {"description": "Body over 1 MiB"},
    422: {"description": "JSON that is not this source's payload; `field` names the first bad one"},
    503: {"description": "No token configured for alerts, or the database is unavailable"},
}


def add_alert_routes(
    api: FastAPI,
    *,
    receive: Receive,
    credentials: Callable[[AlertSource], AlertCredentials],
    serving: Callable[[], AbstractContextManager[None]],
    answered: Answered = lambda source, status: None,
) -> None:
    for source in AlertSource:
        api.add_api_route(
            f"/alerts/{source.value}",
            _counted(source, _endpoint(source, receive, credentials, serving), answered),
            methods=["POST"],
            summary=_SUMMARIES[source],
            tags=["alerts"],
            responses=_ERRORS,
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": request_schema(source)}},
                }
            },
        )


def _endpoint(
    source: AlertSource,
    receive: Receive,
    credentials: Callable[[AlertSource], AlertCredentials],
    serving: Callable[[], AbstractContextManager[None]],
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        batch = await read_alert(request, source=source, credentials=credentials(source))
        if isinstance(batch, Refusal):
            return JSONResponse(batch.body(), status_code=batch.status)
        try:
            with serving():
                receipt = await receive(batch)
        except Exception:
            # Not stored: the source must send it again (Alertmanager and Grafana retry
            # on a 5xx), so say so rather than pretend.
            log.exception("an alert delivery from %s could not be stored", source.value)
            refusal = Refusal(503, "unavailable", "not stored; send it again")
            return JSONResponse(refusal.body(), status_code=503)
        return JSONResponse(receipt)

    return endpoint


def _counted(
    source: AlertSource,
    endpoint: Callable[[Request], Awaitable[JSONResponse]],
    answered: Answered,
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def counted(request: Request) -> JSONResponse:
        response = await endpoint(request)
        answered(source.value, response.status_code)
        return response

    counted.__name__ = f"alerts_{source.value}"
    return counted
