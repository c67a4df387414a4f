"""Checks across a policy's fields, the advice check-config gives, and times of day."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigurationError
from bot.policy.checks import levels_without_contacts, misspelt_roles
from bot.policy.schema import default_policy, load_policy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "escalation:\n  - {level: L1, severities: [SEV1, SEV5]}\n",
            "  - escalation[0] (L1).severities: unknown severity 'SEV5'; "
            "use one of SEV1, SEV2, SEV3, SEV4",
        ),
        (
            # Escalation compares severities by name: an alias would never match.
            "escalation:\n  - {level: L1, severities: [P1]}\n",
            "  - escalation[0] (L1).severities: 'P1' is another spelling of SEV2: write SEV2",
        ),
        (
            "permissions:\n  resolve: {roles: [commander, lead]}\n",
            "  - permissions.resolve.roles: unknown role 'lead'; the roles are commander, "
            "comms, scribe (a new one is defined under roles:)",
        ),
    ],
)
def test_names_used_but_not_defined_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_policy(write(tmp_path, text))
    assert str(raised.value).splitlines()[1:] == [expected]


def test_every_problem_across_fields_is_listed(tmp_path: Path) -> None:
    text = (
        "escalation:\n  - {level: L1, severities: [SEV9]}\n"
        "permissions:\n  resolve: {roles: [lead]}\n  escalate: {roles: [boss]}\n"
    )
    with pytest.raises(ConfigurationError) as raised:
        load_policy(write(tmp_path, text))
    lines = str(raised.value).splitlines()
    assert lines[0].endswith("is invalid:") and len(lines) == 4


def test_a_role_defined_in_the_file_may_be_given_permissions(tmp_path: Path) -> None:
    policy = load_policy(
        write(tmp_path, "roles: {lead: Leads.}\npermissions:\n  resolve: {roles: [lead]}\n")
    )
    assert policy.permissions["resolve"].roles == ("lead",)
    assert misspelt_roles(policy) == []  # a role of its own, named as meant


def test_a_misspelt_built_in_role_is_pointed_out(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "roles:\n  comander: Leads.\n  scrib: Writes.\n"))
    assert set(policy.roles) == {"commander", "comms", "scribe", "comander", "scrib"}
    assert misspelt_roles(policy) == [
        "roles.comander: not one of the built-in roles (commander, comms, scribe), so it adds "
        "a role of its own: did you mean commander?",
        "roles.scrib: not one of the built-in roles (commander, comms, scribe), so it adds a "
        "role of its own: did you mean scribe?",
    ]


def test_levels_without_contacts() -> None:
    assert levels_without_contacts(default_policy()) == [
        f"escalation {name}: no contacts, so reaching it calls nobody "
        "(give it users, usergroups, pagerduty or webhook)"
        for name in ("L1 On-call engineer", "L2 Tech lead", "L3 Engineering manager")
    ]


def test_a_ladder_of_its_own_gets_the_built_in_escalation_by_rank(tmp_path: Path) -> None:
    policy = load_policy(
        write(
            tmp_path,
            "severities:\n  - {name: P0, response: 5m}\n  - {name: P1, response: 1h}\n"
            "  - {name: P2, response: 4h}\n  - {name: P3, response: 1d}\n"
            "  - {name: P4, response: 2d}\n",
        )
    )
    assert [(level.level, level.severities) for level in policy.escalation] == [
        ("L1", ("P0", "P1", "P2", "P3", "P4")),  # every severity, as SEV1-SEV4 were
        ("L2", ("P0", "P1")),
        ("L3", ("P0",)),
    ]


@pytest.mark.parametrize(
    ("written", "stored"),
    [("18:00", "18:00"), ("'18:00'", "18:00"), ("9:30", "09:30"), ("07:05", "07:05")],
)
def test_times_of_day_need_no_quotes(tmp_path: Path, written: str, stored: str) -> None:
    """YAML 1.1 reads an unquoted 18:00 as the number 1080 (base 60)."""
    policy = load_policy(write(tmp_path, f"business_hours: {{end: {written}}}\n"))
    assert policy.business_hours.end == stored


@pytest.mark.parametrize("written", ["1800", "24:00", "18h", "'9'"])
def test_bad_times_of_day(tmp_path: Path, written: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_policy(write(tmp_path, f"business_hours: {{start: {written}}}\n"))
    assert "business_hours.start: invalid time of day" in str(raised.value)
    assert "write it as HH:MM, like 09:00" in str(raised.value)
