from datetime import timedelta

import pytest

from bot.errors import UsageError
from bot.inbound.commands import (
    SUBCOMMANDS,
    AcknowledgeCommand,
    DeclareCommand,
    DeclareFormCommand,
    HelpCommand,
    ListCommand,
    NoteCommand,
    ReopenCommand,
    ResolveCommand,
    RoleCommand,
    RolesCommand,
    SeverityCommand,
    StatusCommand,
    TimelineCommand,
    UpdateCommand,
    parse_command,
    usage,
)
from bot.incidents.status import Status
from bot.policy.schema import default_policy
from bot.text.markdown import escape_markdown
from bot.text.templates import Renderer


def test_declare_alone_opens_the_form() -> None:
    assert parse_command("declare") == DeclareFormCommand()
    assert parse_command("update") == UpdateCommand(None)
    assert parse_command("update INC-3 --next 20m DB failing over") == UpdateCommand(
        3, "DB failing over", timedelta(minutes=20)
    )
    with pytest.raises(UsageError, match="invalid duration 'soon'"):
        parse_command("update --next soon all good")


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "help declare"])
def test_help(text: str) -> None:
    assert parse_command(text) == HelpCommand()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("declare sev2 Checkout errors", DeclareCommand("sev2", "Checkout errors")),
        ("DECLARE P1   spaced   title ", DeclareCommand("P1", "spaced   title")),
        ("declare --private SEV1 Data leak", DeclareCommand("SEV1", "Data leak", private=True)),
        ("declare -p sev3 x", DeclareCommand("sev3", "x", private=True)),
        ('declare sev2 "Quoted title"', DeclareCommand("sev2", "Quoted title")),
        ('declare sev2 it\'s "fine"', DeclareCommand("sev2", 'it\'s "fine"')),
        ("declare sev2 <!channel> hi", DeclareCommand("sev2", "<!channel> hi")),
    ],
)
def test_declare(text: str, expected: DeclareCommand) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("declare --private", "declare needs a severity and a title"),
        ("declare sev2", "needs a title after the severity"),
        ("declare sev2    ", "needs a title after the severity"),
        ("frobnicate now", "unknown command 'frobnicate'"),
    ],
)
def test_bad_commands_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_command(text)


def test_help_is_generated_from_the_table_and_lists_severities() -> None:
    text = usage(default_policy(), Renderer())
    for sub in SUBCOMMANDS:
        assert escape_markdown(sub.usage) in text
    assert "SEV1 (Complete outage)" in text and "SEV4 (Minimal impact)" in text
    assert "SEV4 (Minimal impact)\nRoles: " in text  # a line of their own
    assert usage(default_policy(), Renderer(), subcommand="declare").startswith(
        "Usage: `/incident declare \\[--private\\] \\<severity\\> \\<title\\>`"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ack", AcknowledgeCommand(None)),
        ("acknowledge INC-7", AcknowledgeCommand(7)),
        ("status mitigating", StatusCommand(None, Status.MITIGATING)),
        ("status inc-12 Resolved rolled back", StatusCommand(12, Status.RESOLVED, "rolled back")),
        ("severity P1", SeverityCommand(None, "P1")),
        ("sev INC-3 sev1", SeverityCommand(3, "sev1")),
        ("note INC-3 DB failover done", NoteCommand(3, "DB failover done")),
        ("note INC-3x is not a key", NoteCommand(None, "INC-3x is not a key")),
        ("resolve", ResolveCommand(None, "")),
        ("resolve INC-2 Rolled back v2.3", ResolveCommand(2, "Rolled back v2.3")),
        ("reopen INC-2", ReopenCommand(2)),
    ],
)
def test_incident_commands(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message", "subcommand"),
    [
        ("status", "status needs one of investigating, mitigating, resolved", "status"),
        ("status fixed", "unknown status 'fixed'; use one of investigating", "status"),
        ("status closed", "once its postmortem is complete: use close", "status"),
        ("severity", "severity needs exactly one severity", "severity"),
        ("severity sev1 now", "severity needs exactly one severity", "severity"),
        ("note INC-4", "note needs some text", "note"),
        ("ack please", "ack takes no text", "ack"),
        ("reopen now", "reopen takes no text", "reopen"),
    ],
)
def test_incident_command_errors(text: str, message: str, subcommand: str) -> None:
    with pytest.raises(UsageError, match=message) as raised:
        parse_command(text)
    assert raised.value.usage == subcommand


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("role commander <user:U0ALEX>", RoleCommand(None, "commander", "U0ALEX")),
        ("role INC-4 Scribe <user:W0ALEX>", RoleCommand(4, "scribe", "W0ALEX")),
        ("roles", RolesCommand(None)),
        ("timeline INC-2", TimelineCommand(2)),
        ("list", ListCommand()),
    ],
)
def test_role_and_view_commands(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("role", "role needs a role and a person"),
        ("role commander", "role 'commander' needs a person"),
        ("role commander alex", "'alex' is not a person"),
        ("role commander <user:U1> <user:U2>", "role takes one role and one person"),
        ("role comms @U0SAM", "'@U0SAM' is not a person"),
        ("list everything", "list takes no text"),
    ],
)
def test_role_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_command(text)


@pytest.mark.parametrize(
    "text",
    [
        "declare --private sev2 Secret breach",
        "declare sev2 --private Secret breach",
        "declare sev2 Secret breach --private",
        "declare -p sev2 Secret breach",
    ],
)
def test_private_is_honoured_wherever_it_is_typed(text: str) -> None:
    assert parse_command(text) == DeclareCommand("sev2", "Secret breach", private=True)


@pytest.mark.parametrize(
    "text",
    ["declare sev2 --privat Secret breach", "declare --secret sev2 x", "declare sev2 x --prvate"],
)
def test_unknown_options_are_refused_not_taken_as_the_title(text: str) -> None:
    with pytest.raises(UsageError, match="unknown option"):
        parse_command(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("update --next 0m all good", "--next takes a time from 1s to 7d"),
        ("update --next 8d all good", "--next takes a time from 1s to 7d"),
        ("update --next 99999999999d all good", "longer than any calendar"),
        ("update --next 1x all good", "invalid duration '1x'"),
    ],
)
def test_next_update_durations_are_bounded(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_command(text)


def test_refusals_quote_only_an_excerpt() -> None:
    with pytest.raises(UsageError) as raised:
        parse_command("frobnicate" + "x" * 10_000)
    assert len(str(raised.value)) < 100
