"""Fixtures shared by unit and end-to-end tests: a clock to steer, and a fresh database.

Set WARROOM_TEST_DATABASE_URL to a Postgres server URL (its database is used only to
create and drop one scratch database per test) to run the same tests on Postgres.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.storage.database import upgrade_database

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Vendored with their licences (tests/specs/README.md): a plain clone runs every test.
SPECS_DIR = PROJECT_ROOT / "tests" / "specs" / "slack"


class SteppingClock:
    """An injected clock that only moves when a test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 22, 14, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


def postgres_admin_url() -> str | None:
    return os.environ.get("WARROOM_TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database per test process, copied for each test: migrating takes
    most of a second, a copy (a file, or Postgres' CREATE DATABASE … TEMPLATE) almost
    nothing. A SQLite file's path, or a Postgres database's name."""
    admin_url = postgres_admin_url()
    if admin_url is None:
        path = tmp_path_factory.mktemp("migrated") / "warroom.db"
        upgrade_database(f"sqlite:///{path}")
        # Every connection is closed: the whole database is in the main file.
        assert not path.with_name(path.name + "-wal").exists()
        yield str(path)
        return
    name = f"warroom_tpl_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        upgrade_database(make_url(admin_url).set(database=name).render_as_string(False))
        yield name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: str) -> Iterator[str]:
    """A migrated, empty database for one test: SQLite by default, Postgres when asked."""
    admin_url = postgres_admin_url()
    if admin_url is None:
        path = tmp_path / "warroom.db"
        shutil.copyfile(migrated_template, path)
        yield f"sqlite:///{path}"
        return
    name = f"warroom_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# Fixtures that reach a database: the only tests whose outcome can differ between SQLite
# and Postgres.
DATABASE_FIXTURES = frozenset({"database_url", "postgres_dsn"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`WARROOM_TEST_DATABASE_ONLY=1` (the suite's second run, on Postgres): only the tests
    that use a database. The others (parsers, renderers, fakes, packaging) ran on the
    first run already, and nothing in them depends on the database."""
    if os.environ.get("WARROOM_TEST_DATABASE_ONLY") != "1":
        return
    kept = [i for i in items if DATABASE_FIXTURES & set(getattr(i, "fixturenames", ()))]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
