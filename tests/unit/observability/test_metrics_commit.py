"""An observation noted in a transaction counts once it has committed, and never for a
transaction (or savepoint) rolled back, nor twice when a group is run again one by one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.observability.metrics_commit import once_committed
from bot.storage.database import Database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    # One database thread (Postgres too): transactions queued together run as one group.
    database = Database(database_url, threads=1)
    yield database
    database.dispose()


def touch(session: Session) -> None:
    """Some real work, so the transaction is a real one."""
    session.execute(text("SELECT 1"))


async def test_an_observation_waits_for_the_commit(db: Database) -> None:
    seen: list[str] = []

    def work(session: Session) -> int:
        touch(session)
        once_committed(session, lambda: seen.append("declared"))
        assert seen == []  # not while the transaction may still roll back
        return len(seen)

    assert await db.transaction(work) == 0
    assert seen == ["declared"]


async def test_a_rolled_back_transaction_counts_nothing(db: Database) -> None:
    seen: list[str] = []

    def work(session: Session) -> None:
        touch(session)
        once_committed(session, lambda: seen.append("declared"))
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        await db.transaction(work)
    assert seen == []


async def test_a_savepoint_rolled_back_takes_only_its_own_observations(db: Database) -> None:
    seen: list[str] = []

    def work(session: Session) -> None:
        touch(session)
        once_committed(session, lambda: seen.append("first"))
        with session.begin_nested():
            once_committed(session, lambda: seen.append("kept"))
        try:
            with session.begin_nested():
                once_committed(session, lambda: seen.append("undone"))
                with session.begin_nested():  # nested deeper: undone with its savepoint
                    once_committed(session, lambda: seen.append("undone too"))
                raise ValueError("one bad alert body")
        except ValueError:
            pass
        assert seen == []  # a savepoint released is no commit yet

    await db.transaction(work)
    assert seen == ["first", "kept"]


async def test_a_savepoint_released_then_rolled_back_with_its_transaction(db: Database) -> None:
    seen: list[str] = []

    def work(session: Session) -> None:
        touch(session)
        with session.begin_nested():
            once_committed(session, lambda: seen.append("released"))
        raise RuntimeError("fails after the savepoint")

    with pytest.raises(RuntimeError):
        await db.transaction(work)
    assert seen == []


async def test_a_failing_group_run_again_one_by_one_counts_each_once(db: Database) -> None:
    """Transactions queued together run as one group; when one fails, the group rolls back
    and each runs again alone: the one that succeeds is counted once, not twice."""
    seen: list[str] = []
    ran: list[str] = []
    started, release = threading.Event(), threading.Event()

    def hold(session: Session) -> None:
        started.set()
        assert release.wait(10)

    def good(session: Session) -> None:
        ran.append("good")
        touch(session)
        once_committed(session, lambda: seen.append("good"))

    def bad(session: Session) -> None:
        touch(session)
        once_committed(session, lambda: seen.append("bad"))
        raise RuntimeError("refused")

    held = asyncio.ensure_future(db.transaction(hold))
    assert await asyncio.to_thread(started.wait, 10)  # the database thread is busy now
    # Both queued while it is: taken together as one group once it is free.
    queued = [
        asyncio.ensure_future(db.transaction(good)),
        asyncio.ensure_future(db.transaction(bad)),
    ]
    await asyncio.sleep(0)  # let both reach the queue
    release.set()
    await held
    results = await asyncio.gather(*queued, return_exceptions=True)
    assert results[0] is None and isinstance(results[1], RuntimeError)
    assert ran == ["good", "good"]  # in the group that failed, then alone
    assert seen == ["good"]


def broken() -> None:
    raise ZeroDivisionError("a metric went wrong")


def test_a_failing_observation_never_fails_the_commit(database_url: str) -> None:
    seen: list[str] = []
    database = Database(database_url)
    try:
        with Session(database.engine) as session, session.begin():  # raises if it escapes
            touch(session)
            once_committed(session, broken)
            once_committed(session, lambda: seen.append("after the broken one"))
    finally:
        database.dispose()
    assert seen == ["after the broken one"]
