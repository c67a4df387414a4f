from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import cli
from bot.errors import ConfigurationError, UnknownSeverity
from bot.policy.schema import NEXT_BUSINESS_DAY, default_policy, load_policy
from bot.text.durations import format_duration, parse_duration


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("2d", 172800), (" 5 m ", 300)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "15", "1.5h", "m", "-1m", "1w", "15 minutes"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_durations_print_back_in_their_shortest_form() -> None:
    assert [format_duration(timedelta(seconds=s)) for s in (30, 90, 900, 3600, 5400, 86400)] == [
        "30s", "90s", "15m", "1h", "90m", "1d",
    ]  # fmt: skip


def test_defaults_are_the_runbook_table() -> None:
    policy = default_policy()
    table = [(s.name, s.description, s.response, s.update_every) for s in policy.severities]
    assert table == [
        ("SEV1", "Complete outage", timedelta(minutes=15), timedelta(minutes=15)),
        ("SEV2", "Major degradation", timedelta(hours=1), timedelta(minutes=30)),
        ("SEV3", "Partial impact", timedelta(hours=4), timedelta(hours=1)),
        ("SEV4", "Minimal impact", NEXT_BUSINESS_DAY, None),
    ]
    assert policy.channel_name == "inc-{number}-{slug}"
    assert policy.announce_channel is None


@pytest.mark.parametrize(
    ("typed", "name"),
    [("sev1", "SEV1"), ("P0", "SEV1"), ("Critical", "SEV1"), ("p2", "SEV3"), (" SEV4 ", "SEV4")],
)
def test_severity_by_name_or_alias_in_any_case(typed: str, name: str) -> None:
    assert default_policy().severity(typed).name == name


def test_unknown_severity_lists_the_accepted_ones() -> None:
    with pytest.raises(
        UnknownSeverity, match="unknown severity 'sev9'; use one of SEV1, SEV2, SEV3, SEV4"
    ):
        default_policy().severity("sev9")


def test_no_file_means_defaults(tmp_path: Path) -> None:
    assert load_policy(None) == default_policy()
    assert load_policy(write(tmp_path, "")) == default_policy()


def test_partial_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    policy = load_policy(
        write(
            tmp_path,
            "severities:\n  - name: SEV2\n    update_every: 10m\nannounce_channel: C0123456789\n",
        )
    )
    sev2 = policy.severity("SEV2")
    assert sev2.update_every == timedelta(minutes=10)
    assert sev2.response == timedelta(hours=1) and sev2.description == "Major degradation"
    assert policy.severity_names() == ["SEV1", "SEV2", "SEV3", "SEV4"]
    assert policy.announce_channel == "C0123456789"
    assert policy.channel_name == "inc-{number}-{slug}"


def test_a_ladder_of_its_own_replaces_the_defaults(tmp_path: Path) -> None:
    policy = load_policy(
        write(
            tmp_path,
            """
severities:
  - {name: P0, description: All down, aliases: [critical], response: 5m, update_every: 10m}
  - {name: P1, response: 30m, update_every: 30m}
  - {name: P2, response: next_business_day, update_every: null}
channel_name: "incident-{number}-{severity}-{slug}"
""",
        )
    )
    assert policy.severity_names() == ["P0", "P1", "P2"]
    assert policy.severity("critical").name == "P0"
    assert policy.severity("P2").update_every is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "severities:\n  - name: SEV2\n    update_every: 10x\n",
            "severities[1] (SEV2).update_every: invalid duration '10x'",
        ),
        (
            "severities:\n  - name: SEV3\n    response: 7\n",
            "severities[2] (SEV3).response: invalid duration 7",
        ),
        (
            "severities:\n  - name: SEV1\n    update_every: 0s\n",
            "update_every must be longer than 0s",
        ),
        ("severites: []\n", "severites: Extra inputs are not permitted"),
        ("channel_name: 'inc-{slug}'\n", "must contain {number}"),
        ("channel_name: 'inc-{number}-{team}'\n", "unknown placeholder(s) ['team']"),
        ("severities: []\n", "at least one severity is needed"),
        (
            "severities:\n  - {name: P0, response: 5m}\n"
            "  - {name: P1, aliases: [p0], response: 5m}\n",
            "'p0' is used by both P0 and P1",
        ),
        ("severities:\n  - {name: P0}\n", "severities[0] (P0).response: Field required"),
        ("- just\n- a list\n", "must be a mapping of keys"),
        # A list of names, not of mappings: named by position, not a crash.
        ("severities: [P0, P1]\n", "severities[0]: Input should be a valid dictionary"),
        ("severities: [\n", "is not valid YAML"),
    ],
)
def test_bad_policies_name_the_field_and_value(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_policy(write(tmp_path, text))
    assert expected in str(raised.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read policy file"):
        load_policy(tmp_path / "absent.yml")


def test_check_config_prints_the_effective_policy(tmp_path: Path) -> None:
    path = write(tmp_path, "severities:\n  - name: SEV2\n    update_every: 10m\n")
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    assert "update_every: 10m" in result.output and "response: 4h" in result.output


def test_check_config_rejects_a_bad_policy(tmp_path: Path) -> None:
    path = write(tmp_path, "severities:\n  - name: SEV2\n    response: soon\n")
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    assert result.exit_code == 2
    assert "severities[1] (SEV2).response: invalid duration 'soon'" in result.output
