"""Durations as people write them in a policy file: `30s`, `15m`, `1h`, `2d`."""

import re
from datetime import timedelta

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d{1,15})\s*([smhd])\s*$")


def parse_duration(text: str) -> timedelta:
    """Parse `15m` into a timedelta; raises ValueError naming the accepted form."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(
            f"invalid duration {text.strip()[:20]!r}: expected a number and a unit, "
            "like 30s, 15m, 1h or 2d"
        )
    amount, unit = int(match.group(1)), match.group(2)
    try:
        return timedelta(seconds=amount * _UNIT_SECONDS[unit])
    except OverflowError:
        raise ValueError(f"duration {text.strip()[:20]!r} is longer than any calendar") from None


def format_duration(value: timedelta) -> str:
    """The shortest exact policy form of a duration (`90m` stays `90m`, `3600s` is `1h`)."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_elapsed(elapsed: timedelta) -> str:
    """`4 min`, `1 h 5 min`, `2 d 3 h`: how people say durations in a channel."""
    minutes = max(int(elapsed.total_seconds() // 60), 0)
    if minutes < 1:
        return f"{max(int(elapsed.total_seconds()), 0)} s"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
