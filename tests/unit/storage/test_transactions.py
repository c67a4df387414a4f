"""Database work runs off the event loop, urgent first, grouped without mixing failures."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from bot.storage.transactions import TransactionRunner, _Job


@pytest.fixture
def engine(tmp_path: object) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path}/t.db", connect_args={"check_same_thread": False})
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE item (name TEXT PRIMARY KEY)"))
    yield engine
    engine.dispose()


def insert(name: str):  # type: ignore[no-untyped-def]
    def work(session: Session) -> str:
        session.execute(text("INSERT INTO item (name) VALUES (:name)"), {"name": name})
        return name

    return work


def names(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT name FROM item")).scalars())


async def test_a_failing_job_in_a_group_fails_alone(engine: Engine) -> None:
    runner = TransactionRunner(engine, threads=1)
    gate, started = threading.Event(), threading.Event()

    def block(session: Session) -> bool:
        started.set()
        return gate.wait(5)

    blocker = asyncio.ensure_future(runner.run(block, urgent=False))
    # Until the thread holds the blocker: the rest then queue behind it, as one group.
    assert await asyncio.to_thread(started.wait, 5)
    queued = [
        asyncio.ensure_future(runner.run(insert(name), urgent=False))
        for name in ("a", "b", "a", "c")  # the second "a" breaks the primary key
    ]
    await asyncio.sleep(0)  # one turn of the loop: each queued task enqueues its job
    gate.set()
    await blocker
    results = await asyncio.gather(*queued, return_exceptions=True)
    assert results[:2] == ["a", "b"] and results[3] == "c"
    assert isinstance(results[2], Exception)
    assert names(engine) == {"a", "b", "c"}
    runner.stop()


async def test_urgent_work_goes_first(engine: Engine) -> None:
    runner = TransactionRunner(engine, threads=1, max_group=1)
    gate = threading.Event()
    order: list[str] = []

    def note(label: str):  # type: ignore[no-untyped-def]
        return lambda session: order.append(label)

    started = threading.Event()

    def block(session: Session) -> bool:
        started.set()
        return gate.wait(5)

    blocker = asyncio.ensure_future(runner.run(block, urgent=False))
    assert await asyncio.to_thread(started.wait, 5)  # the thread holds it: the rest queue
    later = [asyncio.ensure_future(runner.run(note(f"bg{i}"), urgent=False)) for i in range(3)]
    urgent = asyncio.ensure_future(runner.run(note("urgent"), urgent=True))
    await asyncio.sleep(0)  # one turn of the loop: each queued task enqueues its job
    gate.set()
    await asyncio.gather(blocker, urgent, *later)
    assert order == ["urgent", "bg0", "bg1", "bg2"]
    runner.stop()


async def test_errors_reach_the_caller_and_roll_back(engine: Engine) -> None:
    runner = TransactionRunner(engine, threads=1)

    def half_then_fail(session: Session) -> None:
        insert("x")(session)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await runner.run(half_then_fail, urgent=True)
    assert names(engine) == set()
    runner.stop()


def test_an_answer_after_the_loop_closed_is_dropped_quietly() -> None:
    """A transaction that ends after its event loop closed (a process stopping) leaves
    no one to tell: the database thread must not die of it."""
    loop = asyncio.new_event_loop()
    future: asyncio.Future[object] = loop.create_future()
    loop.close()
    _Job(work=lambda session: None, loop=loop, future=future).settle(result=1)
