"""The door of `/slack/events`: size, signature and shape checked before Bolt parses.

Slack's own payloads are a few kilobytes; a larger body is refused unread (413). A body
that is signed but not what Slack sends (a `payload` that is not a JSON object, an
event that is not an object, bytes that are not text) gets a 400 with the reason,
never a traceback from deep inside a listener.
"""

from __future__ import annotations

import json
import urllib.parse

from slack_sdk.signature import SignatureVerifier

# Shared with the alert webhooks; still importable from here.
from handlers.http import MAX_BODY_BYTES as MAX_BODY_BYTES
from handlers.http import Refusal as Refusal
from handlers.http import read_limited as read_limited

OBJECT_FIELDS = ("user", "team", "enterprise", "channel", "container", "message", "view")


def check(body: bytes, headers: dict[str, str], verifier: SignatureVerifier) -> Refusal | None:
    """None if Bolt may take it from here."""
    try:
        text = body.decode("utf-8")  # the signature is computed over text
    except UnicodeDecodeError:
        return Refusal(400, "invalid_body", "not UTF-8 text")
    if not verifier.is_valid_request(text, headers):
        return Refusal(401, "invalid_signature")
    if headers.get("content-type", "").startswith("application/json"):
        return _check_json(text)
    return _check_form(text)


def _check_json(text: str) -> Refusal | None:
    try:
        envelope = json.loads(text)
    except ValueError:
        return Refusal(400, "invalid_body", "not JSON")
    if not isinstance(envelope, dict):
        return Refusal(400, "invalid_body", "not a JSON object")
    if "event" in envelope and not isinstance(envelope["event"], dict):
        return Refusal(400, "invalid_event", "`event` must be an object")
    return None


def _check_form(text: str) -> Refusal | None:
    try:
        fields = urllib.parse.parse_qs(text, strict_parsing=bool(text), errors="strict")
    except (ValueError, UnicodeDecodeError):
        return Refusal(400, "invalid_body", "not a form")
    if "payload" not in fields:
        return None  # a slash command: the listener checks its fields
    try:
        payload = json.loads(fields["payload"][0])
    except ValueError:
        return Refusal(400, "invalid_payload", "`payload` is not JSON")
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        return Refusal(400, "invalid_payload", "`payload` must be an object with a `type`")
    # Bolt reads these before any listener runs: each must be what Slack sends.
    for key in OBJECT_FIELDS:
        if key in payload and not isinstance(payload[key], dict):
            return Refusal(400, "invalid_payload", f"`{key}` must be an object")
    actions = payload.get("actions")
    if payload["type"] == "block_actions" and not (
        isinstance(actions, list)
        and actions
        and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    ):
        return Refusal(400, "invalid_payload", "`actions` must list the actions pressed")
    if payload["type"] == "view_submission" and not isinstance(payload.get("view"), dict):
        return Refusal(400, "invalid_payload", "`view` must be the submitted view")
    return None
