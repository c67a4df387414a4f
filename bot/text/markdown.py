"""User text inside our Markdown templates is data: escaped so it can never become markup.

A title like `<!channel>` or `**urgent**` must show as typed, ping nobody, and not
change the card's layout. Adapters turn the backslash escapes back into literal text in
their platform's own format.
"""

from __future__ import annotations

import re

# Characters that start Markdown inline syntax, or platform markup such as Slack's <...>.
_INLINE_SPECIALS = re.compile(r"([\\`*_~\[\]<>&|])")
# Line starts that would turn user text into a heading, list item or quote.
_BLOCK_START = re.compile(r"^(\s*)([#>+-])", re.MULTILINE)


class Trusted(str):
    """Markup produced by the application (a mention, a link), inserted unescaped."""

    __slots__ = ()


def escape_markdown(text: str) -> str:
    """Backslash-escape everything Markdown or chat markup could interpret."""
    if isinstance(text, Trusted):
        return text
    escaped = _INLINE_SPECIALS.sub(r"\\\1", text)
    return _BLOCK_START.sub(r"\1\\\2", escaped)


def single_line(text: str) -> str:
    """Titles and similar one-line fields: collapse newlines and runs of spaces."""
    return " ".join(text.split())
