"""An activity within what the Bot Connector accepts, however long the Markdown.

First the longest list gives up lines (on a card, the timeline): its first and last ones
stay, a line in their place says how many are left out. Only when lists cannot make room
is the text itself cut, at a line's end where one is near.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from bot.chat.teams.card_text import list_item, reference_spans

# Bytes of the serialized activity: Teams refuses a larger message.
ACTIVITY_LIMIT = 28_672
CUT_NOTICE = "… (cut to fit Teams' message size)"
_FENCE_MARK = "```"

Build = Callable[[str], dict[str, Any]]


def activity_size(activity: dict[str, Any]) -> int:
    """The activity's size as the Bot Connector counts it: compact UTF-8 JSON."""
    return len(json.dumps(activity, separators=(",", ":"), ensure_ascii=False).encode())


def left_out(count: int) -> str:
    return f"- … {count} more lines (/incident timeline)"


_LEFT_OUT = re.compile(r"- … \d+ more lines \(/incident timeline\)$")


def fitted(markdown: str, build: Build, *, limit: int = ACTIVITY_LIMIT) -> dict[str, Any]:
    """`build(markdown)`, with as much of the Markdown as fits in `limit` bytes."""
    activity = build(markdown)
    if activity_size(activity) <= limit:
        return activity
    while (longest := _longest_list(markdown)) is not None:
        markdown, activity = _shortened_list(markdown, longest, build, limit)
        if activity_size(activity) <= limit:
            return activity
    return _cut_to_fit(markdown, build, limit)


def _list_runs(lines: list[str]) -> list[tuple[int, int]]:
    """Where the lists are, outside code: (first line, line after the last)."""
    found: list[tuple[int, int]] = []
    in_code = False
    start: int | None = None
    for index, line in enumerate(lines):
        if line.startswith(_FENCE_MARK):
            in_code = not in_code
            is_item = False
        else:
            is_item = not in_code and list_item(line) is not None
        if is_item and start is None:
            start = index
        elif not is_item and start is not None:
            found.append((start, index))
            start = None
    if start is not None:
        found.append((start, len(lines)))
    return found


def _longest_list(markdown: str) -> tuple[int, int] | None:
    """The list with the most lines, of those that can still give some up."""
    lines = markdown.split("\n")
    shrinkable = [
        (start, end)
        for start, end in _list_runs(lines)
        if end - start > 1 and not any(_LEFT_OUT.match(line) for line in lines[start:end])
    ]
    return max(shrinkable, key=lambda run: run[1] - run[0], default=None)


def _keeping(lines: list[str], run: tuple[int, int], keep: int) -> str:
    start, end = run
    items = lines[start:end]
    head, tail = (keep + 1) // 2, keep // 2
    kept = [*items[:head], left_out(len(items) - keep), *items[len(items) - tail :]]
    return "\n".join([*lines[:start], *kept, *lines[end:]])


def _shortened_list(
    markdown: str, run: tuple[int, int], build: Build, limit: int
) -> tuple[str, dict[str, Any]]:
    """The most lines of the list that fit (none, if even that does not)."""
    lines = markdown.split("\n")
    low, high = 0, run[1] - run[0] - 1  # keeping them all did not fit
    best = _keeping(lines, run, 0)
    best_activity = build(best)
    while low < high:
        keep = (low + high + 1) // 2
        candidate = _keeping(lines, run, keep)
        activity = build(candidate)
        if activity_size(activity) <= limit:
            low, best, best_activity = keep, candidate, activity
        else:
            high = keep - 1
    return best, best_activity


def cut_markdown(markdown: str, length: int) -> str:
    """The first `length` characters or fewer, ended at a line's end when one is near,
    never inside an escape or a reference, with a line saying it was cut."""
    if length >= len(markdown):
        return markdown
    line_end = markdown.rfind("\n", 0, length + 1)
    cut = line_end if line_end >= length * 0.8 else length
    for start, end in reference_spans(markdown, until=cut):
        if start < cut < end:
            cut = start
    kept = markdown[:cut].rstrip()
    fences = sum(1 for line in kept.split("\n") if line.startswith(_FENCE_MARK))
    if fences % 2:
        kept += "\n" + _FENCE_MARK  # a code block cut open would swallow the notice
    return f"{kept}\n\n{CUT_NOTICE}" if kept else CUT_NOTICE


def _cut_to_fit(markdown: str, build: Build, limit: int) -> dict[str, Any]:
    """The longest prefix of the Markdown that fits (which alone does not)."""
    best = build(cut_markdown(markdown, 0))
    if activity_size(best) > limit:
        raise ValueError(
            f"an activity is over {limit} bytes without any of its text: its buttons or "
            "summary are too large"
        )
    # Lengths that fit, then one that does not: doubled from a guess, since every build
    # converts the whole prefix and the Markdown may be far longer than anything that fits.
    low, high = 0, len(markdown)
    probe = limit // 2
    while probe < high:
        activity = build(cut_markdown(markdown, probe))
        if activity_size(activity) > limit:
            high = probe
            break
        low, best = probe, activity
        probe *= 2
    while high - low > 1:
        length = (low + high) // 2
        activity = build(cut_markdown(markdown, length))
        if activity_size(activity) <= limit:
            low, best = length, activity
        else:
            high = length
    return best
