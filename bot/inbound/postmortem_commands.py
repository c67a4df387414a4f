"""Parsing the commands of an incident's end: `postmortem`, `close`, `action …`, `stats`."""

from __future__ import annotations

import re
from datetime import date

from bot.errors import UsageError
from bot.inbound.command_types import (
    ActionAddCommand,
    ActionDoneCommand,
    ActionListCommand,
    CloseCommand,
    PostmortemCommand,
    StatsCommand,
)
from bot.text.markdown import excerpt

_INCIDENT_KEY = re.compile(r"^INC-(\d+)$", re.IGNORECASE)
_USER = re.compile(r"^<user:([A-Za-z0-9._:@-]{1,120})>$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_ACTION_TEXT = 500
MAX_STATS_DAYS = 3650


def split_key(rest: str) -> tuple[int | None, str]:
    """`INC-7 the rest` -> (7, "the rest"); no key -> (None, rest)."""
    words = rest.split(maxsplit=1)
    if words and (match := _INCIDENT_KEY.match(words[0])):
        return int(match.group(1)), (words[1] if len(words) > 1 else "")
    return None, rest


def parse_postmortem(rest: str) -> PostmortemCommand:
    number, rest = split_key(rest)
    word = rest.strip().lower()
    if word not in ("", "export"):
        raise UsageError(
            f"postmortem takes `export` or nothing (got {excerpt(rest)})", usage="postmortem"
        )
    return PostmortemCommand(number, export=word == "export")


def parse_close(rest: str) -> CloseCommand:
    number, extra = split_key(rest)
    if extra.strip():
        raise UsageError(f"close takes no text (got {excerpt(extra)})", usage="close")
    return CloseCommand(number)


def parse_action(rest: str) -> ActionListCommand | ActionAddCommand | ActionDoneCommand:
    """`action [INC-N] add|list|done …`; the key may also follow the verb."""
    number, rest = split_key(rest)
    words = rest.split(maxsplit=1)
    verb = words[0].lower() if words else "list"
    rest = words[1] if len(words) > 1 else ""
    if number is None:
        number, rest = split_key(rest)
    match verb:
        case "list":
            if rest.strip():
                raise UsageError(f"action list takes no text (got {excerpt(rest)})", usage="action")
            return ActionListCommand(number)
        case "done":
            item = rest.strip().lstrip("#")
            if not item.isdigit() or not 0 < int(item) < 2**31:
                raise UsageError("action done needs the item's number, e.g. 2", usage="action")
            return ActionDoneCommand(number, int(item))
        case "add":
            return _parse_add(number, rest)
    raise UsageError(
        f"unknown action command {excerpt(verb)}; use add, list or done", usage="action"
    )


def _parse_add(number: int | None, rest: str) -> ActionAddCommand:
    """`[@owner] [due YYYY-MM-DD] <text>`: owner and due date in either order."""
    owner: str | None = None
    due: date | None = None
    words = rest.split(maxsplit=1)
    while words:
        head, tail = words[0], (words[1] if len(words) > 1 else "")
        if owner is None and (match := _USER.match(head)):
            owner = match.group(1)
        elif due is None and head.lower() == "due":
            date_word, _, tail = tail.partition(" ")
            due = _due_date(date_word)
        else:
            break
        words = tail.split(maxsplit=1)
    text = " ".join(words).strip() if words else ""
    if not text:
        raise UsageError(
            "action add needs the action's text, e.g. action add @sam due 2026-12-09 "
            "Alert on connection pool saturation",
            usage="action",
        )
    if len(text) > MAX_ACTION_TEXT:
        raise UsageError(
            f"the action is {len(text)} characters; keep it under {MAX_ACTION_TEXT}",
            usage="action",
        )
    return ActionAddCommand(number, text=text, owner=owner, due=due)


def _due_date(word: str) -> date:
    if not _DATE.match(word):
        raise UsageError(f"due needs a date as YYYY-MM-DD (got {excerpt(word)})", usage="action")
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise UsageError(f"{excerpt(word)} is not a date", usage="action") from None


def parse_stats(rest: str) -> StatsCommand:
    """`stats [days]`, also `stats --days 30` or `stats 30d`."""
    words = rest.split()
    if words and words[0] == "--days":
        words = words[1:]
    if not words:
        return StatsCommand()
    typed = words[0].lower().removesuffix("d")
    if len(words) > 1 or not typed.isdigit() or not 0 < int(typed) <= MAX_STATS_DAYS:
        raise UsageError(
            f"stats takes a number of days from 1 to {MAX_STATS_DAYS}, e.g. stats 30",
            usage="stats",
        )
    return StatsCommand(int(typed))
