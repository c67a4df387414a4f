"""At most one new message per channel per second, whatever posts it.

Slack allows about one message per second per channel and answers bursts with 429s;
people cannot read faster either. A burst of effects into one channel (an alert storm's
announcements, a reminder beside a role message) is spread out here instead:

- each post reserves the channel's next free turn, a second after the one before;
- posts to one channel go out one at a time, and the next starts a second after the
  previous one was answered, so that a call slow to leave a busy process never arrives
  less than a second before the next;
- a turn more than a couple of seconds away, or a channel whose last post is still
  unanswered after that long, is not waited for while holding a delivery slot other
  incidents need: the delivery keeps its reservation and is handed back (`NotNow`), to
  come again when its turn is near.

Turns are kept per process: replicas sharing a database each pace their own posts.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from bot.errors import NotNow

# Waiting longer than this for a turn would hold a slot other incidents need.
MAX_WAIT_SECONDS = 2.0
# A reservation nobody came back for (the delivery went to another process) is dropped.
RESERVATION_LIFETIME = 600.0


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
        self._reserved: dict[tuple[str, str], float] = {}
        self._last_done: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def take_turn(self, channel_id: str, *, key: str | None = None) -> Callable[[], None]:
        """Wait for the channel's turn for one post; returns what to call once the post
        was answered (or failed). `key` names the delivery, so that one handed back
        (`NotNow`) keeps its place for when it comes again.

        Not a context manager: our errors are frozen dataclasses, and contextlib writes
        the traceback onto an exception that passes through one."""
        if self._interval <= 0:
            return _nothing
        now = self._monotonic()
        turn = self._reserved.pop((channel_id, key), None) if key is not None else None
        if turn is None:
            turn = max(now, self._next_turn.get(channel_id, now))
            if turn - now > self._max_wait and key is None:
                # Nowhere to keep a place for it: it takes one when it comes again.
                raise NotNow("channel_paced", retry_after=turn - now, detail=channel_id)
            self._next_turn[channel_id] = turn + self._interval
        if turn - now > self._max_wait:
            assert key is not None
            self._keep(channel_id, key, turn, now)
            raise NotNow("channel_paced", retry_after=turn - now, detail=channel_id)
        lock = self._locks.setdefault(channel_id, asyncio.Lock())
        try:
            # A post to this channel that hangs (a slow platform) must not hold every
            # delivery slot waiting behind it.
            await asyncio.wait_for(lock.acquire(), timeout=self._max_wait)
        except TimeoutError:
            if key is not None:
                self._keep(channel_id, key, turn, now)
            raise NotNow("channel_busy", retry_after=self._interval, detail=channel_id) from None

        def done() -> None:
            self._last_done[channel_id] = self._monotonic()
            lock.release()

        try:
            start = max(turn, self._last_done.get(channel_id, -math.inf) + self._interval)
            wait = start - self._monotonic()
            if wait > 0:
                await self._sleep(wait)
        except BaseException:
            done()
            raise
        return done

    async def wait_turn(self, channel_id: str, *, key: str | None = None) -> None:
        """A turn for something that is not held while it runs (a private note)."""
        (await self.take_turn(channel_id, key=key))()

    def _keep(self, channel_id: str, key: str, turn: float, now: float) -> None:
        self._reserved[(channel_id, key)] = turn
        if len(self._reserved) > 1024:
            self._reserved = {
                held: at for held, at in self._reserved.items() if at > now - RESERVATION_LIFETIME
            }


def _nothing() -> None:
    pass
