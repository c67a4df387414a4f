"""`warroom check-config` on the diagnostics: section: a broken check is named and the
command fails, a secret missing from the environment too; `serve` says so at start."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app import build
from bot.cli import cli
from bot.config import Settings
from bot.policy.schema import load_policy

CHECKS = """\
diagnostics:
  checks:
    - {name: database, type: postgres, dsn_env: CHECK_CONFIG_DSN}
    - {name: api-health, type: http, url: "https://api.example.com/health"}
"""


@pytest.fixture(autouse=True)
def _no_slack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "WARROOM_CONFIG",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "CHECK_CONFIG_DSN",
    ):
        monkeypatch.delenv(name, raising=False)


def check(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("definition", "named"),
    [
        ("{name: probe, type: ping, host: x}", "diagnostics.checks[0]"),
        ("{name: probe, type: http, url: 'ftp://files.example.com'}", "not an http"),
        ("{name: probe, type: http, url: 'https://x.example', expect: ['status == 1']}", "$"),
    ],
)
def test_a_broken_check_fails_naming_it(tmp_path: Path, definition: str, named: str) -> None:
    code, output = check(tmp_path, f"diagnostics:\n  checks:\n    - {definition}\n")
    assert code != 0
    assert "probe" in output and named in output


def test_a_runbook_step_naming_no_check_fails(tmp_path: Path) -> None:
    code, output = check(
        tmp_path, CHECKS + "  runbooks:\n    - {name: tree, steps: [{check: nope}]}\n"
    )
    assert code != 0 and "no check is named 'nope'" in output


def test_a_missing_secret_fails_check_config_and_is_logged_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    code, output = check(tmp_path, CHECKS)
    assert code != 0
    assert "diagnostics check database: $CHECK_CONFIG_DSN is not set" in output
    assert "# diagnostics: 2 checks, 0 runbooks" in output

    monkeypatch.setenv("CHECK_CONFIG_DSN", "postgresql://app:secret@db/app")
    code, output = check(tmp_path, CHECKS)
    assert code == 0, output

    monkeypatch.delenv("CHECK_CONFIG_DSN")
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'w.db'}")
    with caplog.at_level(logging.ERROR):
        warroom = build(settings, policy=load_policy(tmp_path / "policy.yml"))
    asyncio.run(warroom.http.aclose())
    warroom.db.dispose()
    assert "$CHECK_CONFIG_DSN is not set" in caplog.text
