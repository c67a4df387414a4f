"""`warroom check-config` on the alerts: section: the routes printed, bad ones named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import cli


@pytest.fixture(autouse=True)
def _no_slack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WARROOM_CONFIG", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def check(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    return result.exit_code, result.output


def test_the_effective_routes_are_printed(tmp_path: Path) -> None:
    code, output = check(
        tmp_path,
        "alerts:\n  routes:\n    - {name: payments, matchers: ['team=payments'], severity: SEV1}\n",
    )
    assert code == 0, output
    printed = yaml.safe_load(output.split("\n# templates:")[0])
    (route,) = printed["alerts"]["routes"]
    assert route["matchers"] == ['team="payments"']
    assert (route["name"], route["severity"], route["reopen_within"]) == ("payments", "SEV1", "1h")
    assert printed["alerts"]["coalesce"] == "3s"


def test_a_bad_matcher_is_named_with_its_route(tmp_path: Path) -> None:
    text = (
        "alerts:\n  routes:\n    - name: payments\n"
        "      matchers: ['team=\"payments\"', 'severity=~\"[\"']\n"
    )
    code, output = check(tmp_path, text)
    assert code == 2
    assert (
        "  - alerts.routes[0] (payments).matchers[1]: bad matcher 'severity=~\"[\"': "
        "invalid regex '['" in output
    )


def test_a_bad_title_template_is_named_with_its_route(tmp_path: Path) -> None:
    code, output = check(tmp_path, "alerts:\n  routes:\n    - {title: '{{ labels.x }'}\n")
    assert code == 2
    assert "  - alerts.routes[0].title: title '{{ labels.x }' is not a valid template" in output


def test_an_alias_pinned_on_a_route_is_refused(tmp_path: Path) -> None:
    code, output = check(tmp_path, "alerts:\n  routes:\n    - {severity: p0}\n")
    assert code == 2
    assert "alerts.routes[0].severity: 'p0' is another spelling of SEV1: write SEV1" in output
