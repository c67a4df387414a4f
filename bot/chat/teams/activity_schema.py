"""Every inbound activity checked against the Teams SDK's own activity models: what Teams
sends is read by Microsoft's definition of it, not by ours, and a malformed one is a 400
naming the field instead of a guess further in.

An activity type the SDK does not know (Teams adds some now and then) is no error: it is
accepted and ignored, as Teams expects of a bot.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter, ValidationError

from bot.errors import ConfigurationError

# Pydantic's codes for a discriminator it has no model for, or none at all.
_UNKNOWN_TYPE = frozenset({"union_tag_invalid", "union_tag_not_found"})
_SHOWN_ERRORS = 3


def activity_problem(activity: dict[str, Any]) -> str | None:
    """What makes the activity malformed (None: nothing, or a type warroom ignores)."""
    try:
        _activities().validate_python(activity)
    except ValidationError as error:
        errors = error.errors(include_url=False, include_input=False)
        if any(e["type"] in _UNKNOWN_TYPE for e in errors):
            return None
        tags = {activity.get("type"), activity.get("name")}
        return "; ".join(_described(e, tags) for e in errors[:_SHOWN_ERRORS])
    return None


@functools.cache
def _activities() -> TypeAdapter[Any]:
    """The SDK's models, imported on first use: the SDK is the `teams` extra's, and a
    Slack-only install never loads it (bot.chat.teams.wiring refuses Teams without it)."""
    from microsoft_teams.api import ActivityTypeAdapter

    adapter: TypeAdapter[Any] = ActivityTypeAdapter
    return adapter


def require_sdk() -> None:
    """Refuse Teams at start, in words, when the `teams` extra is not installed."""
    try:
        _activities()
    except ModuleNotFoundError as error:
        raise ConfigurationError(
            "Microsoft Teams needs the Teams SDK: pip install 'warroom[teams]'"
        ) from error


def _described(error: Any, tags: set[Any]) -> str:
    # A location starts with the unions' tags ("invoke", "adaptiveCard/action"): the
    # field follows them.
    parts = list(error["loc"])
    while parts and parts[0] in tags:
        parts.pop(0)
    where = ".".join(str(part) for part in parts) or "activity"
    return f"{where}: {error['msg']}"
