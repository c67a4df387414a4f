"""Our Markdown as the markdown Teams renders: in a card's TextBlocks, or a message's text.

Teams renders **bold**, _italic_, `- ` lists and [links](url). User text arrives
backslash-escaped (bot.text.markdown), but Teams' clients disagree about backslash
escapes: the desktop honours them, the mobile clients show the backslash. So no escape is
sent. Each character of user text that could start markup becomes one that cannot:

- `*`, `` ` `` and `~` become look-alikes (U+2217, U+02CB, U+223C), since emphasis, code
  and strikethrough need the ASCII ones; so does `_`, except between two letters or
  digits, where it never emphasises (snake_case stays as typed);
- `<`, `&`, `]`, `\\` and `{` are followed by a zero-width space, which breaks what they
  would start: a tag such as `<at>` (a mention), an entity, a link's `](`, an escape, the
  client-side `{{DATE(…)}}` functions;
- a line that would start a list, a heading or a quote begins with a zero-width space.

References become text: `<user:ID>` the person's name after an `@` (or, in a message's
text, Teams' `<at>` mention), `<group:ID>` likewise without a notification, `<channel:ID>`
a readable label.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape as xml_escape

from bot.text.markdown import REFERENCE

Names = Mapping[str, str]  # user id -> display name; without one the id is shown

ZERO_WIDTH_SPACE = "\u200b"
NO_BREAK_SPACE = "\u00a0"
_LOOKALIKES = {"*": "\u2217", "`": "\u02cb", "~": "\u223c"}
_LOW_LINE_LOOKALIKE = "\uff3f"
_BROKEN_AFTER = frozenset("<&]\\{")
# Template text is markup already; of its characters, only these could still start a tag,
# an entity, an escape or a client-side function.
_RAW_BROKEN_AFTER = frozenset("<&\\{")
TAB_WIDTH = 4

_INLINE = re.compile(
    r"\\(?P<escaped>.)"
    r"|\*\*(?P<bold>(?:\\.|[^\\])+?)\*\*"
    r"|~~(?P<strike>(?:\\.|[^\\])+?)~~"
    r"|(?<![\w*\\])\*(?P<italic>[^\s*\\](?:(?:\\.|[^\\*])*?[^\s*\\])?)\*(?![\w*])"
    r"|\[(?P<label>(?:\\.|[^\\\]])+)\]\((?P<url>[^)\s]+)\)"
    rf"|{REFERENCE.pattern}",
    re.DOTALL,
)
# In code, and when looking for who is named, only escapes and references count.
_CODE_TOKEN = re.compile(rf"\\(?P<escaped>.)|{REFERENCE.pattern}", re.DOTALL)
_HEADING = re.compile(r"^(?P<marks>#{1,6}) +(?P<text>.*)$")
_LIST_ITEM = re.compile(r"^\s*[-*+] +(?P<item>.*)$")
# What Markdown reads at a line's start as a list, a heading, a quote or a rule.
_BLOCK_MARKER = re.compile(r"^(?:[-+#>=|]|\d{1,9}[.)](?:\s|$)|\*\s)")
_FENCE = re.compile(r"^```[^\n]*\n(?P<code>.*?)\n?```[ \t]*$", re.MULTILINE | re.DOTALL)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SPACE_RUN = re.compile(r" {2,}")
_BOLD_MARKS = re.compile(r"(?<!\\)\*\*")


def literal(text: str, *, before: str = "", after: str = "") -> str:
    """User text that Teams shows as typed; `before` and `after` are its neighbours."""
    out: list[str] = []
    for index, char in enumerate(text):
        if char in _LOOKALIKES:
            out.append(_LOOKALIKES[char])
        elif char == "_":
            previous = text[index - 1] if index else before[-1:]
            following = text[index + 1] if index + 1 < len(text) else after[:1]
            intraword = previous.isalnum() and following.isalnum()
            out.append("_" if intraword else _LOW_LINE_LOOKALIKE)
        elif char in _BROKEN_AFTER:
            out.append(char + ZERO_WIDTH_SPACE)
        else:
            out.append(char)
    return "".join(out)


def _raw(text: str) -> str:
    return "".join(c + ZERO_WIDTH_SPACE if c in _RAW_BROKEN_AFTER else c for c in text)


def _guard_line_start(text: str) -> str:
    return ZERO_WIDTH_SPACE + text if _BLOCK_MARKER.match(text) else text


def _indented(line: str) -> tuple[str, str]:
    """A line's indentation as no-break spaces (Markdown would drop it, or read four
    spaces as code), and the rest."""
    line = line.replace("\t", " " * TAB_WIDTH).rstrip()
    rest = line.lstrip(" ")
    return NO_BREAK_SPACE * (len(line) - len(rest)), rest


def mention_text(name: str) -> str:
    """Teams' mention of a person in a message's text, as the entity must repeat it."""
    return f"<at>{xml_escape(name)}</at>"


@dataclass
class TeamsMarkdown:
    """One conversion: `mentions` puts `<at>` mentions in place of people (a message's
    text; a card's text cannot notify), and records who was mentioned."""

    names: Names
    mentions: bool = False
    # (id, name) for each mention made: Teams wants an entity for every one in the text.
    mentioned: list[tuple[str, str]] = field(default_factory=list)

    def name(self, user_id: str) -> str:
        return self.names.get(user_id) or user_id

    def reference(self, kind: str, ref_id: str, *, in_code: bool = False) -> str:
        if kind == "channel":
            return literal(channel_label(ref_id, self.names))
        if kind == "user" and self.mentions and not in_code:
            self.mentioned.append((ref_id, self.name(ref_id)))
            return mention_text(self.name(ref_id))
        return "@" + literal(self.name(ref_id))

    def inline(self, markdown: str) -> str:
        """One line of our Markdown as Teams markdown."""
        out: list[str] = []
        last = 0
        for match in _INLINE.finditer(markdown):
            out.append(_raw(markdown[last : match.start()]))
            out.append(self._token(match))
            last = match.end()
        out.append(_raw(markdown[last:]))
        return "".join(out)

    def _token(self, match: re.Match[str]) -> str:
        if (escaped := match["escaped"]) is not None:
            source, start, end = match.string, match.start(), match.end()
            return literal(
                escaped, before=source[max(start - 1, 0) : start], after=source[end : end + 1]
            )
        if (bold := match["bold"]) is not None:
            return f"**{self.inline(bold)}**"
        if (strike := match["strike"]) is not None:
            return self.inline(strike)  # cards have no strikethrough: the text alone
        if (italic := match["italic"]) is not None:
            return f"_{self.inline(italic)}_"
        if (url := match["url"]) is not None:
            # Brackets in a label would end it early; parentheses read the same.
            label = match["label"].replace("\\[", "(").replace("\\]", ")")
            return f"[{self.inline(label)}]({url})"
        return self.reference(match["kind"], match["id"])

    def line(self, markdown: str) -> str:
        indent, rest = _indented(markdown)
        return indent + _guard_line_start(self.inline(rest))

    def list_item(self, item: str) -> str:
        return "- " + _guard_line_start(self.inline(item.strip()))

    def heading(self, markdown: str) -> str:
        # A heading is bold already: bold inside it would only show its asterisks.
        return _guard_line_start(self.inline(_BOLD_MARKS.sub("", markdown)))

    def code_line(self, markdown: str) -> str:
        """A line of a code block: all of it literal, its spacing kept."""
        out: list[str] = []
        last = 0
        for match in _CODE_TOKEN.finditer(markdown):
            out.append(literal(markdown[last : match.start()]))
            if match["escaped"] is not None:
                out.append(literal(match["escaped"]))
            else:
                out.append(self.reference(match["kind"], match["id"], in_code=True))
            last = match.end()
        out.append(literal(markdown[last:]))
        indent, rest = _indented("".join(out))
        rest = _SPACE_RUN.sub(lambda run: NO_BREAK_SPACE * len(run.group(0)), rest)
        return (indent + _guard_line_start(rest)) or NO_BREAK_SPACE


def channel_label(channel_id: str, names: Names) -> str:
    """A channel's name when known. An incident's "channel" in Teams is a thread of a
    channel (teams:<n>), and neither has a readable id to fall back to."""
    if known := names.get(channel_id):
        return known
    return "the incident thread" if channel_id.startswith("teams:") else "the channel"


# The Markdown's structure, as both a card and a message's text lay it out.


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Code:
    lines: tuple[str, ...]


Section = Heading | Paragraph | Code


def sections(markdown: str) -> list[Section]:
    # A carriage return alone ends no line of ours (nor escapes what follows it), but
    # Teams reads one as a list's line break: it is a space.
    markdown = markdown.replace("\r\n", "\n").replace("\r", " ")
    found: list[Section] = []
    last = 0
    for fence in _FENCE.finditer(markdown):
        found += _prose(markdown[last : fence.start()])
        found.append(Code(tuple(fence["code"].split("\n"))))
        last = fence.end()
    return found + _prose(markdown[last:])


def _prose(markdown: str) -> list[Section]:
    found: list[Section] = []
    for paragraph in _PARAGRAPH_BREAK.split(markdown):
        pending: list[str] = []
        for line in paragraph.split("\n"):
            heading = _HEADING.match(line)
            if heading is None:
                if line.strip():
                    pending.append(line)
                continue
            if pending:
                found.append(Paragraph(tuple(pending)))
                pending = []
            found.append(Heading(len(heading["marks"]), heading["text"]))
        if pending:
            found.append(Paragraph(tuple(pending)))
    return found


def list_item(line: str) -> str | None:
    """The item of a list line, or None for another line."""
    item = _LIST_ITEM.match(line)
    return item["item"] if item else None


def runs(lines: tuple[str, ...]) -> Iterator[tuple[bool, list[str]]]:
    """A paragraph's lines in runs: (True, the items of a list) or (False, [one line])."""
    items: list[str] = []
    for line in lines:
        item = list_item(line)
        if item is not None:
            items.append(item)
            continue
        if items:
            yield True, items
            items = []
        yield False, [line]
    if items:
        yield True, items


def message_text(markdown: str, names: Names) -> tuple[str, list[tuple[str, str]]]:
    """A message's text in Teams markdown, and each mention it makes (id, name).

    Each line is a paragraph of its own: a single line break is no break in Markdown."""
    convert = TeamsMarkdown(names, mentions=True)
    parts: list[str] = []
    for section in sections(markdown):
        match section:
            case Heading(text=text):
                parts.append(f"**{convert.heading(text)}**")
            case Code(lines=lines):
                parts.append("```\n" + "\n".join(map(convert.code_line, lines)) + "\n```")
            case Paragraph(lines=lines):
                for is_list, run in runs(lines):
                    if is_list:
                        parts.append("\n".join(map(convert.list_item, run)))
                    else:
                        parts.append(convert.line(run[0]))
    return "\n\n".join(parts), convert.mentioned


def referenced_users(markdown: str) -> list[str]:
    """Everyone the Markdown names, once each, in order."""
    found = (m["id"] for m in _CODE_TOKEN.finditer(markdown) if m["kind"] == "user")
    return list(dict.fromkeys(found))


def reference_spans(markdown: str, *, until: int) -> Iterator[tuple[int, int]]:
    """Where the escapes and references are, up to `until`: what a cut must not split."""
    for match in _CODE_TOKEN.finditer(markdown):
        if match.start() > until:
            return
        yield match.start(), match.end()
