"""The postgres check: against the test Postgres when WARROOM_TEST_DATABASE_URL names one
(it only reads pg_stat_activity), and against ports that refuse or never answer."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from bot.diagnostics.checks import run_check
from bot.diagnostics.results import CheckOutcome, CheckResult
from tests.support.diag_targets import closed_port
from tests.unit.diagnostics.helpers import make_check, texts

PASSWORD = "pg-s3cr3t-pass"
SUMMARY = re.compile(
    r"PostgreSQL \d+(\.\d+)* · \d+/\d+ connections · (no query running|longest query \d+\S*)"
)


def postgres_check(**fields: Any) -> Any:
    return make_check(type="postgres", dsn_env="WARROOM_DIAG_DSN", **fields)


def with_password(dsn: str) -> str:
    """`dsn` with a password the trusting test server ignores."""
    return re.sub(r"^(\w+://[^:/@]+)(@)", rf"\1:{PASSWORD}\2", dsn)


async def run(dsn: str, **fields: Any) -> CheckResult:
    return await run_check(postgres_check(**fields), environ={"WARROOM_DIAG_DSN": dsn})


async def test_a_healthy_database_passes(postgres_dsn: str) -> None:
    result = await run(postgres_dsn, warn_connections=1, fail_connections=1, warn_query_age=None)
    assert result.outcome is CheckOutcome.PASSED, result
    assert SUMMARY.fullmatch(result.summary), result.summary
    assert any(line.startswith("server version ") for line in result.details)
    assert any(line.startswith("connections in use: ") for line in result.details)
    assert result.details[0].startswith("database ")


async def test_sqlalchemy_urls_are_read_as_libpq_ones(postgres_dsn: str) -> None:
    url = postgres_dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    result = await run(url, warn_connections=1, fail_connections=1, warn_query_age=None)
    assert result.outcome is CheckOutcome.PASSED, result


async def test_connections_in_use_warn_and_fail(postgres_dsn: str) -> None:
    result = await run(postgres_dsn, warn_connections=0.001, fail_connections=1)
    assert result.outcome is CheckOutcome.WARNED, result
    result = await run(postgres_dsn, warn_connections=0.001, fail_connections=0.001)
    assert result.outcome is CheckOutcome.FAILED, result
    assert SUMMARY.fullmatch(result.summary)


@pytest.fixture
async def long_query(postgres_dsn: str) -> AsyncIterator[None]:
    """A query that runs until the test ends, on a connection of its own."""
    connection = await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True)
    running = asyncio.create_task(connection.execute("SELECT pg_sleep(30)"))
    yield
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as admin:
        await admin.execute("SELECT pg_cancel_backend(%s)", (connection.info.backend_pid,))
    with pytest.raises(psycopg.errors.QueryCanceled):
        await running
    await connection.close()


async def test_a_long_running_query_warns(postgres_dsn: str, long_query: None) -> None:
    fields = {"warn_connections": 1, "fail_connections": 1, "warn_query_age": timedelta(0)}
    deadline = time.monotonic() + 5
    result = await run(postgres_dsn, **fields)
    # The server shows the query once it has started: ask again until it does.
    while result.outcome is not CheckOutcome.WARNED and time.monotonic() < deadline:
        result = await run(postgres_dsn, **fields)
    assert result.outcome is CheckOutcome.WARNED, result
    assert "longest query" in result.summary
    assert any(line.startswith("longest running query: ") for line in result.details)


async def test_the_password_never_shows(postgres_dsn: str) -> None:
    dsn = with_password(postgres_dsn)
    assert PASSWORD in dsn
    result = await run(dsn)
    assert result.outcome is not CheckOutcome.FAILED, result
    assert PASSWORD not in texts(result)
    result = await run(re.sub(r"/[^/?]*(\?|$)", r"/no_such_database\1", dsn, count=1))
    assert result.outcome is CheckOutcome.FAILED
    assert "no_such_database" in result.summary
    assert PASSWORD not in texts(result)


async def test_a_refused_connection_names_no_password() -> None:
    dsn = f"postgresql://app:{PASSWORD}@127.0.0.1:{closed_port()}/app"
    result = await run(dsn)
    assert result.outcome is CheckOutcome.FAILED
    assert result.summary.endswith("failed: Connection refused"), result.summary
    assert PASSWORD not in texts(result)
    result = await run(f"host=127.0.0.1 port={closed_port()} password={PASSWORD} dbname=app")
    assert result.outcome is CheckOutcome.FAILED
    assert PASSWORD not in texts(result)


async def test_a_server_that_never_answers_times_out(hung_port: int) -> None:
    dsn = f"postgresql://app:{PASSWORD}@127.0.0.1:{hung_port}/app"
    started = time.perf_counter()
    result = await run(dsn, timeout=timedelta(milliseconds=300))
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "timed out after 0.3s")
    assert time.perf_counter() - started < 1.5
    assert PASSWORD not in texts(result)


async def test_a_connection_string_that_does_not_parse() -> None:
    result = await run(f"host=db password {PASSWORD}")
    assert (result.outcome, result.summary) == (
        CheckOutcome.FAILED,
        "$WARROOM_DIAG_DSN is not a PostgreSQL connection string",
    )
    assert PASSWORD not in texts(result)


async def test_an_unset_dsn_variable() -> None:
    result = await run_check(postgres_check(), environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "$WARROOM_DIAG_DSN is not set")
