"""The end of an incident through the real server: declare → updates → 📌 → escalation →
resolve → `/incident postmortem` → the form submitted → the document shared through
Slack's external upload flow, every section present and the timeline in order; then
action items, close, and the command line's export of the same incident."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from tests.e2e.conftest import SlackSender, wait_until
from tests.e2e.test_capture import reaction
from tests.e2e.test_forms import opened_view
from tests.e2e.test_lifecycle import answer, card_shows, declared
from tests.support.fake_slack import FakeSlack

SECTIONS = {
    "root_cause": "Connection pool sized for last year's traffic </script>",
    "impact": "User impact: 12% of checkouts failed\nBusiness impact: lost orders\n"
    "Technical impact: API 5xx",
    "resolution": "Pool raised to 50; v2.3 rolled back",
    "went_well": "The alert fired within a minute",
    "could_improve": "Nobody knew who owned the pool settings",
}


def text_values(values: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {key: {"type": "plain_text_input", "value": value} for key, value in values.items()}


def shared_files(slack: FakeSlack, channel_id: str, count: int) -> list[Any]:
    return wait_until(  # type: ignore[no-any-return]
        lambda: len(files := slack.files_in(channel_id)) >= count and files,
        what=f"{count} file(s) shared in {channel_id}",
    )


def test_postmortem_from_declaration_to_shared_document(
    sender: SlackSender, slack: FakeSlack, server_env: dict[str, str]
) -> None:
    channel = declared(sender, slack)
    answer(sender, "update Pool exhausted on the primary", channel.id)
    ts = slack.post_as("U0ALEX", channel.id, "Errors started right after the deploy")
    sender.event(reaction("reaction_added", "U0SAM", channel.id, ts), event_id="Ev0PM1")
    card_shows(slack, channel, "Errors started right after the deploy")
    assert "escalated to L2" in answer(sender, "escalate need the tech lead", channel.id)
    answer(sender, "resolve Pool raised to 50", channel.id)

    assert sender.command("postmortem", channel=channel.id).status_code == 200
    view = opened_view(slack)
    assert view["callback_id"] == "incident.postmortem_form"
    labels = [block["label"]["text"] for block in view["blocks"] if block["type"] == "input"]
    assert labels == ["Root cause", "Impact", "Resolution", "What went well", "What could improve"]
    prefilled = {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"]}
    assert prefilled["resolution"] == "Pool raised to 50"

    assert sender.submit(view, text_values(SECTIONS)).status_code == 200
    (shared,) = shared_files(slack, channel.id, 1)
    assert shared.name == "INC-1-postmortem.md"
    document = shared.content.decode()
    headings = [
        "## Incident: ",
        "### Timeline",
        "### Root Cause",
        "### Impact",
        "### Resolution",
        "### Action Items",
    ]
    places = [document.index(heading) for heading in headings]
    assert places == sorted(places), "the sections follow the runbook's template"
    for text in ("Connection pool sized", "lost orders", "Pool raised to 50", "within a minute"):
        assert text in document
    assert "</script>" not in document  # user text is escaped
    timeline = document[document.index("### Timeline") : document.index("### Participants")]
    happened = [
        "declared",
        "Pool exhausted on the primary",
        "Errors started right after the deploy",
        "Escalated to L2",
        "Pool raised to 50",
    ]
    order = [timeline.index(event) for event in happened]
    assert order == sorted(order), timeline
    assert "INC-1 postmortem" in shared.initial_comment
    assert len(slack.calls_to("files.getUploadURLExternal")) == 1
    assert len(slack.calls_to("files.completeUploadExternal")) == 1

    # Action items, then a second version, then close.
    reply = answer(
        sender, "action add <@U0SAM> due 2099-01-31 Alert on pool saturation", channel.id
    )
    assert reply == "☑️ Action item 1 added to INC-1"
    assert "Version 2" in answer(sender, "postmortem export", channel.id)
    first, second = shared_files(slack, channel.id, 2)
    assert first.name == "INC-1-postmortem.md"
    assert second.name == "INC-1-postmortem-v2.md" and "version 2" in second.initial_comment
    assert "- [ ] 1. Alert on pool saturation" in second.content.decode()
    assert answer(sender, "close", channel.id) == "🏁 INC-1 closed: its postmortem is complete"
    card_shows(slack, channel, "Closed")

    # The command line exports the same incident from the same database.
    exported = subprocess.run(
        [sys.executable, "-m", "bot.cli", "postmortem", "INC-1", "--format", "html"],
        env=server_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.lstrip().lower().startswith("<!doctype html>")
    assert "Connection pool sized" in exported.stdout and "</script> " not in exported.stdout


def test_postmortem_refusals_answer_briefly(sender: SlackSender, slack: FakeSlack) -> None:
    reply = answer(sender, "postmortem INC-9", "C0GENERAL")
    assert reply.startswith("⚠️ there is no INC-9")
    channel = declared(sender, slack)
    assert "resolve it first" in answer(sender, "close", channel.id)
    assert "takes `export` or nothing" in answer(sender, "postmortem now please", channel.id)
    assert "due needs a date" in answer(sender, "action add due tomorrow fix it", channel.id)


def test_the_all_clear_offers_the_postmortem_form(sender: SlackSender, slack: FakeSlack) -> None:
    channel = declared(sender, slack)
    answer(sender, "resolve Rolled back", channel.id)
    all_clear = wait_until(
        lambda: next(
            (m for m in slack.channels[channel.id].messages if "[RESOLVED]" in str(m)), None
        ),
        what="the all-clear",
    )
    assert "Post-mortem to be held by" in str(all_clear["blocks"])
    (button,) = [
        element
        for block in all_clear["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert button["action_id"] == "incident.postmortem"
    pressed, _ = sender.action(
        "incident.postmortem",
        button["value"],
        user="U0SAM",  # in the channel, not one of the incident's people
        channel=channel.id,
        message_ts=all_clear["ts"],
    )
    assert pressed.status_code == 200
    view = opened_view(slack)
    assert view["callback_id"] == "incident.postmortem_form"
    assert sender.submit(view, text_values(SECTIONS), user="U0SAM").status_code == 200
    (shared,) = shared_files(slack, channel.id, 1)
    assert "shared by <@U0SAM>" in shared.initial_comment
