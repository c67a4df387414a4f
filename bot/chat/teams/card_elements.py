"""The pieces every card is made of: the card itself and its TextBlocks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# The newest version Teams renders, on the desktop and on mobile.
CARD_VERSION = "1.5"


def adaptive_card(
    body: Sequence[dict[str, Any]], actions: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "body": list(body),
    }
    if actions:
        card["actions"] = list(actions)
    return card


def text_block(text: str, **style: str) -> dict[str, Any]:
    """Text that wraps: unwrapped, a TextBlock shows one line and cuts the rest."""
    return {"type": "TextBlock", "text": text, "wrap": True, **style}
