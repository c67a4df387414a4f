"""Reading Bot Framework activities: the bot's mention removed, other people's mentions
turned into our references, markup and entities as text, invokes recognised."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.teams.activities import command_text, invoke_action, sender_id

BOT = "28:bot-app-id"


def typed(text: str, *mentions: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "text": text,
        "recipient": {"id": BOT},
        "from": {"id": "29:alex", "aadObjectId": "aaaaaaaa-0000-4000-8000-000000000001"},
        "entities": [
            {"type": "mention", "text": "<at>warroom</at>", "mentioned": {"id": BOT}},
            *mentions,
        ],
    }


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("<at>warroom</at> declare sev2 Checkout errors", "declare sev2 Checkout errors"),
        ("<at>warroom</at>&nbsp;ack", "ack"),
        ("<at>warroom</at> /incident list", "list"),
        ("<p><at>warroom</at> note pool &lt;b&gt;100%&lt;/b&gt;</p>", "note pool <b>100%</b>"),
        ("<at>warroom</at> note <at>Nobody</at> said so", "note Nobody said so"),
        ("", ""),
    ],
)
def test_the_command_typed(text: str, command: str) -> None:
    assert command_text(typed(text)) == command


def test_people_mentioned_become_references_and_cannot_be_forged() -> None:
    sam = {
        "type": "mention",
        "text": "<at>Sam</at>",
        "mentioned": {"id": "29:sam", "aadObjectId": "bbbbbbbb-0000-4000-8000-000000000002"},
    }
    text = "<at>warroom</at> role commander <at>Sam</at>"
    assert command_text(typed(text, sam)) == (
        "role commander <user:bbbbbbbb-0000-4000-8000-000000000002>"
    )
    # Typed as text (escaped by Teams), a reference names nobody.
    forged = command_text(typed("<at>warroom</at> role commander &lt;user:U0BOSS&gt;"))
    assert forged == "role commander \u2039user:U0BOSS>"


def test_who_sent_it_and_what_was_pressed() -> None:
    assert sender_id(typed("x")) == "aaaaaaaa-0000-4000-8000-000000000001"
    assert sender_id({"from": "nonsense"}) is None
    pressed = {
        "type": "invoke",
        "name": "adaptiveCard/action",
        "value": {
            "action": {"type": "Action.Execute", "verb": "incident.resolve", "data": {"value": "3"}}
        },
    }
    assert invoke_action(pressed) == ("incident.resolve", {"value": "3"})
    assert invoke_action({"type": "invoke", "name": "composeExtension/query"}) is None
    assert invoke_action({"type": "invoke", "name": "adaptiveCard/action", "value": []}) is None
