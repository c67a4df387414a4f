"""The INCIDENT ACTIVE card, as Markdown and as Slack blocks, against golden files.

Regenerate the golden files after an intended change with WARROOM_UPDATE_GOLDEN=1.
"""

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.chat.port import Message
from bot.chat.slack.blocks import to_blocks
from bot.incidents.cards import announcement, channel_ready, incident_card
from bot.incidents.status import Status
from bot.policy.schema import default_policy
from bot.storage.models import Incident, TimelineEntry, TimelineKind
from bot.text.templates import Renderer

GOLDEN = Path(__file__).with_name("golden")
STARTED = datetime(2026, 11, 22, 14, 8, tzinfo=UTC)


def make_incident(**overrides: Any) -> Incident:
    values: dict[str, Any] = dict(
        id=1,
        number=7,
        title="Checkout errors",
        severity="SEV2",
        impact="",
        status=Status.INVESTIGATING,
        declared_by="U012AB3CD",
        started_at=STARTED,
        next_update_at=STARTED + timedelta(minutes=30),
    )
    values.update(overrides)
    return Incident(**values)


def declared_entry() -> TimelineEntry:
    return TimelineEntry(
        id=1,
        incident_id=1,
        kind=TimelineKind.DECLARED,
        at=STARTED,
        actor="U012AB3CD",
        data={"severity": "SEV2"},
    )


def render_card(incident: Incident, entries: list[TimelineEntry]) -> Message:
    return incident_card(incident, entries, policy=default_policy(), renderer=Renderer())


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("WARROOM_UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8")


def test_card_markdown_and_blocks_match_golden_files() -> None:
    card = render_card(make_incident(), [declared_entry()])
    check_golden("incident_active.md", card.markdown)
    check_golden(
        "incident_active.blocks.json",
        json.dumps(to_blocks(card), indent=2, ensure_ascii=False) + "\n",
    )
    assert card.fallback == "🔴 INC-7 [SEV2] Checkout errors · Investigating"


def test_labels_are_bold_in_slack() -> None:
    card = render_card(make_incident(), [declared_entry()])
    text = "\n".join(b["text"]["text"] for b in to_blocks(card) if b["type"] == "section")
    for label in ("Title", "Severity", "Impact", "Status", "Started", "Next Update", "Timeline"):
        assert f"*{label}*:" in text
    assert "**" not in text


def test_user_text_pings_nobody_and_stays_text() -> None:
    hostile = "<!channel> @here <https://evil.example|click> **bold** & <@U999> <user:U998>"
    card = incident_card(
        make_incident(title=hostile, impact="<!everyone>"),
        [declared_entry()],
        policy=default_policy(),
        renderer=Renderer(),
    )
    text = "\n".join(b["text"]["text"] for b in to_blocks(card) if b["type"] == "section")
    assert "<!channel>" not in text and "<!everyone>" not in text and "<https://evil" not in text
    assert "<@U999>" not in text
    assert "&lt;!channel&gt; @here &lt;https://evil.example|click&gt;" in text
    assert "<@U998>" in text  # a person named in the text is shown as a mention
    assert "<@U012AB3CD>" in text  # the application's own mention still works


def test_severity_without_cadence_and_resolved_card() -> None:
    card = incident_card(
        make_incident(severity="SEV4", next_update_at=None),
        [declared_entry()],
        policy=default_policy(),
        renderer=Renderer(),
    )
    assert "**Next Update**: No scheduled updates" in card.markdown
    resolved = incident_card(
        make_incident(status=Status.RESOLVED),
        [],
        policy=default_policy(),
        renderer=Renderer(),
    )
    assert resolved.markdown.startswith("# ✅ INCIDENT RESOLVED · INC-7")
    assert "No scheduled updates" in resolved.markdown


def test_long_timelines_show_the_latest_lines_and_a_count() -> None:
    entries = [
        TimelineEntry(
            id=i,
            incident_id=1,
            kind=TimelineKind.NOTE,
            at=STARTED + timedelta(minutes=i),
            actor="U1",
            text=f"note {i} " + "x" * 300,
        )
        for i in range(500)
    ]
    card = incident_card(make_incident(), entries, policy=default_policy(), renderer=Renderer())
    assert (
        "… 490 earlier" in card.markdown
        and "note 499" in card.markdown
        and "note 489 " not in card.markdown
    )
    blocks = to_blocks(card)
    assert len(blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")


def test_announcement_links_the_channel() -> None:
    message = announcement(make_incident(title="A <b>", channel_id="C0NEW"), renderer=Renderer())
    assert message.markdown == (
        "🔴 **INC-7** declared (SEV2): A \\<b\\> · Investigating · join <channel:C0NEW>\n"
    )
    (block,) = to_blocks(message)
    assert block["text"]["text"] == (
        "🔴 *INC-7* declared (SEV2): A &lt;b&gt; · Investigating · join <#C0NEW>"
    )
    assert message.marker == "announcement:INC-7"


def test_the_announcement_follows_the_incident_to_its_resolution() -> None:
    moved = make_incident(channel_id="C0NEW", severity="SEV1", status=Status.MITIGATING)
    assert "declared (SEV1): Checkout errors · Mitigating · join <channel:C0NEW>" in (
        announcement(moved, renderer=Renderer()).markdown
    )
    resolved = make_incident(
        channel_id="C0NEW", status=Status.RESOLVED, resolved_at=STARTED + timedelta(minutes=42)
    )
    message = announcement(resolved, renderer=Renderer())
    assert message.markdown == (
        "✅ **INC-7** resolved after 42 min (SEV2): Checkout errors · <channel:C0NEW>\n"
    )
    assert message.fallback == "✅ INC-7 resolved after 42 min: Checkout errors"
    # Still the same message: edited in place, found by the same marker.
    assert message.marker == announcement(moved, renderer=Renderer()).marker


def test_the_declarer_is_pointed_to_the_open_channel() -> None:
    incident = make_incident(channel_id="C0NEW", channel_name="inc-7-checkout-errors")
    message = channel_ready(incident, renderer=Renderer())
    assert message.markdown.startswith("**INC-7** is open in <channel:C0NEW>")
    assert message.fallback == "INC-7 is open in #inc-7-checkout-errors"
    (block,) = to_blocks(message)
    assert "<#C0NEW>" in block["text"]["text"]
