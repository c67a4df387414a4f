"""Inbound activities read by the Teams SDK's models: Teams' own shapes pass, a malformed
one is named, a type the SDK does not know is ignored rather than refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.chat.teams.activity_schema import activity_problem
from tests.conftest import PROJECT_ROOT


def activity(**more: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "message",
        "id": "1600000000001",
        "channelId": "msteams",
        "serviceUrl": "https://smba.trafficmanager.net/amer/",
        "from": {"id": "29:alex", "aadObjectId": "aad-alex", "name": "Alex"},
        "recipient": {"id": "28:bot", "name": "warroom"},
        "conversation": {"id": "19:room@thread.tacv2;messageid=1", "conversationType": "channel"},
        "text": "<at>warroom</at> declare sev2 Checkout errors",
    }
    return {**base, **more}


@pytest.mark.parametrize(
    "good",
    [
        activity(),
        activity(
            type="invoke",
            name="adaptiveCard/action",
            value={
                "action": {"type": "Action.Execute", "verb": "incident.acknowledge", "data": {}}
            },
        ),
        activity(type="conversationUpdate", membersAdded=[{"id": "28:bot"}]),
        activity(type="somethingTeamsAddsNextYear"),
    ],
    ids=["message", "invoke", "conversationUpdate", "unknown type"],
)
def test_what_teams_sends_passes(good: dict[str, Any]) -> None:
    assert activity_problem(good) is None


def test_a_malformed_activity_names_its_fields() -> None:
    missing = activity()
    del missing["recipient"]
    assert activity_problem(missing) == "recipient: Field required"
    assert "from.id" in (activity_problem(activity(**{"from": {"id": 5}})) or "")
    wrong_verb = activity(
        type="invoke", name="adaptiveCard/action", value={"action": {"verb": ["not", "a", "str"]}}
    )
    assert (activity_problem(wrong_verb) or "").startswith("value.action.")


def test_without_the_teams_extra_slack_starts_and_teams_is_refused_in_words(
    tmp_path: Path,
) -> None:
    """The SDK is the `teams` extra's: a plain install must build and serve without it."""
    script = f"""
import sys
sys.modules["microsoft_teams"] = None  # as if not installed: importing it fails
from bot.app import build
from bot.config import Settings
from bot.errors import ConfigurationError
url = "sqlite:///{tmp_path / "w.db"}"
build(Settings(database_url=url, slack_bot_token="xoxb-1", slack_signing_secret="s"))
try:
    build(Settings(database_url=url, teams_app_id="a", teams_app_password="p"))
except ConfigurationError as error:
    print("refused:", error)
"""
    environ = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    for name in [key for key in environ if key.startswith(("WARROOM_", "SLACK_"))]:
        del environ[name]
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environ, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "refused: Microsoft Teams needs the Teams SDK" in done.stdout
