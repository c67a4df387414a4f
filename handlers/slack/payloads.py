"""Reading Slack's payloads defensively: a field that is missing or of the wrong type
reads as absent, never as an exception."""

from __future__ import annotations

from typing import Any

from bot.inbound.requests import Requester


def dig(value: Any, *path: str) -> Any:
    """`body["user"]["id"]`, or None if any step is missing or not a mapping."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def text_at(value: Any, *path: str) -> str | None:
    """A non-empty string at `path`, else None."""
    found = dig(value, *path)
    return found if isinstance(found, str) and found else None


def requester_of(body: Any) -> Requester | None:
    """Who pressed or submitted, and in which channel (interactions carry both)."""
    user = text_at(body, "user", "id")
    if user is None:
        return None
    channel = text_at(body, "channel", "id") or text_at(body, "container", "channel_id")
    return Requester(user_id=user, channel_id=channel)
