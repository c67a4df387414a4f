"""warroom's own Markdown (timeline lines, references to people) for the document's
readers, as plain text or as HTML.

No chat platform reads the document, so nothing turns `<user:U123>` into a mention
there: people are shown by their ids (`@U123`), channels as `#C123`. The ids are all
that is stored; a name could only come from Slack, and would differ between exports.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from bot.text.markdown import REFERENCE

# The only inline syntax warroom's Markdown lines are made of: backslash escapes of user
# text, references, links (label escaped, address encoded by `markdown.link`) and bold.
# Whatever else a line holds is text.
_INLINE = re.compile(
    r"\\(?P<escaped>.)"
    rf"|{REFERENCE.pattern}"
    r"|\[(?P<label>(?:\\.|[^\\\]])*)\]\((?P<url>[^\s()]*)\)"
    r"|(?P<strong>\*\*)",
    re.DOTALL,
)
_WEB_ADDRESS = re.compile(r"https?://\S+$", re.IGNORECASE)


def reference_text(kind: str, identifier: str) -> str:
    return f"#{identifier}" if kind == "channel" else f"@{identifier}"


def plain_references(text: str) -> str:
    """`<user:U1>` → `@U1`, `<group:S1>` → `@S1`, `<channel:C1>` → `#C1`; the rest as is."""
    return REFERENCE.sub(lambda match: reference_text(match["kind"], match["id"]), text)


def markdown_to_plain(markdown: str) -> str:
    """Our Markdown as the text it shows: escapes undone, references as ids, links as
    their labels, bold dropped."""
    pieces: list[str] = []
    last = 0
    for match in _INLINE.finditer(markdown):
        pieces.append(markdown[last : match.start()])
        last = match.end()
        if match["escaped"] is not None:
            pieces.append(match["escaped"])
        elif match["kind"] is not None:
            pieces.append(reference_text(match["kind"], match["id"]))
        elif match["label"] is not None:
            pieces.append(markdown_to_plain(match["label"]))
    pieces.append(markdown[last:])
    return "".join(pieces)


def markdown_to_html(markdown: str) -> Markup:
    """Our Markdown as an HTML (and XHTML) fragment. Every piece of text is escaped; the
    only markup made is <strong> and <a href> to http(s) addresses."""
    pieces: list[str] = []
    last = 0
    bold = False
    for match in _INLINE.finditer(markdown):
        pieces.append(escape(markdown[last : match.start()]))
        last = match.end()
        if match["escaped"] is not None:
            pieces.append(escape(match["escaped"]))
        elif match["kind"] is not None:
            pieces.append(escape(reference_text(match["kind"], match["id"])))
        elif match["label"] is not None:
            pieces.append(_link(markdown_to_html(match["label"]), match["url"]))
        else:
            pieces.append(Markup("</strong>" if bold else "<strong>"))
            bold = not bold
    pieces.append(escape(markdown[last:]))
    if bold:  # a line cut short must not leave the rest of the page bold
        pieces.append(Markup("</strong>"))
    return Markup("").join(pieces)


def _link(label: Markup, url: str) -> Markup:
    if _WEB_ADDRESS.match(url):
        return Markup('<a href="{}">{}</a>').format(url, label)
    # Not a web address (a `javascript:` one, say): shown, never followed.
    return label + Markup(" ({})").format(url)
