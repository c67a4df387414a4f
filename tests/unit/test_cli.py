from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import cli
from bot.storage.database import pending_migrations


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
