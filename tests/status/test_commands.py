"""Parsing `--public`, `--public-title` and `components`: options before the text, read in
one place for `update` and `resolve`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.errors import UsageError
from bot.inbound.commands import (
    ComponentsCommand,
    ResolveCommand,
    UpdateCommand,
    parse_command,
    usage,
)
from bot.policy.schema import default_policy
from bot.text.templates import Renderer
from tests.status.conftest import policy_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("update All good", UpdateCommand(None, "All good")),
        (
            "update --public We are investigating",
            UpdateCommand(None, "We are investigating", public=True),
        ),
        (
            "update INC-4 --next 20m --public  Payments fail\nfor some cards",
            UpdateCommand(4, "Payments fail\nfor some cards", timedelta(minutes=20), public=True),
        ),
        (
            "update --PUBLIC --next 5m x",
            UpdateCommand(None, "x", timedelta(minutes=5), public=True),
        ),
        (
            'update --public-title "Card payments failing" We are on it',
            UpdateCommand(None, "We are on it", public=True, public_title="Card payments failing"),
        ),
        (
            "update --public-title “Curly quotes” --public x",
            UpdateCommand(None, "x", public=True, public_title="Curly quotes"),
        ),
        (
            "update --public-title Outage x",
            UpdateCommand(None, "x", public=True, public_title="Outage"),
        ),
        # After the text, a word is text: options come first.
        ("update fixed --public", UpdateCommand(None, "fixed --public")),
        ("update -5% errors now", UpdateCommand(None, "-5% errors now")),
        ("update --next 20m", UpdateCommand(None, "", timedelta(minutes=20))),  # the form
    ],
)
def test_update_options(text: str, expected: UpdateCommand) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("update --public", "--public needs the update's text"),
        ("update --public-title Outage", "--public needs the update's text"),
        ("update --publik We are on it", "unknown option '--publik'"),
        ("update --next", "--next needs a duration, e.g. --next 20m"),
        ("update --public-title", "--public-title needs the title"),
        ('update --public-title "never closed', "--public-title needs the title"),
        ("update --next 0s --public x", "--next takes a time from 1s to 7d"),
        ("resolve --force fixed", "unknown option '--force'"),
    ],
)
def test_bad_options_are_refused_with_the_usage(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as raised:
        parse_command(text)
    assert raised.value.usage in ("update", "resolve")


def test_resolve_options() -> None:
    assert parse_command("resolve") == ResolveCommand(None)
    assert parse_command("resolve INC-3 Rolled back") == ResolveCommand(3, "Rolled back")
    assert parse_command("resolve --public") == ResolveCommand(None, "", public=True)
    assert parse_command("resolve INC-3 --public Payments work again") == ResolveCommand(
        3, "Payments work again", public=True
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("components", ComponentsCommand(None)),
        ("components INC-7", ComponentsCommand(7)),
        ("components Checkout", ComponentsCommand(None, ("Checkout",))),
        (
            "components INC-7 Checkout,  Public API ,",
            ComponentsCommand(7, ("Checkout", "Public API")),
        ),
        ("components none", ComponentsCommand(None, ())),
        ("components INC-2 NONE", ComponentsCommand(2, ())),
    ],
)
def test_components(text: str, expected: ComponentsCommand) -> None:
    assert parse_command(text) == expected


def test_components_needs_names_between_its_commas() -> None:
    with pytest.raises(UsageError, match="names separated by commas"):
        parse_command("components , ,")


def test_help_lists_the_command_and_the_page_when_there_is_one(tmp_path: Path) -> None:
    renderer = Renderer()
    plain = usage(default_policy(), renderer)
    assert "/incident components \\[INC-N\\]" in plain
    assert "--public" in plain
    assert "Status page" not in plain
    with_page = usage(policy_of(tmp_path, "status_page: {title: Acme Status}"), renderer)
    assert "Status page “Acme Status”: `update --public`" in with_page
    line = usage(default_policy(), renderer, subcommand="components")
    assert line.startswith("Usage: `/incident components \\[INC-N\\] \\[name, name…\\|none\\]`")
