"""Field types shared by the policy's sections."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from bot.policy.defaults import NEXT_BUSINESS_DAY
from bot.text.durations import format_duration, parse_duration

__all__ = ["Duration"]


def _to_timedelta(value: Any) -> Any:
    if isinstance(value, str) and value != NEXT_BUSINESS_DAY:
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: write it with a unit, like 30s, 15m or 1h")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_timedelta),
    PlainSerializer(format_duration, return_type=str),
]
