"""`warroom postmortem INC-N [--format md|html] [-o FILE]`: the document of any incident
(private ones too: the command line is the operator), printed or written to a file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from bot.postmortem.export_cli import postmortem_command
from bot.storage.database import Database
from tests.unit.postmortem.test_document import GOLDEN, scratch_database, seed_incident, seed_rich

# The command as `warroom` registers it: a subcommand of a group.
warroom = typer.Typer()
warroom.callback()(lambda: None)
warroom.command("postmortem")(postmortem_command)


@pytest.fixture
def db(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The scratch database, named by the environment as an operator's shell would."""
    monkeypatch.chdir(tmp_path)  # no .env file of the repository's is read
    monkeypatch.setenv("WARROOM_DATABASE_URL", database_url)
    for name in ("WARROOM_CONFIG", "WARROOM_TEMPLATES_DIR"):
        monkeypatch.delenv(name, raising=False)
    yield from scratch_database(database_url)


def export(*args: str) -> Result:
    return CliRunner().invoke(warroom, ["postmortem", *args])


@pytest.mark.parametrize("named", ["INC-7", "inc-7", "7"])
def test_it_prints_the_markdown(db: Database, named: str) -> None:
    seed_rich(db)
    result = export(named)
    assert result.exit_code == 0, result.output
    assert result.stdout == (GOLDEN / "rich.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("chosen", "golden"), [("md", "rich.md"), ("html", "rich.html")])
def test_it_writes_either_format_to_a_file(
    db: Database, tmp_path: Path, chosen: str, golden: str
) -> None:
    seed_rich(db)
    target = tmp_path / f"out.{chosen}"
    result = export("INC-7", "--format", chosen, "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == (GOLDEN / golden).read_bytes()
    assert result.stdout == f"INC-7's postmortem ({chosen}) written to {target}\n"


def test_a_private_incident_is_the_operators_too(db: Database) -> None:
    seed_rich(db, private=True)
    result = export("INC-7")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("## Incident: INC-7 Checkout errors\n")


def test_before_the_form_the_sections_read_as_not_yet_written(db: Database) -> None:
    with Session(db.engine) as session, session.begin():
        seed_incident(session, resolution="")
    result = export("INC-7")
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.count("_Not yet written: fill in the form with /incident postmortem._") == 5
    )


@pytest.mark.parametrize("named", ["INC-99", "2147483648", "99999999999"])
def test_an_unknown_incident_is_one_red_line(db: Database, named: str) -> None:
    seed_rich(db)
    result = export(named)
    assert result.exit_code == 2
    number = named.removeprefix("INC-")
    assert result.stderr == f"there is no INC-{number}\n"
    assert result.stdout == ""


@pytest.mark.parametrize("named", ["INC-", "seven", "INC-7x", "-7"])
def test_something_else_than_an_incident_is_refused(db: Database, named: str) -> None:
    result = export("--", named)
    assert result.exit_code == 2
    assert "is not an incident: write it as INC-7 or 7" in result.stderr


def test_an_unknown_format_is_refused(db: Database) -> None:
    result = export("INC-7", "--format", "pdf")
    assert result.exit_code == 2
    assert "'pdf' is not one of 'md', 'html'" in result.output


def test_a_file_that_cannot_be_written_is_named(db: Database, tmp_path: Path) -> None:
    seed_rich(db)
    target = tmp_path / "missing" / "INC-7.md"
    result = export("INC-7", "-o", str(target))
    assert result.exit_code == 2
    assert result.stderr == f"cannot write {target}: No such file or directory\n"


def test_a_broken_override_is_named_not_a_traceback(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_rich(db)
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "postmortem.html.j2").write_text("{{ doc.no_such_field }}\n")
    monkeypatch.setenv("WARROOM_TEMPLATES_DIR", str(overrides))
    result = export("INC-7", "--format", "html")
    assert result.exit_code == 2
    assert result.stderr.startswith("template postmortem.html.j2 is broken: UndefinedError")


def test_the_command_is_documented_in_its_help() -> None:
    result = CliRunner().invoke(warroom, ["postmortem", "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    assert "INC-N" in result.output and "--format" in result.output
    assert re.search(r"--output\s+-o\s+FILE\s+Write it to FILE instead of printing", result.output)
