"""Slack's markup on the way in: its mentions become our Markdown's references, its
message ids (`ts`) tell when a message was posted."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

# <@U123>, <@U123|name> (slash commands send mentions escaped this way), <#C123|name>,
# <!subteam^S123|@team>.
_MENTION = re.compile(
    r"<(?:@(?P<user>[UW][A-Z0-9]+)|#(?P<channel>C[A-Z0-9]+)|!subteam\^(?P<group>S[A-Z0-9]+))"
    r"(?:\|[^>]*)?>"
)


def from_slack_text(text: str) -> str:
    """Slack's text as our Markdown's raw text: mentions as references, `&lt;` as `<`."""

    def reference(match: re.Match[str]) -> str:
        for kind in ("user", "channel", "group"):
            if match.group(kind):
                return f"<{kind}:{match.group(kind)}>"
        return match.group(0)

    # Slack escapes &, < and > in what people type; the references are ours to keep.
    out: list[str] = []
    last = 0
    for match in _MENTION.finditer(text):
        out.append(html.unescape(text[last : match.start()]))
        out.append(reference(match))
        last = match.end()
    out.append(html.unescape(text[last:]))
    return "".join(out)


def message_time(ts: str) -> datetime | None:
    """When a message was posted: Slack's `ts` is seconds since the epoch."""
    try:
        return datetime.fromtimestamp(float(ts), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None
