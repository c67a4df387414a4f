"""The glue behind real routes: a small FastAPI app wired as the composition root wires
it, driven over ASGI with httpx, and its OpenAPI built from `request_schema`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import jsonschema
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.requests import Request

from bot.alerts.model import AlertBatch, AlertSource
from bot.policy.alerts import AlertSourceConfig, AlertSources
from handlers.alerts import AlertCredentials, credentials_for, read_alert, request_schema
from handlers.alerts.generic import EXAMPLE
from handlers.http import MAX_BODY_BYTES
from tests.handlers.alerts.conftest import BEARER, TOKEN, fixture

SOURCES = AlertSources(grafana=AlertSourceConfig(token_env="GRAFANA_TOKEN"))


def endpoint(
    source: AlertSource, credentials: AlertCredentials, received: list[AlertBatch]
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def route(request: Request) -> JSONResponse:
        result = await read_alert(request, source=source, credentials=credentials)
        if isinstance(result, AlertBatch):
            received.append(result)
            return JSONResponse({"ok": True, "alerts": len(result.alerts)}, status_code=202)
        return JSONResponse(result.body(), status_code=result.status)

    return route


def make_app(environ: dict[str, str], received: list[AlertBatch]) -> FastAPI:
    app = FastAPI()
    for source in AlertSource:
        credentials = credentials_for(source, SOURCES, fallback_token=TOKEN, environ=environ)
        app.add_api_route(
            f"/alerts/{source.value}",
            endpoint(source, credentials, received),
            methods=["POST"],
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": request_schema(source)}},
                }
            },
        )
    return app


@pytest.fixture
def received() -> list[AlertBatch]:
    return []


@pytest.fixture
async def client(received: list[AlertBatch]) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app({"GRAFANA_TOKEN": "gf-token"}, received)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://warroom") as client:
        yield client


async def test_each_source_accepts_its_body(
    client: httpx.AsyncClient, received: list[AlertBatch]
) -> None:
    grafana = {"Authorization": "Bearer gf-token"}
    bodies = [
        ("alertmanager", fixture("alertmanager/02-firing-two-alerts.json"), BEARER),
        ("grafana", fixture("grafana/firing.json"), grafana),
        ("generic", EXAMPLE, BEARER),
    ]
    for name, body, headers in bodies:
        response = await client.post(f"/alerts/{name}", json=body, headers=headers)
        assert response.status_code == 202, response.text
    assert [batch.source for batch in received] == list(AlertSource)


async def test_a_refusal_is_the_json_the_route_answers(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/alerts/generic", json={"title": "x", "labels": []}, headers=BEARER
    )
    assert response.status_code == 422
    assert response.json() == {
        "ok": False,
        "error": "invalid_payload",
        "field": "labels",
        "detail": "Input should be a valid dictionary",
    }
    # Grafana's own token, not the process-wide one.
    response = await client.post(
        "/alerts/grafana", json=fixture("grafana/firing.json"), headers=BEARER
    )
    assert (response.status_code, response.json()["error"]) == (401, "unauthorized")


async def test_a_body_too_large_is_refused_declared_or_streamed(client: httpx.AsyncClient) -> None:
    big = b"x" * (MAX_BODY_BYTES + 1)
    response = await client.post("/alerts/alertmanager", content=big, headers=BEARER)
    assert (response.status_code, response.json()["error"]) == (413, "request_too_large")

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(17):
            yield b" " * 65536

    response = await client.post("/alerts/alertmanager", content=stream(), headers=BEARER)
    assert (response.status_code, response.json()["error"]) == (413, "request_too_large")


@pytest.mark.parametrize("source", list(AlertSource))
async def test_the_openapi_document_carries_each_body_schema(
    client: httpx.AsyncClient, source: AlertSource
) -> None:
    document = (await client.get("/openapi.json")).json()
    schema = document["paths"][f"/alerts/{source.value}"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    assert "$ref" not in str(schema) and "$defs" not in schema
    # The schema says what the glue accepts: the real bodies validate against it.
    body = {
        AlertSource.ALERTMANAGER: fixture("alertmanager/05-truncated-max-alerts-2.json"),
        AlertSource.GRAFANA: fixture("grafana/firing.json"),
        AlertSource.GENERIC: EXAMPLE,
    }[source]
    jsonschema.Draft202012Validator(schema).validate(body)


def test_the_generic_schema_refuses_what_the_glue_refuses() -> None:
    validator = jsonschema.Draft202012Validator(request_schema(AlertSource.GENERIC))
    assert not validator.is_valid({"severity": "sev1"})
    assert not validator.is_valid({"title": "x", "severty": "sev1"})
    assert validator.is_valid({"title": "x"})


def test_each_call_returns_a_schema_of_its_own() -> None:
    schema = request_schema(AlertSource.GENERIC)
    schema["examples"][0]["title"] = "changed"
    assert request_schema(AlertSource.GENERIC)["examples"][0]["title"] == EXAMPLE["title"]
