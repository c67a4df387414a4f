"""`warroom stats`: a table or JSON from the database, refusals in one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from bot.incidents.status import Status
from bot.postmortem.stats_cli import stats_command
from bot.storage.database import Database, pending_migrations, upgrade_database
from bot.storage.models import Incident, TimelineEntry, TimelineKind
from bot.storage.postmortem_models import ActionItem

# Registered in bot.cli as `warroom stats`; on its own here, as the only command.
app = typer.Typer()
app.command()(stats_command)


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No policy file, and no `.env` file to read settings from."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WARROOM_CONFIG", raising=False)


def invoke(*args: str, env: dict[str, str]) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "100", **env})


def seeded(tmp_path: Path) -> dict[str, str]:
    """A SQLite file with one SEV1 acknowledged after 3 min and resolved after 1 h, two
    days ago, with an open action item: its postmortem is overdue."""
    url = f"sqlite:///{tmp_path / 'warroom.db'}"
    upgrade_database(url)
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2, hours=1)
    db = Database(url, threads=1)
    try:
        with Session(db.engine) as session, session.begin():
            incident = Incident(
                number=1,
                title="Checkout down",
                severity="SEV1",
                status=Status.RESOLVED,
                declared_by="U0DECLARER",
                started_at=started,
                resolved_at=started + timedelta(hours=1),
            )
            session.add(incident)
            session.flush()
            assert incident.id is not None
            for kind, after in (
                (TimelineKind.DECLARED, timedelta(0)),
                (TimelineKind.ACKNOWLEDGED, timedelta(minutes=3)),
                (TimelineKind.RESOLVED, timedelta(hours=1)),
            ):
                session.add(TimelineEntry(incident_id=incident.id, kind=kind, at=started + after))
            session.add(
                ActionItem(
                    incident_id=incident.id,
                    number=1,
                    text="Alert on the error rate",
                    created_by="U0DECLARER",
                    created_at=started,
                )
            )
    finally:
        db.dispose()
    return {"WARROOM_DATABASE_URL": url}


def assert_refused(result: Result, *expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    for text in expected:
        assert text in result.output


def test_a_table_by_default(tmp_path: Path) -> None:
    result = invoke(env=seeded(tmp_path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Response statistics, last 30 days (")
    assert "SEV1            1" in lines
    assert "Total           1" in lines
    assert "MTTA         3 min       3 min           1" in lines
    assert "MTTR           1 h         1 h           1" in lines
    assert "Open action items         1" in lines
    assert "Postmortems overdue       1" in lines


def test_json_for_scripts(tmp_path: Path) -> None:
    result = invoke("--format", "json", "--days", "7", env=seeded(tmp_path))
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["days"] == 7
    assert figures["incidents_by_severity"] == {"SEV1": 1, "SEV2": 0, "SEV3": 0, "SEV4": 0}
    assert figures["mtta_seconds"] == {"median": 180.0, "p90": 180.0, "count": 1}
    assert figures["mttr_seconds"] == {"median": 3600.0, "p90": 3600.0, "count": 1}
    assert (figures["open_action_items"], figures["postmortems_overdue"]) == (1, 1)
    assert result.output.startswith('{\n  "since": ')  # indented for people too


def test_a_window_too_short_for_the_incident(tmp_path: Path) -> None:
    result = invoke("--format", "json", "--days", "1", env=seeded(tmp_path))
    figures = json.loads(result.output)
    assert sum(figures["incidents_by_severity"].values()) == 0
    assert figures["mtta_seconds"] == {"median": None, "p90": None, "count": 0}
    # Owed whatever the window.
    assert (figures["open_action_items"], figures["postmortems_overdue"]) == (1, 1)


def test_a_new_sqlite_file_is_migrated_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = invoke("--format", "json", env={"WARROOM_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["open_action_items"] == 0
    assert pending_migrations(url) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--format", "csv"], "Invalid value for '--format'"),
        (["--days", "0"], "Invalid value for '--days'"),
        (["--days", "3651"], "Invalid value for '--days'"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, args: list[str], expected: str) -> None:
    result = invoke(*args, env=seeded(tmp_path))
    assert result.exit_code == 2
    assert expected in result.output


def test_an_unreachable_postgres_is_one_line() -> None:
    url = "postgresql+psycopg://warroom:hunter2@127.0.0.1:1/warroom"
    result = invoke(env={"WARROOM_DATABASE_URL": url})
    assert_refused(result, "cannot use the database at postgresql+psycopg://warroom:***@")
    assert "hunter2" not in result.output


def test_an_unsupported_database_is_one_line() -> None:
    assert_refused(
        invoke(env={"WARROOM_DATABASE_URL": "mysql://db/warroom"}), "unsupported database"
    )


def test_a_bad_policy_is_refused_as_serve_refuses_it(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("channel_name: 'no-number-{slug}'\n")
    env = {**seeded(tmp_path), "WARROOM_CONFIG": str(policy)}
    result = invoke(env=env)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "is invalid" in result.output and "must contain {number}" in result.output


def test_a_policy_file_gives_the_ladder(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("postmortem: {required: [SEV3]}\n")
    env = {**seeded(tmp_path), "WARROOM_CONFIG": str(policy)}
    figures = json.loads(invoke("--format", "json", env=env).output)
    assert figures["postmortems_overdue"] == 0  # SEV1's postmortem is optional there
