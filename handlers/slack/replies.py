"""Our replies as Slack shows them: ephemeral or in the channel, long text paged."""

from __future__ import annotations

from typing import Any, Protocol

from slack_bolt.async_app import AsyncRespond

from bot.chat.slack.blocks import to_block_pages, to_mrkdwn
from bot.inbound.forms import Form
from bot.inbound.requests import Reply, Visibility

# Slack accepts five messages per response_url; the last says what was left out.
RESPONSE_URL_USES = 5
FALLBACK_LIMIT = 300


class FormOpener(Protocol):
    async def open_form(self, *, trigger_id: str, form: Form) -> None: ...


def response_type(reply: Reply) -> str:
    return "in_channel" if reply.visibility is Visibility.CHANNEL else "ephemeral"


def fallback(markdown: str) -> str:
    """The plain first line, for notifications and clients that show no blocks."""
    return to_mrkdwn(markdown.strip().split("\n", 1)[0])[:FALLBACK_LIMIT]


def pages(reply: Reply) -> list[dict[str, Any]]:
    """The reply as Slack messages, each within Slack's block limits."""
    block_pages = to_block_pages(reply.markdown)
    shown, left_out = block_pages[:RESPONSE_URL_USES], block_pages[RESPONSE_URL_USES:]
    messages: list[dict[str, Any]] = []
    for number, blocks in enumerate(shown, start=1):
        if left_out and number == len(shown):
            note = f"… {len(left_out)} more pages not shown"
            blocks = [*blocks[:-1], {"type": "section", "text": {"type": "mrkdwn", "text": note}}]
        text = fallback(reply.markdown) if number == 1 else f"(page {number})"
        messages.append({"text": text, "blocks": blocks, "response_type": response_type(reply)})
    return messages


def short_text(reply: Reply) -> dict[str, Any]:
    """A one-message answer: Slack's own markup, no blocks."""
    return {"text": to_mrkdwn(reply.markdown), "response_type": response_type(reply)}


def messages(reply: Reply) -> list[dict[str, Any]]:
    """Documents as pages of blocks; anything else as one text message."""
    return pages(reply) if reply.paged else [short_text(reply)]


async def respond_with(respond: AsyncRespond, reply: Reply) -> None:
    """Answer later, through the request's response_url."""
    if not reply.markdown:
        return
    for message in messages(reply):
        await respond(**message, replace_original=False)
