"""The database: engines, sessions and migrations. The only module that knows SQL dialects."""

from __future__ import annotations

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

from bot.errors import ConfigurationError
from bot.storage.transactions import TransactionRunner

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
T = TypeVar("T")


def sync_url(url: str) -> URL:
    """The URL for synchronous tools (Alembic): SQLite via pysqlite, Postgres via psycopg 3."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    raise ConfigurationError(
        f"unsupported database {backend!r}: use sqlite:///path.db or postgresql+psycopg://…"
    )


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
        # SQLite: one thread, so writers take turns in order instead of sleeping on the
        # file lock in coarse steps (up to 100 ms) before trying again.
        self._runner = TransactionRunner(self.engine, threads=1 if self.is_sqlite else threads)

    async def transaction(self, work: Callable[[Session], T], *, urgent: bool = False) -> T:
        """Run `work(session)` in a transaction on a database thread; commit, or roll back
        and raise. `urgent` is for a person waiting on the answer."""
        return await self._runner.run(work, urgent=urgent)

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
        return int(
            session.connection().execute(text("SELECT nextval('incident_number_seq')")).scalar_one()
        )
    number = (
        session.connection()
        .execute(
            text(
                "UPDATE incident_counter SET last_number = last_number + 1 "
                "WHERE scope = 'incident' RETURNING last_number"
            )
        )
        .scalar_one_or_none()
    )
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
