"""Who a viewer signed in at an authenticating proxy is in chat: their email matched to a
chat user by profile email (the chat port's `user_by_email`).

Answers are kept for a few minutes, so that a page view costs no chat call; a failed
look-up is not kept (the viewer sees the public incidents meanwhile, and the next page
asks again).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from datetime import datetime, timedelta

from bot.chat.port import ChatPlatform
from bot.clock import Clock
from bot.errors import DeliveryError

log = logging.getLogger(__name__)

LOOKUP_TTL = timedelta(minutes=5)
LOOKUP_TIMEOUT_SECONDS = 5.0
# Distinct emails kept at most; the oldest answer goes first.
MAX_REMEMBERED = 1000
MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a path


def normalized_email(value: str) -> str | None:
    """The email a proxy's header carries, lower case; None if it does not look like one."""
    email = value.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or len(email) > MAX_EMAIL_LENGTH:
        return None
    if any(char.isspace() or char in "<>,;\"'" for char in email):
        return None
    return email


class PeopleByEmail:
    def __init__(self, *, chat: ChatPlatform, clock: Clock) -> None:
        self._chat = chat
        self._clock = clock
        self._known: OrderedDict[str, tuple[datetime, str | None]] = OrderedDict()

    async def user_of(self, email: str) -> str | None:
        """The chat user whose profile has `email` (already normalized), or None."""
        now = self._clock()
        remembered = self._known.get(email)
        if remembered is not None and now - remembered[0] < LOOKUP_TTL:
            return remembered[1]
        try:
            user = await asyncio.wait_for(
                self._chat.user_by_email(email=email), timeout=LOOKUP_TIMEOUT_SECONDS
            )
        except (DeliveryError, TimeoutError) as error:
            # The address itself stays out of the log: it names a person.
            log.warning("web view: cannot look up a viewer's chat user: %s", error)
            return None
        self._known[email] = (now, user)
        self._known.move_to_end(email)
        while len(self._known) > MAX_REMEMBERED:
            self._known.popitem(last=False)
        return user
