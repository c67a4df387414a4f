"""Running database work off the event loop, whole transactions at a time.

The event loop hands a function `work(session)` to a database thread and awaits its
result: one hop per transaction, not one per statement. Urgent work (a person waiting for
Slack's answer) goes ahead of background deliveries. When several transactions are
queued, a thread runs them in one database transaction and commits once ("group
commit"): under a burst of declarations the commit, the session and the thread hop are
paid once for the whole group. If any of them fails, the group is rolled back and each is
run again on its own, so one bad transaction never fails another.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

T = TypeVar("T")
URGENT, BACKGROUND, STOP = 0, 1, 2


@dataclass
class _Job:
    work: Callable[[Session], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        try:
            self.loop.call_soon_threadsafe(_settle, self.future, result, error)
        except RuntimeError:
            # The loop has closed (its process is stopping, or a test ended) while the
            # work ran: nobody is left waiting for the answer. Its commit, if any, stands.
            log.debug("a transaction ended after its event loop closed")


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class TransactionRunner:
    def __init__(self, engine: Engine, *, threads: int, max_group: int = 64) -> None:
        self._engine = engine
        self._max_group = max_group
        self._queue: queue.PriorityQueue[tuple[int, int, _Job | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._threads = [
            threading.Thread(target=self._serve, name=f"warroom-db-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    async def run(self, work: Callable[[Session], T], *, urgent: bool) -> T:
        loop = asyncio.get_running_loop()
        job = _Job(work, loop, loop.create_future())
        self._queue.put((URGENT if urgent else BACKGROUND, next(self._order), job))
        result: T = await job.future
        return result

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put((STOP, next(self._order), None))

    def _serve(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            group = [job]
            while len(group) < self._max_group:
                try:
                    priority, order, queued = self._queue.get_nowait()
                except queue.Empty:
                    break
                if queued is None:  # stopping: finish this group first
                    self._queue.put((priority, order, None))
                    break
                group.append(queued)
            if len(group) == 1:
                self._run_alone(job)
            else:
                self._run_group(group)

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    def _run_alone(self, job: _Job) -> None:
        try:
            with self._session() as session, session.begin():
                result = job.work(session)
        except BaseException as exc:  # handed to the awaiting coroutine, never lost
            job.settle(error=exc)
        else:
            job.settle(result)

    def _run_group(self, group: list[_Job]) -> None:
        results: list[Any] = []
        try:
            with self._session() as session, session.begin():
                for job in group:
                    results.append(job.work(session))
                    # Each job gets objects of its own, as if it ran alone.
                    session.flush()
                    session.expunge_all()
        except Exception:
            log.debug("a grouped transaction failed; running the group one by one")
            for job in group:
                self._run_alone(job)
            return
        for job, result in zip(group, results, strict=True):
            job.settle(result)
