"""The migrations build exactly the schema the models describe, on SQLite and Postgres."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401  (registers the tables)
from bot.storage.database import pending_migrations


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    assert pending_migrations(database_url) == []
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(
                MigrationContext.configure(connection), SQLModel.metadata
            )
    finally:
        engine.dispose()
    assert differences == []
