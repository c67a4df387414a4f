"""Every migration can be undone: down to base and up again leaves the schema the models
describe, on SQLite and Postgres, also when the tables hold rows (a downgrade that puts a
constraint back must cope with the rows the newer schema allowed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    inspect,
)
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401  (registers the tables)
from bot.storage.database import _alembic_config, pending_migrations
from bot.storage.revisions import downgrade_database, plan_downgrade, schema_state


def _engine(url: str) -> Engine:
    return create_engine(url)


def assert_schema_matches_the_models(url: str) -> None:
    assert pending_migrations(url) == []
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(
                MigrationContext.configure(connection), SQLModel.metadata
            )
    finally:
        engine.dispose()
    assert differences == []


def assert_nothing_left(url: str) -> None:
    engine = _engine(url)
    try:
        found = inspect(engine)
        assert found.get_table_names() == ["alembic_version"]
        if engine.dialect.name == "postgresql":
            assert found.get_sequence_names() == []
    finally:
        engine.dispose()


def test_every_migration_goes_down_to_base_and_up_again(database_url: str) -> None:
    plan = plan_downgrade(database_url, "base")
    assert [m.revision for m in plan.undone] == list(reversed(schema_state(database_url).known))

    downgrade_database(database_url, plan)

    assert schema_state(database_url).never_migrated
    assert_nothing_left(database_url)
    command.upgrade(_alembic_config(database_url), "head")
    assert_schema_matches_the_models(database_url)


# Rows in every table -----------------------------------------------------------------

MOMENT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _value(column: Column[Any], n: int) -> Any:
    kind = column.type
    if isinstance(kind, Boolean):
        return n % 2 == 0
    if isinstance(kind, Integer):
        return n
    if isinstance(kind, Float):
        return n / 2
    if isinstance(kind, DateTime):
        return MOMENT
    if isinstance(kind, Date):
        return MOMENT.date()
    if isinstance(kind, JSON):
        return {}
    if isinstance(kind, String):
        text = f"v{n}-{column.name}"
        return text[: kind.length] if kind.length else text
    raise AssertionError(f"no sample value for {column.table.name}.{column.name}: {kind!r}")


def _rows(table: Table, inserted: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Two rows: the first with every column set, the second with only what is required
    (its nullable columns NULL, as a newer schema may allow where an older one did not)."""
    references = {
        fk.parent.name: (fk.column.table.name, fk.column.name) for fk in table.foreign_keys
    }
    rows: list[dict[str, Any]] = []
    for n in (1, 2):
        row: dict[str, Any] = {}
        for column in table.columns:
            if n == 2 and column.nullable and not column.primary_key:
                row[column.name] = None
            elif column.name in references:
                target, key = references[column.name]
                row[column.name] = inserted[target][n - 1][key]
            else:
                row[column.name] = _value(column, n)
        rows.append(row)
    return rows


def seed_every_table(url: str) -> dict[str, int]:
    engine = _engine(url)
    schema = MetaData()
    schema.reflect(engine)
    inserted: dict[str, list[dict[str, Any]]] = {}
    try:
        with engine.begin() as connection:
            for table in schema.sorted_tables:
                if table.name == "alembic_version":
                    continue
                inserted[table.name] = _rows(table, inserted)
                connection.execute(table.insert(), inserted[table.name])
    finally:
        engine.dispose()
    return {name: len(rows) for name, rows in inserted.items()}


def test_each_migration_goes_down_with_rows_in_every_table(database_url: str) -> None:
    seeded = seed_every_table(database_url)
    assert {"incident", "delivery", "timeline_entry", "alert_group"} <= set(seeded)
    known = schema_state(database_url).known

    for expected in reversed((None, *known[:-1])):  # one step at a time, -1 each
        downgrade_database(database_url, plan_downgrade(database_url, "-1"))
        assert schema_state(database_url).current == ((expected,) if expected else ())

    assert_nothing_left(database_url)
    command.upgrade(_alembic_config(database_url), "head")
    assert_schema_matches_the_models(database_url)
