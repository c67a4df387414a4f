"""Requests first: the delivery worker gives way to the requests this process is answering.

Both share one event loop and, through the GIL, one core. Slack wants its answer within
3 seconds and a person is waiting for it; a delivery can start a few milliseconds later.
Under a burst (an outage: many people declaring and commanding at once) the deliveries'
calls would otherwise take most of the CPU, and every ack would wait behind them.

The HTTP layer marks each request with `serving()`. While any is in flight, the worker's
effects run one at a time (`giving_way()`), not in all their slots: deliveries slow to a
trickle, never stop, and are back to full speed as soon as the requests are answered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

# How long one effect may keep the others waiting while requests are being answered.
TURN_SECONDS = 0.05


class Foreground:
    def __init__(self) -> None:
        self._in_flight = 0
        self._one_at_a_time = asyncio.Semaphore(1)

    @property
    def busy(self) -> bool:
        return self._in_flight > 0

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Around the answering of one request."""
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1

    @contextlib.asynccontextmanager
    async def giving_way(self) -> AsyncIterator[None]:
        """Around one delivery's effect: while requests are being answered, effects take
        turns, each holding the turn for at most `TURN_SECONDS`: a call that hangs (a
        pager that never answers) must not hold every other incident's effects."""
        if not self._in_flight:
            yield
            return
        await self._one_at_a_time.acquire()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._one_at_a_time.release()

        handle = asyncio.get_running_loop().call_later(TURN_SECONDS, release)
        try:
            yield
        finally:
            handle.cancel()
            release()
