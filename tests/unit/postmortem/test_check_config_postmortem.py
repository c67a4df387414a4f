"""`warroom check-config` on the postmortem: a document template that compiles but breaks
on data fails it (and the start), a Confluence variable missing from the environment
fails it, and the policy's `postmortem:` section is checked like the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app import build
from bot.cli import cli
from bot.config import Settings
from bot.errors import ConfigurationError

CONFLUENCE = """\
postmortem:
  confluence:
    base_url: https://acme.atlassian.net/wiki
    space: OPS
    user_env: PM_CONFLUENCE_EMAIL
    token_env: PM_CONFLUENCE_TOKEN
"""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "WARROOM_CONFIG",
        "WARROOM_TEMPLATES_DIR",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "PM_CONFLUENCE_EMAIL",
        "PM_CONFLUENCE_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


def check(tmp_path: Path, policy: str, **env: str) -> tuple[int, str]:
    path = tmp_path / "policy.yml"
    path.write_text(policy, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check-config", str(path)], env=env)
    return result.exit_code, result.output


def test_a_document_template_broken_on_data_fails_check_config_and_the_start(
    tmp_path: Path,
) -> None:
    overrides = tmp_path / "templates"
    overrides.mkdir()
    # Compiles, and only fails when rendered: what the sample incident is for.
    (overrides / "postmortem.md.j2").write_text("## Incident: {{ incident.no_such_field }}\n")
    code, output = check(tmp_path, "{}\n", WARROOM_TEMPLATES_DIR=str(overrides))
    assert code == 2 and "postmortem.md.j2" in output
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        templates_dir=overrides,
    )
    with pytest.raises(ConfigurationError, match=r"postmortem\.md\.j2"):
        build(settings)


def test_a_missing_confluence_secret_fails_naming_it(tmp_path: Path) -> None:
    code, output = check(tmp_path, CONFLUENCE, PM_CONFLUENCE_EMAIL="bot@acme.example")
    assert code == 2 and "PM_CONFLUENCE_TOKEN" in output
    code, output = check(
        tmp_path, CONFLUENCE, PM_CONFLUENCE_EMAIL="bot@acme.example", PM_CONFLUENCE_TOKEN="t"
    )
    assert code == 0, output
    assert "postmortems published to https://acme.atlassian.net/wiki, space OPS" in output
    assert "PM_CONFLUENCE_TOKEN" not in output.replace("token_env: PM_CONFLUENCE_TOKEN", "")


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ("postmortem: {required: [SEV9]}", "postmortem.required"),
        ("postmortem: {meet_within: 48h, complete_within: 24h}", "complete_within"),
        ("postmortem: {confluence: {base_url: 'ftp://x', space: OPS, token_env: T}}", "base_url"),
    ],
)
def test_a_broken_postmortem_section_is_named(tmp_path: Path, section: str, named: str) -> None:
    code, output = check(tmp_path, section + "\n")
    assert code == 2 and named in output
