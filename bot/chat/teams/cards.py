"""Our messages as Bot Framework activities for Teams: an Adaptive Card 1.5 for a
`Message` (its Markdown in TextBlocks, its buttons as Action.Execute), plain text for a
short answer; and our forms as cards (bot.chat.teams.card_forms).

Teams does not notify anyone named inside a card, so the people a card names are also
mentioned in the activity's text (`<at>Name</at>`, with a mention entity each), and the
card shows them as "@Name".
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType
from typing import Any

from bot.chat.port import Button, Message
from bot.chat.teams.card_elements import CARD_CONTENT_TYPE, adaptive_card, text_block
from bot.chat.teams.card_forms import form_card, submitted_context, submitted_values
from bot.chat.teams.card_size import ACTIVITY_LIMIT, activity_size, fitted
from bot.chat.teams.card_text import (
    Code,
    Heading,
    Names,
    Paragraph,
    TeamsMarkdown,
    literal,
    mention_text,
    message_text,
    referenced_users,
    runs,
    sections,
)

__all__ = [
    "ACTIVITY_LIMIT",
    "CARD_CONTENT_TYPE",
    "Names",
    "activity_size",
    "form_card",
    "message_activity",
    "submitted_context",
    "submitted_values",
    "text_activity",
]

NO_NAMES: Names = MappingProxyType({})
# The notification's preview: a line, not the message.
SUMMARY_LIMIT = 500
_HEADING_SIZES = {1: "Large", 2: "Medium"}
_ACTION_STYLES = {"primary": "positive", "danger": "destructive"}


def card_body(markdown: str, names: Names) -> list[dict[str, Any]]:
    """The Markdown as TextBlocks: a heading each, a block per line of a paragraph (a
    single line break is no break in Markdown), one per list, one per code block."""
    convert = TeamsMarkdown(names)
    body: list[dict[str, Any]] = []
    for section in sections(markdown):
        match section:
            case Heading(level=level, text=text):
                size = _HEADING_SIZES.get(level, "Default")
                body.append(
                    text_block(convert.heading(text), size=size, weight="Bolder", style="heading")
                )
            case Code(lines=lines):
                # Each line a paragraph of its own, for the same reason as above.
                code = "\n\n".join(convert.code_line(line) for line in lines)
                body.append(text_block(code, fontType="Monospace"))
            case Paragraph(lines=lines):
                for index, (is_list, run) in enumerate(runs(lines)):
                    if is_list:
                        block = text_block("\n".join(convert.list_item(item) for item in run))
                    else:
                        block = text_block(convert.line(run[0]))
                    if index:
                        block["spacing"] = "None"  # the lines of one paragraph, together
                    body.append(block)
    return body


def card_action(button: Button) -> dict[str, Any]:
    action: dict[str, Any] = {
        "type": "Action.Execute",
        "title": button.label,
        "verb": button.action,
        "data": {"value": button.value},
    }
    if style := _ACTION_STYLES.get(button.style or ""):
        action["style"] = style
    if button.confirm:
        # An Adaptive Card has no "are you sure?" step of its own. A sub-card asking
        # again (Action.ShowCard) would move the button's verb out of the card's actions,
        # where the press is read; so the button acts at once, and the question it would
        # have asked is its tooltip (Adaptive Cards 1.5): shown on hover and read out by
        # screen readers before anyone presses.
        action["tooltip"] = button.confirm
    return action


def mention_entities(mentioned: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Teams' mention entities, (id, name) each: the text of each occurs in the activity's."""
    return [
        {"type": "mention", "text": mention_text(name), "mentioned": {"id": user, "name": name}}
        for user, name in mentioned
    ]


def message_activity(message: Message, *, names: Names = NO_NAMES) -> dict[str, Any]:
    """A message as an activity carrying one card, within ACTIVITY_LIMIT."""
    actions = [card_action(button) for button in message.buttons]

    def build(markdown: str) -> dict[str, Any]:
        body = card_body(markdown, names)
        if not body and message.fallback:
            body = [text_block(literal(message.fallback))]
        activity: dict[str, Any] = {
            "type": "message",
            "attachments": [
                {"contentType": CARD_CONTENT_TYPE, "content": adaptive_card(body, actions)}
            ],
        }
        mentioned = [(user, names.get(user) or user) for user in referenced_users(markdown)]
        if mentioned:
            activity["text"] = " ".join(mention_text(name) for _, name in mentioned)
            activity["entities"] = mention_entities(mentioned)
        if message.fallback:
            activity["summary"] = message.fallback[:SUMMARY_LIMIT]
        return activity

    return fitted(message.markdown, build)


def text_activity(markdown: str, *, names: Names = NO_NAMES) -> dict[str, Any]:
    """A plain reply, without a card: the Markdown as Teams markdown, people mentioned."""

    def build(markdown: str) -> dict[str, Any]:
        text, mentioned = message_text(markdown, names)
        activity: dict[str, Any] = {"type": "message", "text": text}
        if mentioned:
            activity["entities"] = mention_entities(mentioned)
        return activity

    return fitted(markdown, build)
