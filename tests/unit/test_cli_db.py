"""`warroom db current`, `warroom db downgrade` and `warroom prune` on the command line:
what they print, what they change, and one line with a non-zero exit for a refusal."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlmodel import SQLModel
from typer.testing import CliRunner, Result

import bot.storage.db_cli
from bot.cli import cli
from bot.storage.models import DeliveryState, ProcessedEvent
from bot.storage.revisions import schema_state
from tests.conftest import SteppingClock

DELIVERY = SQLModel.metadata.tables["delivery"]
EVENTS = SQLModel.metadata.tables["processed_event"]


def invoke(url: str, *args: str, answer: str | None = None) -> Result:
    env = {"COLUMNS": "100", "WARROOM_DATABASE_URL": url}
    return CliRunner().invoke(cli, list(args), env=env, input=answer)


def assert_refused(result: Result, *expected: str, code: int = 2) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    for part in expected:
        assert part in result.output, result.output


def revision(url: str) -> tuple[str, ...]:
    return schema_state(url).current


def head(url: str) -> str:
    (only,) = schema_state(url).heads
    return only


def below(url: str, steps: int) -> str:
    known = schema_state(url).known
    return known[len(known) - 1 - steps]


# db current -----------------------------------------------------------------------


def test_current_at_the_head(database_url: str) -> None:
    result = invoke(database_url, "db", "current")
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"revision {head(database_url)}, the head (up to date)")


def test_current_behind_the_head_says_how_far_and_what_to_run(database_url: str) -> None:
    assert invoke(database_url, "db", "downgrade", "-2", "--yes").exit_code == 0
    result = invoke(database_url, "db", "current")
    assert result.exit_code == 0, result.output
    assert (
        f"revision {below(database_url, 2)}, 2 migration(s) behind the head {head(database_url)} "
        "(run `warroom db upgrade`)"
    ) in result.output


def test_current_of_a_database_never_migrated(database_url: str) -> None:
    assert invoke(database_url, "db", "downgrade", "base", "--yes").exit_code == 0
    result = invoke(database_url, "db", "current")
    assert result.exit_code == 0, result.output
    assert f"never migrated, no revision (the head is {head(database_url)})" in result.output


def test_current_of_a_sqlite_file_that_is_not_there_creates_none(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    result = invoke(f"sqlite:///{missing}", "db", "current")
    assert result.exit_code == 0, result.output
    assert "no such file, never migrated" in result.output
    assert not missing.exists()


def test_current_of_a_revision_this_version_does_not_know(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    engine.dispose()
    result = invoke(database_url, "db", "current")
    assert result.exit_code == 0, result.output
    assert "revision f00dcafe, which this version of warroom does not know" in result.output
    assert_refused(invoke(database_url, "db", "downgrade", "-1", "--yes"), "does not know")


# db downgrade ---------------------------------------------------------------------


def test_downgrade_asks_first_and_a_no_changes_nothing(database_url: str) -> None:
    before = revision(database_url)
    result = invoke(database_url, "db", "downgrade", "-1", answer="n\n")
    assert result.exit_code == 1, result.output
    assert f"from {head(database_url)} down to {below(database_url, 1)}" in result.output
    assert "Downgrade? [y/N]" in result.output and "nothing changed" in result.output
    assert revision(database_url) == before


def test_downgrade_without_anyone_to_answer_changes_nothing(database_url: str) -> None:
    result = invoke(database_url, "db", "downgrade", "base", answer="")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "nothing changed" in result.output
    assert revision(database_url) == (head(database_url),)


def test_downgrade_confirmed_undoes_the_migrations_it_listed(database_url: str) -> None:
    target = below(database_url, 2)
    result = invoke(database_url, "db", "downgrade", target, answer="y\n")
    assert result.exit_code == 0, result.output
    listed = re.findall(r"^  (\d{4}) ", result.output, flags=re.M)
    assert listed == [head(database_url), below(database_url, 1)]  # newest first
    assert f"is at {target} now (2 migration(s) undone)" in result.output
    assert revision(database_url) == (target,)


def test_downgrade_with_yes_asks_nothing_and_base_leaves_no_revision(database_url: str) -> None:
    result = invoke(database_url, "db", "downgrade", "base", "--yes")
    assert result.exit_code == 0, result.output
    assert "Downgrade?" not in result.output
    assert "is at base now" in result.output
    assert revision(database_url) == ()
    assert_refused(invoke(database_url, "db", "downgrade", "-1", "--yes"), "never been migrated")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("f00d", "unknown revision 'f00d': give one of 0001…"),
        ("12", "unknown revision '12'"),
        ("-0", "'-0': a relative step is written -1, -2, …"),
        ("-x", "'-x': a relative step is written -1, -2, …"),
        ("-²", "'-²': a relative step is written -1, -2, …"),
        ("-999", "-999: there are not that many migrations below"),
        ("--sure", "unknown revision '--sure'"),
    ],
)
def test_downgrade_refuses_a_revision_it_cannot_go_to(
    database_url: str, target: str, expected: str
) -> None:
    assert_refused(invoke(database_url, "db", "downgrade", target, "--yes"), expected)
    assert revision(database_url) == (head(database_url),)


def test_downgrade_refuses_to_go_up(database_url: str) -> None:
    assert invoke(database_url, "db", "downgrade", "-1", "--yes").exit_code == 0
    result = invoke(database_url, "db", "downgrade", head(database_url), "--yes")
    assert_refused(result, "is not below the current revision", "`warroom db upgrade` moves up")


def test_downgrade_to_where_it_is_has_nothing_to_do(database_url: str) -> None:
    result = invoke(database_url, "db", "downgrade", head(database_url))
    assert result.exit_code == 0, result.output
    assert "already: nothing to undo" in result.output


@pytest.mark.parametrize(
    "command",
    [["db", "current"], ["db", "downgrade", "-1", "--yes"], ["prune", "--older-than", "90d"]],
)
def test_an_unreachable_postgres_is_one_line(command: list[str]) -> None:
    url = "postgresql+psycopg://warroom:hunter2@127.0.0.1:1/warroom"
    result = invoke(url, *command)
    assert_refused(result, "cannot use the database at postgresql+psycopg://warroom:***@")
    assert "hunter2" not in result.output


# prune ----------------------------------------------------------------------------


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch, clock: SteppingClock) -> SteppingClock:
    monkeypatch.setattr(bot.storage.db_cli, "clock", clock)
    return clock


def seed(url: str, *, at: datetime, state: DeliveryState, event: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            DELIVERY.insert(),
            {
                "incident_id": None,
                "kind": "post_triage",
                "lane": "triage",
                "payload": {},
                "state": state,
                "attempts": 1,
                "created_at": at,
                "next_attempt_at": at,
                "done_at": at if state is DeliveryState.DONE else None,
            },
        )
        connection.execute(EVENTS.insert(), {"event_id": event, "received_at": at})
    engine.dispose()


def counts(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    with engine.connect() as connection:
        events = connection.execute(select(func.count()).select_from(ProcessedEvent)).scalar()
        deliveries = connection.execute(select(func.count()).select_from(DELIVERY)).scalar()
    engine.dispose()
    return int(events or 0), int(deliveries or 0)


def test_prune_removes_what_is_older_and_says_how_many(
    database_url: str, frozen: SteppingClock
) -> None:
    old = frozen.now - timedelta(days=91)
    seed(database_url, at=old, state=DeliveryState.DONE, event="Ev1")
    seed(database_url, at=old, state=DeliveryState.DONE, event="Ev2")
    seed(database_url, at=old, state=DeliveryState.PENDING, event="Ev3")
    seed(database_url, at=old, state=DeliveryState.FAILED, event="Ev4")
    seed(database_url, at=frozen.now, state=DeliveryState.DONE, event="Ev5")

    dry = invoke(database_url, "prune", "--older-than", "90d", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output == (
        "would remove 4 handled chat event(s) and 2 delivered outbox row(s) older than 90d "
        "(before 2026-08-24 14:08 UTC)\n"
    )
    assert counts(database_url) == (5, 5)

    done = invoke(database_url, "prune", "--older-than", "90d")
    assert done.exit_code == 0, done.output
    assert done.output.startswith("removed 4 handled chat event(s) and 2 delivered outbox row(s)")
    assert counts(database_url) == (1, 3)  # pending, failed and the recent one stay

    again = invoke(database_url, "prune", "--older-than", "12h")
    assert again.output.startswith("removed 0 handled chat event(s) and 0 delivered")


@pytest.mark.parametrize("age", ["90", "90x", "0d", "-5d", "d", "1.5d", "90 days", "1w", ""])
def test_prune_refuses_nonsense_with_the_usage(database_url: str, age: str) -> None:
    assert_refused(
        invoke(database_url, "prune", "--older-than", age),
        "usage: warroom prune --older-than DURATION [--dry-run], DURATION like 90d, 12h, 30m",
    )


@pytest.mark.parametrize("age", ["90d", "12h", "30m", " 7d "])
def test_prune_takes_days_hours_and_minutes(database_url: str, age: str) -> None:
    result = invoke(database_url, "prune", "--older-than", age, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"older than {age.strip()} (before " in result.output


# The help screens, as the other commands' ------------------------------------------


@pytest.mark.parametrize(
    "command", [["db", "current"], ["db", "downgrade"], ["prune"]], ids=" ".join
)
def test_help_reads_as_typer_examples_do(database_url: str, command: list[str]) -> None:
    result = invoke(database_url, *command, "--help")
    assert result.exit_code == 0, result.output
    assert not re.search(r"<(bool|str|int|path)>", result.output), result.output
    assert re.search(r"--help\s+Show this message and exit\.", result.output), result.output


def test_db_help_lists_the_new_commands(database_url: str) -> None:
    output = invoke(database_url, "db", "--help").output
    for name in ("upgrade", "current", "downgrade"):
        assert re.search(rf"^│ {name}\s", output, flags=re.M), output
