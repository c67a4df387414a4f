"""Our Markdown to Slack Block Kit: headings become header blocks, the rest mrkdwn sections.

The Markdown is the small dialect our templates use: `# heading`, `**bold**`, `*italic*`,
`~~strike~~`, `[text](url)`, `- item`, backslash escapes (user text), and references to
people, groups and channels (`<user:U…>`, `<group:S…>`, `<channel:C…>`), which become
Slack's own mentions. Any other `<` is shown as typed.
"""

from __future__ import annotations

import re
from typing import Any

from bot.chat.port import Button, Message

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
CONFIRM_TEXT_LIMIT = 300

_INLINE = re.compile(
    r"\\(?P<escaped>.)"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|~~(?P<strike>.+?)~~"
    r"|(?<![\w*])\*(?P<italic>[^*\s](?:[^*]*[^*\s])?)\*(?![\w*])"
    r"|\[(?P<label>[^\]]+)\]\((?P<url>[^)\s]+)\)"
    r"|<(?P<ref>user|group|channel):(?P<ref_id>[A-Za-z0-9._:@-]{1,120})>"
    r"|(?P<amp>&)|(?P<lt><)|(?P<gt>>)",
    re.DOTALL,
)
_SLACK_REFERENCE = {"user": "<@{}>", "group": "<!subteam^{}>", "channel": "<#{}>"}
_LIST_ITEM = re.compile(r"^(\s*)[-*+] ", re.MULTILINE)


def slack_escape(text: str) -> str:
    """Slack's three control characters, for literal text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    def replace(match: re.Match[str]) -> str:
        group = match.lastgroup
        value = match.group(group) if group else ""
        match group:
            case "escaped":
                return slack_escape(value)
            case "bold":
                return f"*{to_mrkdwn(value)}*"
            case "italic":
                return f"_{to_mrkdwn(value)}_"
            case "strike":
                return f"~{to_mrkdwn(value)}~"
            case "url":  # the last group of a link; its label comes before it
                return f"<{value}|{slack_escape(_plain(match.group('label')))}>"
            case "ref_id":  # the last group of a reference; its kind comes before it
                return _SLACK_REFERENCE[match.group("ref")].format(value)
            case "amp":
                return "&amp;"
            case "lt":
                return "&lt;"
            case "gt":
                return "&gt;"
        return match.group(0)

    return _INLINE.sub(replace, _LIST_ITEM.sub(r"\1• ", markdown))


def to_plain(markdown: str) -> str:
    """For Slack's plain-text places (form errors): references shown as their ids."""
    return _plain(_REFERENCE_TEXT.sub(r"\g<id>", markdown))


_REFERENCE_TEXT = re.compile(r"<(?:user|group|channel):(?P<id>[A-Za-z0-9._:@-]{1,120})>")


def _plain(markdown: str) -> str:
    """Markdown reduced to its text, for places without formatting (headers, buttons)."""
    text = re.sub(r"\\(.)", r"\1", markdown)
    return re.sub(r"\*\*|~~", "", text)


def _sections(paragraph_block: list[str]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    chunk = ""
    for paragraph in paragraph_block:
        text = to_mrkdwn(paragraph)
        for piece in _split(text, SECTION_LIMIT):
            if chunk and len(chunk) + 2 + len(piece) > SECTION_LIMIT:
                blocks.append(_section(chunk))
                chunk = ""
            chunk = f"{chunk}\n\n{piece}" if chunk else piece
    if chunk:
        blocks.append(_section(chunk))
    return blocks


def _split(text: str, limit: int) -> list[str]:
    """Cut at line ends where possible so no section exceeds Slack's limit."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return [*pieces, text] if text else pieces


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _header(markdown: str) -> dict[str, Any]:
    text = _plain(markdown).strip()
    if len(text) > HEADER_LIMIT:
        text = text[: HEADER_LIMIT - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _actions(buttons: tuple[Button, ...]) -> dict[str, Any]:
    elements: list[dict[str, Any]] = []
    for button in buttons:
        element: dict[str, Any] = {
            "type": "button",
            "action_id": button.action,
            "text": {"type": "plain_text", "text": button.label[:BUTTON_TEXT_LIMIT], "emoji": True},
            "value": button.value,
        }
        if button.style:
            element["style"] = button.style
        if button.confirm:
            element["confirm"] = {
                "title": {"type": "plain_text", "text": "Are you sure?"},
                "text": {"type": "plain_text", "text": button.confirm[:CONFIRM_TEXT_LIMIT]},
                "confirm": {"type": "plain_text", "text": button.label[:BUTTON_TEXT_LIMIT]},
                "deny": {"type": "plain_text", "text": "Cancel"},
                "style": button.style or "primary",
            }
        elements.append(element)
    return {"type": "actions", "elements": elements}


def to_block_pages(markdown: str) -> list[list[dict[str, Any]]]:
    """Long text (a whole timeline) as pages of blocks, each a valid message: nothing cut."""
    blocks = _markdown_blocks(markdown)
    return [blocks[i : i + MAX_BLOCKS] for i in range(0, len(blocks), MAX_BLOCKS)] or [[]]


# A code block (a command's output): kept whole, in sections of its own.
_FENCE = re.compile(r"^```\n(?P<code>.*?)\n?```$", re.MULTILINE | re.DOTALL)
_FENCE_MARKS = len("```\n\n```")


def _markdown_blocks(markdown: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    last = 0
    for fence in _FENCE.finditer(markdown):
        blocks.extend(_prose_blocks(markdown[last : fence.start()]))
        code = to_mrkdwn(fence.group("code"))
        blocks.extend(
            _section(f"```\n{piece}\n```") for piece in _split(code, SECTION_LIMIT - _FENCE_MARKS)
        )
        last = fence.end()
    blocks.extend(_prose_blocks(markdown[last:]))
    return blocks


def _prose_blocks(markdown: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    pending: list[str] = []
    for paragraph in re.split(r"\n\s*\n", markdown.strip()):
        if paragraph.startswith("# "):
            blocks.extend(_sections(pending))
            pending = []
            blocks.append(_header(paragraph[2:].split("\n", 1)[0]))
            pending.extend(paragraph.split("\n", 1)[1:])
        elif paragraph.strip():
            pending.append(paragraph)
    blocks.extend(_sections(pending))
    return blocks


def to_blocks(message: Message) -> list[dict[str, Any]]:
    """Blocks for a message, within Slack's per-message limits whatever the content."""
    blocks = _markdown_blocks(message.markdown)
    reserved = 1 if message.buttons else 0
    if len(blocks) > MAX_BLOCKS - reserved:
        blocks = [
            *blocks[: MAX_BLOCKS - reserved - 1],
            _section("… (cut to fit Slack's message limits)"),
        ]
    if message.buttons:
        blocks.append(_actions(message.buttons))
    return blocks
