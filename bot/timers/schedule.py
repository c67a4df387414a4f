"""When to tick: each process sleeps until the earliest deadline it knows of.

After every tick the loop asks the database for the earliest reminder or escalation of an
open incident and sleeps until then, for at most the poll interval, or until `wake()`:
a use case that committed (a declaration, an update, a new severity may have moved a
deadline) and the periodic safety-net poll both call it. Deadlines written by another
process (several replicas on Postgres) are learned at the latest on that poll. Which
process fires a due timer is still decided in the database (SKIP LOCKED in `Timers`), so
waking early, late or in several processes at once never fires anything twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.clock import Clock
from bot.timers.ticker import Timers

log = logging.getLogger(__name__)

# Wait until the event is set or the seconds have passed, whichever comes first.
Wait = Callable[[asyncio.Event, float], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]

RETRY = timedelta(seconds=1)
# A deadline that was due before the tick began and is still there after it is being
# fired by another process (its row is locked, so we skipped it): let it commit.
CONTENDED = timedelta(milliseconds=50)


async def wait_for_wake(event: asyncio.Event, seconds: float) -> None:
    """The production `Wait`: no busy loop, the event loop's own timer."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


class TimerLoop:
    """Runs `Timers.tick` at each next deadline; `wake()` makes it look again at once."""

    def __init__(
        self,
        *,
        timers: Timers,
        clock: Clock,
        poll: timedelta,
        retry: timedelta = RETRY,
        contended: timedelta = CONTENDED,
        wait: Wait = wait_for_wake,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._timers = timers
        self._clock = clock
        self._poll = poll.total_seconds()
        self._retry = retry.total_seconds()
        self._contended = min(contended.total_seconds(), self._poll)
        self._wait = wait
        self._sleep = sleep
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """A deadline may have moved (or the poll is due): look again now. Loop thread only."""
        self._woken.set()

    @property
    def woken(self) -> bool:
        """Whether a wake is pending that the loop has not acted on yet."""
        return self._woken.is_set()

    async def run_forever(self) -> None:
        while True:
            # Cleared before the tick, not after: a wake during the tick may announce a
            # deadline the tick did not see, so the wait that follows returns at once.
            self._woken.clear()
            try:
                delay = await self.run_once()
            except Exception:  # the database may be briefly away: try again shortly
                log.exception("timer tick failed; retrying in %.1fs", self._retry)
                # Not cut short by wake(): the safety-net poll would turn the backoff into
                # a retry (and a logged traceback) every poll interval. Wakes meanwhile are
                # kept and served by the tick that follows.
                await self._sleep(self._retry)
                continue
            await self._wait(self._woken, delay)

    async def run_once(self) -> float:
        """Fire what is due; return how many seconds to sleep until the next deadline."""
        started = self._clock()
        await self._timers.tick()
        deadline = await self._timers.next_deadline()
        if deadline is None:
            return self._poll
        if deadline <= started:
            return self._contended
        # Past already (it came due during the tick): 0, tick again at once.
        return min(max((deadline - self._clock()).total_seconds(), 0.0), self._poll)
