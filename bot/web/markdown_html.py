"""A message in warroom's Markdown (the INCIDENT ACTIVE card) as an HTML fragment.

The chat templates write only a few block forms: a `# ` heading, paragraphs of
`**Label**: value` lines, and `- ` list items. Each line's inline content goes through
the postmortem document's converter (`markdown_to_html`), which escapes every piece of
text and makes only <strong> and http(s) links. User text can never start a block: the
templates' escaping turns a leading `-` or `#` into `\\-`, `\\#`.
"""

from __future__ import annotations

import re

from markupsafe import Markup

from bot.postmortem.document_inline import markdown_to_html

_HEADING = re.compile(r"^(?P<marks>#{1,6}) +(?P<text>.*)$")
_LIST_ITEM = re.compile(r"^\s*[-*+] +(?P<item>.*)$")
# The page's own <h1> and <h2> come first: a message's headings sit below them.
_FIRST_HEADING_LEVEL = 3


def message_to_html(markdown: str) -> Markup:
    blocks: list[Markup] = []
    paragraph: list[Markup] = []
    items: list[Markup] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Markup("<p>{}</p>").format(Markup("<br>\n").join(paragraph)))
            paragraph.clear()
        if items:
            listed = Markup("").join(Markup("<li>{}</li>\n").format(item) for item in items)
            blocks.append(Markup("<ul>\n{}</ul>").format(listed))
            items.clear()

    for line in markdown.splitlines():
        heading = _HEADING.match(line)
        item = _LIST_ITEM.match(line)
        if not line.strip():
            flush()
        elif heading is not None:
            flush()
            level = min(_FIRST_HEADING_LEVEL + len(heading["marks"]) - 1, 6)
            blocks.append(
                Markup("<h{0}>{1}</h{0}>").format(level, markdown_to_html(heading["text"]))
            )
        elif item is not None:
            if paragraph:
                flush()
            items.append(markdown_to_html(item["item"]))
        else:
            if items:
                flush()
            paragraph.append(markdown_to_html(line.strip()))
    flush()
    return Markup("\n").join(blocks)
