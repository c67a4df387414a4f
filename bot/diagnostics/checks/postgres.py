"""postgres: does the database answer, how full is it, and is a query stuck?

The DSN is a secret (it usually holds the password): it is read from the environment
variable the check names, and neither it nor its password is ever shown. psycopg's
error messages name the host and port only, but they are redacted all the same.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow

from bot.diagnostics.checks.probe import CheckFailed, Probe, Verdict
from bot.diagnostics.results import CheckOutcome
from bot.policy.diagnostics import PostgresCheck

__all__ = ["run"]

# libpq's smallest connect_timeout: it reads a smaller one as 2 seconds.
_MIN_CONNECT_TIMEOUT = 2
_APPLICATION_NAME = "warroom-diagnostics"
# SQLAlchemy's `postgresql+psycopg://` (warroom's own database URL) is libpq's `postgresql://`.
_DRIVER_SCHEME = re.compile(r"^(postgres(?:ql)?)\+\w+://")
_ACTIVITY = """
    SELECT current_setting('server_version'),
           current_setting('max_connections')::int,
           count(*) FILTER (WHERE backend_type = 'client backend'),
           count(*) FILTER (WHERE state = 'idle in transaction')
      FROM pg_stat_activity
"""
# Its own backend is left out: the check's query is always running while it looks.
_LONGEST_QUERY = """
    SELECT pid, usename, clock_timestamp() - query_start
      FROM pg_stat_activity
     WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()
       AND query_start IS NOT NULL
     ORDER BY query_start
     LIMIT 1
"""


async def run(check: PostgresCheck, probe: Probe) -> Verdict:
    dsn = _DRIVER_SCHEME.sub(r"\1://", probe.env(check.dsn_env))
    probe.add_secret(dsn)
    probe.note(_where(check, probe, dsn))
    try:
        connection = await psycopg.AsyncConnection.connect(
            dsn,
            connect_timeout=max(_MIN_CONNECT_TIMEOUT, math.ceil(check.timeout.total_seconds())),
            autocommit=True,
            application_name=_APPLICATION_NAME,
        )
    except psycopg.Error as error:
        raise _failure(probe, error) from None
    try:
        return await _inspect(check, probe, connection)
    except psycopg.Error as error:
        raise _failure(probe, error) from None
    finally:
        await connection.close()


def _where(check: PostgresCheck, probe: Probe, dsn: str) -> str:
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        # The parser's message quotes the string, secrets and all.
        raise CheckFailed(f"${check.dsn_env} is not a PostgreSQL connection string") from None
    password = params.get("password")
    if password:
        probe.add_secret(str(password))
    host = params.get("host") or "the local socket"
    port = f":{params['port']}" if params.get("port") else ""
    database = params.get("dbname") or params.get("user") or "the default database"
    user = f" as {params['user']}" if params.get("user") else ""
    return f"database {database} on {host}{port}{user}"


async def _inspect(
    check: PostgresCheck, probe: Probe, connection: psycopg.AsyncConnection[TupleRow]
) -> Verdict:
    await connection.execute("SELECT 1")
    cursor = await connection.execute(_ACTIVITY)
    version, limit, used, idle_in_transaction = _row(await cursor.fetchone())
    cursor = await connection.execute(_LONGEST_QUERY)
    longest = await cursor.fetchone()
    version_number = str(version).split()[0]
    share = used / limit if limit else 1.0
    probe.note(f"server version {version}")
    probe.note(
        f"connections in use: {used}/{limit} ({share:.0%}; warn at "
        f"{check.warn_connections:.0%}, fail at {check.fail_connections:.0%})"
    )
    probe.note(f"idle in transaction: {idle_in_transaction}")
    age = _longest_age(probe, longest)
    summary = f"PostgreSQL {version_number} · {used}/{limit} connections · " + (
        f"longest query {_age_text(age)}" if age is not None else "no query running"
    )
    if share >= check.fail_connections:
        return Verdict(CheckOutcome.FAILED, summary)
    too_old = check.warn_query_age is not None and age is not None and age > check.warn_query_age
    if share >= check.warn_connections or too_old:
        return Verdict(CheckOutcome.WARNED, summary)
    return Verdict(CheckOutcome.PASSED, summary)


def _row(row: TupleRow | None) -> tuple[str, int, int, int]:
    if row is None:
        raise CheckFailed("pg_stat_activity answered nothing")
    version, limit, used, idle_in_transaction = row
    return str(version), int(limit), int(used), int(idle_in_transaction)


def _longest_age(probe: Probe, row: TupleRow | None) -> timedelta | None:
    if row is None:
        probe.note("no other query running")
        return None
    pid, user, age = row
    if not isinstance(age, timedelta):
        return None
    probe.note(f"longest running query: {_age_text(age)} (pid {pid}, user {user})")
    return age


def _age_text(age: timedelta) -> str:
    seconds = max(int(age.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds}s" if seconds else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if minutes else f"{hours}h"


def _failure(probe: Probe, error: psycopg.Error) -> CheckFailed:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return CheckFailed(type(error).__name__)
    for line in lines[1:]:
        probe.note(line)
    return CheckFailed(lines[0].removeprefix("connection failed: "))
