import importlib.metadata
import logging
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from bot.cli import BOLT_CLIENT_TOKEN_WARNING, _configure_logging, cli
from bot.storage.database import pending_migrations
from tests.conftest import PROJECT_ROOT


def test_db_upgrade_applies_every_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("WARROOM_DATABASE_URL", url)
    assert pending_migrations(url) != []
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "is up to date" in result.output
    assert pending_migrations(url) == []


def test_unsupported_databases_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_DATABASE_URL", "mysql://db/warroom")
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "unsupported database 'mysql'" in result.output


def test_serve_refuses_a_bad_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("channel_name: 'no-number-{slug}'\n")
    monkeypatch.setenv("WARROOM_CONFIG", str(policy))
    result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "channel_name" in result.output and "must contain {number}" in result.output


def test_check_config_with_defaults_mentions_missing_slack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WARROOM_CONFIG", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["check-config"])
    assert result.exit_code == 0
    assert "# effective policy (built-in defaults)" in result.output
    assert "name: SEV1" in result.output


# The help screens, as Typer's own examples print them -------------------------------

HELP_SCREENS = [
    [],
    ["serve"],
    ["check-config"],
    ["manifest"],
    ["db"],
    ["db", "upgrade"],
]


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "100", **(env or {})})


@pytest.mark.parametrize("command", HELP_SCREENS, ids=lambda c: " ".join(c) or "warroom")
def test_help_reads_as_typer_examples_do(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    # Typer 0.27+ prints `<str>`, `<int>` after options, and 0.29 `--help <bool>`.
    assert not re.search(r"<(bool|str|int|path)>", result.output), result.output
    assert re.search(r"--help\s+Show this message and exit\.", result.output), result.output


def test_serve_help_names_the_option_types() -> None:
    output = invoke("serve", "--help").output
    assert re.search(r"--host\s+TEXT\s+Interface to listen on \[default: 127\.0\.0\.1\]", output)
    assert re.search(r"--port\s+INTEGER\s+Port to listen on \[default: 3000\]", output)


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output == f"warroom {importlib.metadata.version('warroom')}\n"


# Refusals are one line and exit code 2 ----------------------------------------------


def assert_refused(result: Result, *expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    for text in expected:
        assert text in result.output


def test_a_bad_log_level_is_one_line() -> None:
    result = invoke("serve", "--port", "1", env={"WARROOM_LOG_LEVEL": "loud"})
    assert_refused(result, "WARROOM_LOG_LEVEL: must be one of DEBUG, INFO", "(got 'loud')")


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["db", "upgrade"]])
def test_an_unreachable_postgres_is_one_line(command: list[str]) -> None:
    url = "postgresql+psycopg://warroom:hunter2@127.0.0.1:1/warroom"
    result = invoke(*command, env={"WARROOM_DATABASE_URL": url})
    assert_refused(result, "cannot use the database at postgresql+psycopg://warroom:***@")
    assert "hunter2" not in result.output


def test_an_unopenable_sqlite_file_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'warroom.db'}"
    result = invoke("serve", "--port", "1", env={"WARROOM_DATABASE_URL": url})
    assert_refused(result, "cannot use the database at sqlite:///", "unable to open database")


def test_serve_refuses_a_broken_template(tmp_path: Path) -> None:
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "incident_active.md.j2").write_text("{% if incident %}\nno end\n")
    env = {
        "WARROOM_TEMPLATES_DIR": str(overrides),
        "WARROOM_DATABASE_URL": f"sqlite:///{tmp_path / 'warroom.db'}",
    }
    result = invoke("serve", "--port", "1", env=env)
    assert_refused(result, "template incident_active.md.j2 is broken", "line 2")


# check-config ---------------------------------------------------------------------


@pytest.fixture
def no_slack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Slack setting in the environment, and no `.env` file to read one from."""
    monkeypatch.chdir(tmp_path)
    for name in ("WARROOM_CONFIG", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {},
            "# Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (HTTP "
            "events at /slack/events), or SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode)",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1"},
            "# Slack is not configured: set SLACK_SIGNING_SECRET (HTTP events at "
            "/slack/events), or SLACK_APP_TOKEN (Socket Mode)",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"},
            "# Slack: HTTP events at /slack/events (SLACK_SIGNING_SECRET verifies them)",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"},
            "# Slack: Socket Mode (SLACK_APP_TOKEN); /slack/events answers 503 "
            "(no SLACK_SIGNING_SECRET)",
        ),
    ],
)
def test_check_config_reports_slack_both_ways(
    no_slack: None, env: dict[str, str], expected: str
) -> None:
    result = invoke("check-config", env=env)
    assert result.exit_code == 0, result.output
    assert expected in result.output.splitlines()


def test_check_config_warns_about_levels_that_call_nobody_and_misspelt_roles(
    no_slack: None, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(
        "roles: {comander: Leads.}\n"
        "escalation:\n"
        "  - {level: L1, contacts: {users: [U1]}}\n"
        "  - {level: L2, name: Tech lead}\n"
    )
    result = invoke("check-config", str(policy))
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: roles.comander: not one of the built-in roles (commander, comms, scribe), "
        "so it adds a role of its own: did you mean commander?",
        "warning: escalation L2 Tech lead: no contacts, so reaching it calls nobody "
        "(give it users, usergroups, pagerduty or webhook)",
    ]


def test_check_config_reports_the_templates(no_slack: None, tmp_path: Path) -> None:
    (tmp_path / "announcement.md.j2").write_text("Declared {{ incident.title }}\n")
    (tmp_path / "anouncement.md.j2").write_text("typo\n")
    result = invoke("check-config", env={"WARROOM_TEMPLATES_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert f"# templates: 27 compiled, 1 of them from {tmp_path}" in result.output
    assert f"warning: {tmp_path}/anouncement.md.j2 is not a template of warroom's" in (
        result.output
    )


# warroom manifest -------------------------------------------------------------------


def test_manifest_is_the_one_in_the_repository() -> None:
    result = invoke("manifest")
    assert result.exit_code == 0
    assert result.output == (PROJECT_ROOT / "manifest.yml").read_text(encoding="utf-8")


def test_manifest_with_the_public_address() -> None:
    result = invoke("manifest", "--url", "https://warroom.acme.io/")
    assert result.exit_code == 0
    manifest = yaml.safe_load(result.output)
    assert manifest["settings"]["event_subscriptions"]["request_url"] == (
        "https://warroom.acme.io/slack/events"
    )
    assert manifest["features"]["slash_commands"][0]["url"] == (
        "https://warroom.acme.io/slack/events"
    )
    assert_refused(invoke("manifest", "--url", "http://warroom.acme.io"), "https://")


# The start-up log -------------------------------------------------------------------


def test_bolt_is_not_allowed_to_warn_about_its_token_on_every_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """slack_bolt reads SLACK_BOT_TOKEN itself and warns when also given a client."""
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
    from slack_sdk.web.async_client import AsyncWebClient

    assert warning_client_prioritized_and_token_skipped() == BOLT_CLIENT_TOKEN_WARNING
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    bolt_logger = logging.getLogger("slack_bolt.AsyncApp")
    monkeypatch.setattr(bolt_logger, "filters", [])
    AsyncApp(client=AsyncWebClient(token="xoxb-1"), signing_secret="s")
    assert BOLT_CLIENT_TOKEN_WARNING in caplog.messages  # what every start logged
    caplog.clear()
    _configure_logging("INFO")
    AsyncApp(client=AsyncWebClient(token="xoxb-1"), signing_secret="s")
    assert BOLT_CLIENT_TOKEN_WARNING not in caplog.messages


def test_serve_logs_a_misspelt_role_before_anything_else(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("roles: {comander: Leads.}\n")
    env = {
        "WARROOM_CONFIG": str(policy),
        # Refused right after: no server is started.
        "WARROOM_DATABASE_URL": f"sqlite:///{tmp_path / 'no' / 'dir' / 'warroom.db'}",
    }
    assert invoke("serve", "--port", "1", env=env).exit_code == 2
    assert "policy: roles.comander: not one of the built-in roles" in caplog.text
    assert "did you mean commander?" in caplog.text
