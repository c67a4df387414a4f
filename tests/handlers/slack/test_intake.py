"""The door of /slack/events: too large, unsigned or malformed requests get a 4xx with
the reason, before any listener runs."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.app import create_app
from tests.handlers.slack.conftest import SECRET, Glue
from tests.support.slack_requests import command_fields, form_body, signed_headers

FORM = "application/x-www-form-urlencoded"


async def post(glue: Glue, body: bytes, content_type: str = FORM, **headers: str) -> httpx.Response:
    app = create_app(warroom=glue.warroom)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://warroom") as client:
        return await client.post(
            "/slack/events",
            content=body,
            headers={**signed_headers(SECRET, body, content_type=content_type), **headers},
        )


async def test_a_body_past_one_mebibyte_is_refused_unread(glue: Glue) -> None:
    fields = command_fields("note " + "x" * (2 * 1024 * 1024), user="U1", channel="C1",
                            response_url="")  # fmt: skip
    response = await post(glue, form_body(fields))
    assert response.status_code == 413
    assert response.json()["error"] == "request_too_large"


async def test_a_bad_signature_is_refused(glue: Glue) -> None:
    body = form_body(command_fields("help", user="U1", channel="C1", response_url=""))
    response = await post(glue, body, **{"X-Slack-Signature": "v0=" + "0" * 64})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"payload=not-json", FORM, "invalid_payload"),
        (b"payload=%5B1%2C2%5D", FORM, "invalid_payload"),  # a JSON list
        (b"payload=null", FORM, "invalid_payload"),
        (b"payload=42", FORM, "invalid_payload"),
        (
            form_body({"payload": json.dumps({"type": "block_actions", "actions": []})}),
            FORM,
            "invalid_payload",
        ),
        (b"\xff\xfe\x00binary", FORM, "invalid_body"),
        (b'{"type": "event_callback", "event": null}', "application/json", "invalid_event"),
        (b"[1, 2]", "application/json", "invalid_body"),
    ],
)
async def test_signed_but_malformed_requests_get_a_400(
    glue: Glue, body: bytes, content_type: str, error: str
) -> None:
    response = await post(glue, body, content_type)
    assert response.status_code == 400
    assert response.json()["error"] == error
