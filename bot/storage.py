"""The database: engines, sessions and migrations. The only module that knows SQL dialects."""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
T = TypeVar("T")


class UnsupportedDatabase(ValueError):
    pass


def sync_url(url: str) -> URL:
    """The URL for synchronous tools (Alembic): SQLite via pysqlite, Postgres via psycopg 3."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    raise UnsupportedDatabase(
        f"unsupported database {backend!r}: use sqlite:///path.db or postgresql+psycopg://…"
    )


class _TransactionRunner:
    """Threads that run whole transactions, most urgent first.

    Each transaction is one hop off the event loop, not one per statement; on SQLite a
    single thread makes writers take turns in order instead of sleeping on the file lock
    in coarse steps. Urgent work (a person waiting for an answer) jumps the queue ahead of
    background deliveries.
    """

    def __init__(self, threads: int) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], None] | None]] = (
            queue.PriorityQueue()
        )
        self._order = itertools.count()
        self._threads = [
            threading.Thread(target=self._serve, name=f"warroom-db-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def _serve(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            job()

    async def run(self, work: Callable[[], T], *, urgent: bool) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def job() -> None:
            try:
                result = work()
            except BaseException as exc:  # handed to the awaiting coroutine, not lost
                loop.call_soon_threadsafe(_settle, future, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)

        self._queue.put((0 if urgent else 1, next(self._order), job))
        return await future

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put((2, next(self._order), None))


def _settle(future: asyncio.Future[T], result: T | None, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]


def _configure_sqlite(engine: Engine) -> None:
    """Transactions start with BEGIN IMMEDIATE: a deferred one that reads and then writes
    can fail at once with SQLITE_BUSY instead of waiting. WAL lets readers in other
    processes (the CLI) read during a write; busy_timeout makes them wait, not fail."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine and the unit of work: `await db.transaction(work)` runs `work(session)`
    in one transaction on a database thread and commits it (or rolls back on error)."""

    def __init__(self, url: str, *, threads: int = 8, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = sync_url(url).get_backend_name() == "sqlite"
        options: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            options["connect_args"] = {"check_same_thread": False}
        else:
            options.update(pool_size=threads, max_overflow=0, pool_pre_ping=True)
        self.engine: Engine = create_engine(sync_url(url), **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._runner = _TransactionRunner(1 if self.is_sqlite else threads)

    async def transaction(self, work: Callable[[Session], T], *, urgent: bool = False) -> T:
        def run() -> T:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                return work(session)

        return await self._runner.run(run, urgent=urgent)

    async def ping(self) -> None:
        await self.transaction(lambda session: session.execute(text("SELECT 1")), urgent=True)

    def dispose(self) -> None:
        self._runner.stop()
        self.engine.dispose()


def next_incident_number(session: Session) -> int:
    """Hand out the next incident number, unique under concurrent declarations.

    Postgres: a sequence, so concurrent declarations never wait for each other (numbers
    a rolled-back transaction took are skipped: gaps are harmless). SQLite: a counter row,
    safe because a SQLite database has one writer at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        return int(session.execute(text("SELECT nextval('incident_number_seq')")).scalar_one())
    number = session.execute(
        text(
            "UPDATE incident_counter SET last_number = last_number + 1 "
            "WHERE scope = 'incident' RETURNING last_number"
        )
    ).scalar_one_or_none()
    if number is None:
        raise RuntimeError("incident_counter has no row: run `warroom db upgrade`")
    return int(number)


def _alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's config is ConfigParser-based: a literal % must be doubled.
    config.set_main_option(
        "sqlalchemy.url", sync_url(url).render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def upgrade_database(url: str) -> None:
    """Apply every migration (blocking: call it before serving or from a thread)."""
    command.upgrade(_alembic_config(url), "head")


def pending_migrations(url: str) -> list[str]:
    """Revisions not yet applied to the database at `url`, oldest first."""
    script = ScriptDirectory.from_config(_alembic_config(url))
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    pending: list[str] = []
    for revision in script.walk_revisions():
        if revision.revision in current:
            break
        pending.append(revision.revision)
    return list(reversed(pending))
