"""What Slack sends an app, built as Slack builds it: signed bodies of slash commands,
button presses, form submissions and events. Shared by the in-process tests of the Slack
glue and the end-to-end tests of the real server."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
import uuid
from typing import Any

TEAM_ID = "T0WARROOM"
APP_ID = "A0WARROOM"


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: bytes, *, content_type: str, timestamp: int | None = None
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_signature(secret, stamp, body),
    }


def trigger_id() -> str:
    return f"{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex[:12]}"


def command_fields(text: str, *, user: str, channel: str, response_url: str) -> dict[str, str]:
    return {
        "token": "deprecated-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "warroom-tests",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/incident",
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id(),
    }


def form_body(fields: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(fields).encode()


def interaction_body(payload: dict[str, Any]) -> bytes:
    """Interactions arrive as a form with one field, `payload`, holding JSON."""
    return form_body({"payload": json.dumps(payload)})


def button_payload(
    action_id: str, value: str, *, user: str, channel: str, message_ts: str, response_url: str
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "deprecated-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id(),
        "team": {"id": TEAM_ID, "domain": "warroom-tests"},
        "channel": {"id": channel, "name": "incident"},
        "message": {"type": "message", "ts": message_ts, "text": ""},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "card-actions",
                "text": {"type": "plain_text", "text": action_id},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_submission_payload(
    view: dict[str, Any], values: dict[str, dict[str, Any]], *, user: str
) -> dict[str, Any]:
    """A modal the app opened, submitted with `values` as {block_id: {type…, value…}}."""
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "warroom-tests"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "deprecated-verification-token",
        "trigger_id": trigger_id(),
        "view": {
            **view,
            "id": "V0FORM",
            "team_id": TEAM_ID,
            "state": {"values": {block: {"value": v} for block, v in values.items()}},
            "hash": "1700000000.abc",
        },
    }


def event_body(event: dict[str, Any], *, event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": {**event, "event_ts": f"{time.time():.6f}"},
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": "U0WARBOT", "is_bot": True}],
        }
    ).encode()
