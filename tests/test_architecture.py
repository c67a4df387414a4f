"""The layout's rules, checked on the source: the core knows no chat platform, the inbound
glue holds no database and makes no platform calls of its own."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

BOT, HANDLERS = PROJECT_ROOT / "bot", PROJECT_ROOT / "handlers"
# The composition root (app.py, and lifespan.py which runs it) picks the adapters; the
# Slack and Teams adapters are each their platform's own place.
PLATFORM_PLACES = (
    BOT / "app.py",
    BOT / "lifespan.py",
    BOT / "chat" / "slack",
    BOT / "chat" / "teams",
)
SLACK_LIBRARIES = ("slack_sdk", "slack_bolt", "aiohttp")
TEAMS_LIBRARIES = ("microsoft_teams", "jwt")
STORAGE = ("bot.storage", "sqlalchemy", "sqlmodel", "alembic")


def modules(root: Path) -> Iterator[Path]:
    yield from sorted(root.rglob("*.py"))


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def starts(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def core_modules() -> list[Path]:
    def outside(path: Path) -> bool:
        return not any(path == p or p in path.parents for p in PLATFORM_PLACES)

    return [path for path in modules(BOT) if outside(path)]


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_the_core_imports_no_chat_platform(path: Path) -> None:
    found = imported(path)
    assert not [n for n in found if starts(n, SLACK_LIBRARIES)], "Slack belongs in bot/chat/slack"
    assert not [n for n in found if starts(n, TEAMS_LIBRARIES)], "Teams belongs in bot/chat/teams"
    assert not [n for n in found if starts(n, ("bot.chat.slack", "bot.chat.teams", "handlers"))]


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_the_core_writes_no_slack_markup(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    for markup in ("<@", "<!subteam", "<#", ":white_check_mark:", ":warning:"):
        assert markup not in source, f"{markup!r}: use our Markdown's references and emoji"


@pytest.mark.parametrize("path", list(modules(HANDLERS)), ids=lambda p: p.name)
def test_the_glue_holds_no_database_and_calls_no_web_api(path: Path) -> None:
    found = imported(path)
    assert not [n for n in found if starts(n, STORAGE)], "the glue hands requests to the core"
    assert not [n for n in found if starts(n, ("slack_sdk.web",))], "calls go through the adapter"
    source = path.read_text(encoding="utf-8")
    assert "client." not in source and "AsyncWebClient" not in source
