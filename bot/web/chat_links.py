"""Links from the web view back to chat: a message's permalink, from the chat port.

Asked only for what the page shows and has no stored link for (the card, a diagnostics
run's message, a captured message kept without one), all at once, each within a short
time: a slow chat platform costs a page a link, not its answer. Answers are kept for a
while; a platform that gives no links (Teams) answers None and the page shows none.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Collection
from datetime import datetime, timedelta

from bot.chat.port import ChatPlatform
from bot.clock import Clock
from bot.errors import DeliveryError

log = logging.getLogger(__name__)

LINK_TTL = timedelta(minutes=30)
LINK_TIMEOUT_SECONDS = 2.0
MAX_REMEMBERED = 5000
# A page asks for this many links at most (a timeline of thousands of captured messages
# shows the rest by their stored links only).
MAX_ASKED = 50

MessageAt = tuple[str, str]  # (channel id, message ref)


class ChatLinks:
    def __init__(self, *, chat: ChatPlatform, clock: Clock) -> None:
        self._chat = chat
        self._clock = clock
        self._known: OrderedDict[MessageAt, tuple[datetime, str | None]] = OrderedDict()

    async def links(self, messages: Collection[MessageAt]) -> dict[MessageAt, str]:
        """The links found for `messages` (those without one are left out)."""
        now = self._clock()
        found: dict[MessageAt, str] = {}
        asked: list[MessageAt] = []
        for message in sorted(messages):
            remembered = self._known.get(message)
            if remembered is not None and now - remembered[0] < LINK_TTL:
                if remembered[1]:
                    found[message] = remembered[1]
            elif len(asked) < MAX_ASKED:
                asked.append(message)
        answers = await asyncio.gather(*(self._ask(message) for message in asked))
        for message, (answered, link) in zip(asked, answers, strict=True):
            if not answered:
                continue  # not kept: asked again on the next page
            self._remember(message, now, link)
            if link:
                found[message] = link
        return found

    async def _ask(self, message: MessageAt) -> tuple[bool, str | None]:
        channel_id, message_ref = message
        try:
            link = await asyncio.wait_for(
                self._chat.permalink(channel_id=channel_id, message_ref=message_ref),
                timeout=LINK_TIMEOUT_SECONDS,
            )
        except (DeliveryError, TimeoutError) as error:
            log.info("web view: no link to a message in %s for now: %s", channel_id, error)
            return False, None
        # Only a web address is ever put in an href.
        if link and not link.lower().startswith(("https://", "http://")):
            link = None
        return True, link

    def _remember(self, message: MessageAt, at: datetime, link: str | None) -> None:
        self._known[message] = (at, link)
        self._known.move_to_end(message)
        while len(self._known) > MAX_REMEMBERED:
            self._known.popitem(last=False)
