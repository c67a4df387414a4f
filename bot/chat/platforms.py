"""Which chat platform a channel id belongs to. Slack's ids are its own (C…, G…, D…);
a Teams conversation is known to the core as `teams:<n>` (bot.chat.teams.book), so an
incident's effects reach the platform it runs on, and never the other."""

from __future__ import annotations

from typing import Literal

Platform = Literal["slack", "teams"]
TEAMS_PREFIX = "teams:"
# A Teams channel named by its own id (the policy's `teams.announce_channel`).
TEAMS_CHANNEL_PREFIX = "19:"


def platform_of(channel_id: str | None) -> Platform | None:
    if channel_id is None:
        return None
    return "teams" if channel_id.startswith((TEAMS_PREFIX, TEAMS_CHANNEL_PREFIX)) else "slack"


def teams_channel(row_id: int) -> str:
    return f"{TEAMS_PREFIX}{row_id}"


def teams_row(channel_id: str) -> int | None:
    digits = channel_id.removeprefix(TEAMS_PREFIX)
    return int(digits) if channel_id.startswith(TEAMS_PREFIX) and digits.isdigit() else None
