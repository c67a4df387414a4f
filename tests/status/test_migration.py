"""Migration 0014 (the status page's tables) goes down and up again, keeping the rest."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text

from bot.storage.database import MIGRATIONS_DIR, sync_url, upgrade_database

TABLES = {"incident_component", "public_incident", "public_update"}


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    rendered = sync_url(url).render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", rendered)
    return config


def tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def current(url: str) -> str:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar())
    finally:
        engine.dispose()


def test_downgrade_drops_the_status_tables_and_upgrade_brings_them_back(
    database_url: str,
) -> None:
    assert tables(database_url) >= TABLES
    command.downgrade(alembic_config(database_url), "0013")
    assert current(database_url) == "0013"
    left = tables(database_url)
    assert not TABLES & left
    assert {"incident", "timeline_entry", "teams_person"} <= left
    upgrade_database(database_url)
    assert tables(database_url) >= TABLES
