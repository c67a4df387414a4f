import pytest

from bot.commands import (
    SUBCOMMANDS,
    CommandError,
    DeclareCommand,
    HelpCommand,
    parse_command,
    usage,
)
from bot.policy import default_policy


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
        ("declare", "declare needs a severity and a title"),
        ("declare --private", "declare needs a severity and a title"),
        ("declare sev2", "needs a title after the severity"),
        ("declare sev2    ", "needs a title after the severity"),
        ("frobnicate now", "unknown command 'frobnicate'"),
    ],
)
def test_bad_commands_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_command(text)


def test_help_is_generated_from_the_table_and_lists_severities() -> None:
    text = usage(default_policy())
    for sub in SUBCOMMANDS:
        assert sub.usage in text
    assert "SEV1 (Complete outage)" in text and "SEV4 (Minimal impact)" in text
    assert usage(default_policy(), subcommand="declare").startswith(
        "Usage: `/incident declare [--private] <severity> <title>`"
    )
