"""Work that follows an acknowledgement (Bolt's lazy listeners, with the tasks kept until
they finish and their failures logged rather than lost)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> int:
        """How many are still running (shown in /readyz)."""
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None], *, what: str) -> None:
        task = asyncio.ensure_future(self._logged(work, what))
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _logged(work: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await work
        except Exception:
            log.exception("%s failed", what)

    async def idle(self) -> None:
        """Until everything spawned so far (and what it spawned) has finished."""
        while self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """At shutdown: let what is running finish briefly, then stop it."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
