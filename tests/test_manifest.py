"""manifest.yml is a valid Slack app manifest and lists exactly what the code registers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

import handlers
from tests.conftest import PROJECT_ROOT, SPECS_DIR

MANIFEST = yaml.safe_load((PROJECT_ROOT / "manifest.yml").read_text(encoding="utf-8"))


def test_manifest_validates_against_the_schema() -> None:
    schema = json.loads((SPECS_DIR / "app-manifest.schema.json").read_text(encoding="utf-8"))
    errors = sorted(Draft7Validator(schema).iter_errors(MANIFEST), key=lambda e: e.path)
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []


def test_commands_match_the_registered_ones() -> None:
    commands = MANIFEST["features"]["slash_commands"]
    assert sorted(c["command"] for c in commands) == sorted(handlers.SLASH_COMMANDS)
    assert all(c["url"].endswith("/slack/events") for c in commands)


def test_shortcuts_events_and_interactivity_match() -> None:
    features: dict[str, Any] = MANIFEST["features"]
    assert sorted(s["callback_id"] for s in features.get("shortcuts", [])) == sorted(
        handlers.SHORTCUTS
    )
    events = MANIFEST["settings"].get("event_subscriptions", {}).get("bot_events", [])
    assert sorted(events) == sorted(handlers.EVENTS)
    assert MANIFEST["settings"]["interactivity"]["request_url"].endswith("/slack/events")


def test_interactivity_lists_every_action_id() -> None:
    text = (PROJECT_ROOT / "manifest.yml").read_text(encoding="utf-8")
    (listed,) = re.findall(r"#\s*action ids:\s*(.+)", text)
    assert sorted(a.strip() for a in listed.split(",")) == sorted(handlers.ACTION_IDS)
    assert all(a.startswith("incident.") for a in handlers.ACTION_IDS)


def test_bot_scopes_cover_every_method_the_adapter_calls() -> None:
    adapter = PROJECT_ROOT / "bot" / "chat" / "slack"
    source = "\n".join(f.read_text(encoding="utf-8") for f in sorted(adapter.glob("*.py")))
    methods = sorted(set(re.findall(r'self\._call\(\s*"([a-z.A-Z]+)"', source)))
    assert methods, "no Slack method found in the adapter"
    granted = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    for method in methods:
        spec = json.loads((SPECS_DIR / "methods" / f"{method}.json").read_text(encoding="utf-8"))
        needed = {scope["name"] for scope in spec.get("scopes", {}).get("bot", [])}
        if needed:
            assert needed & granted, f"{method} needs one of {sorted(needed)}"


@pytest.mark.parametrize("scope", ["commands", "chat:write", "pins:write"])
def test_essential_scopes(scope: str) -> None:
    assert scope in MANIFEST["oauth_config"]["scopes"]["bot"]
