"""Shaping what a check says: one line for the channel, a capped output for the thread."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.diagnostics.results import MAX_OUTPUT_BYTES
from bot.text.durations import format_duration

__all__ = ["SUMMARY_LIMIT", "cap_output", "drop_cut_line", "one_line", "seconds_text"]

SUMMARY_LIMIT = 120
TRUNCATED = "\n… (truncated)"
_WHITESPACE = re.compile(r"\s+")
# A cut line longer than this is kept: losing it could leave nothing to read.
_LONGEST_CUT_LINE = 1024


def one_line(text: str, *, limit: int = SUMMARY_LIMIT) -> str:
    line = _WHITESPACE.sub(" ", text).strip()
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def cap_output(text: str, *, cut: bool = False) -> str:
    """`text` in at most MAX_OUTPUT_BYTES of UTF-8, saying so when something is left out."""
    data = text.encode("utf-8")
    if len(data) <= MAX_OUTPUT_BYTES and not cut:
        return text
    room = MAX_OUTPUT_BYTES - len(TRUNCATED.encode("utf-8"))
    # Bytes of a character cut in two are dropped, never shown as garbage.
    kept = data[:room].decode("utf-8", errors="ignore")
    return kept.rstrip("\n") + TRUNCATED


def drop_cut_line(text: str) -> str:
    """The text without its last, partial line: a secret cut in two is not recognisable
    as one any more, so what follows the last line break is left out."""
    end = text.rfind("\n")
    if end < 0 or len(text) - end > _LONGEST_CUT_LINE:
        return text
    return text[: end + 1]


def seconds_text(duration: timedelta) -> str:
    """`5s`, `2m`, and `0.3s` for the short timeouts of tests."""
    seconds = duration.total_seconds()
    if seconds == int(seconds):
        return format_duration(duration)
    return f"{seconds:.3g}s"
