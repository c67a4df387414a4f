"""At most one new message per channel per second, whatever posts it.

Slack allows about one message per second per channel and answers bursts with 429s;
people cannot read faster either. A burst of effects into one channel (an alert storm's
announcements, a reminder beside a role message) is spread out here instead: each post
takes the channel's next free turn. A turn a few seconds away is not waited for while
holding a delivery slot: the delivery is tried again when its turn comes.

Turns are kept per process: replicas sharing a database each pace their own posts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bot.errors import DeliveryError

# Waiting longer than this for a turn would hold a slot other incidents need.
MAX_WAIT_SECONDS = 2.0
# Turns long past are forgotten once this many channels are remembered.
FORGET_AFTER = 1024


class ChannelPacer:
    def __init__(
        self,
        *,
        interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_wait: float = MAX_WAIT_SECONDS,
    ) -> None:
        self._interval = interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._max_wait = max_wait
        self._next_turn: dict[str, float] = {}

    async def wait_turn(self, channel_id: str) -> None:
        """Return when this channel may get its next message; a DeliveryError to try
        again later (with the wait as Retry-After) when the turn is too far away."""
        if self._interval <= 0:
            return
        now = self._monotonic()
        turn = max(now, self._next_turn.get(channel_id, now))
        wait = turn - now
        if wait > self._max_wait:
            raise DeliveryError("channel_paced", retry_after=wait, detail=channel_id)
        self._next_turn[channel_id] = turn + self._interval
        if len(self._next_turn) > FORGET_AFTER:
            self._forget(now)
        if wait > 0:
            await self._sleep(wait)

    def _forget(self, now: float) -> None:
        self._next_turn = {channel: t for channel, t in self._next_turn.items() if t > now}
