"""Messages as Teams activities: user text stays text, buttons become Action.Execute,
people named are mentioned in the activity's text, and no Markdown is too long."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.chat.port import Button, Message
from bot.chat.teams.cards import (
    ACTIVITY_LIMIT,
    CARD_CONTENT_TYPE,
    activity_size,
    message_activity,
    text_activity,
)
from bot.incidents.cards import incident_card
from bot.incidents.status import Status
from bot.incidents.timeline import lines
from bot.policy.schema import default_policy
from bot.storage.models import Incident, TimelineEntry, TimelineKind
from bot.text.markdown import channel_ref, escape_markdown, group_ref, user_ref
from bot.text.templates import Renderer
from tests.support.adaptive_cards import activity_problems

STARTED = datetime(2026, 11, 22, 14, 8, tzinfo=UTC)
# What a reader sees of a look-alike, and the invisible space that breaks markup.
READ_AS = {"\u2217": "*", "\u02cb": "`", "\u223c": "~", "\uff3f": "_", "\u200b": ""}
HOSTILE = [
    "<!channel>",
    "</script>",
    "**x**",
    "<at>evil</at>",
    "_x_ and *y* and __z__",
    "`code` and ```fence```",
    "~~gone~~",
    "[click](https://evil.example) ![img](https://evil.example/i.png)",
    "&lt;b&gt; &amp; &#42;",
    "{{DATE(2017-02-14T06:00:00Z, SHORT)}}",
    "a\\*b \\ c\\",
    "# heading",
    "- item",
    "+ item",
    "* item",
    "1. item",
    "2) item",
    "> quote",
    "---",
    "    four spaces",
    "snake_case_name stays",
]
# Markup Teams would read in text that should have none; at a line's start, also a list,
# a heading, a quote or a rule.
INLINE_MARKUP = re.compile(
    r"\*|`|~|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|<[A-Za-z/!?]|\]\(|&[#A-Za-z]|\{\{|\\[^\u200b]"
)
LINE_START_MARKUP = re.compile(r"^ {0,3}(?:[-+*>#]|\d+[.)])(?:\s|$)")


def markup_in(text: str, *, line_start: bool = True) -> list[str]:
    found = INLINE_MARKUP.findall(text)
    return found + LINE_START_MARKUP.findall(text) if line_start else found


def shown(text: str) -> str:
    """The text as a reader sees it."""
    return "".join(READ_AS.get(char, char) for char in text).replace("\u00a0", " ")


def card_of(activity: dict[str, Any]) -> dict[str, Any]:
    (attachment,) = activity["attachments"]
    assert attachment["contentType"] == CARD_CONTENT_TYPE
    card: dict[str, Any] = attachment["content"]
    return card


def texts_of(activity: dict[str, Any]) -> list[str]:
    return [block["text"] for block in card_of(activity)["body"]]


def accepted(activity: dict[str, Any]) -> dict[str, Any]:
    assert activity_problems(activity) == []
    return activity


# User text ------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", HOSTILE)
def test_user_text_after_a_label_shows_as_typed(typed: str) -> None:
    activity = accepted(message_activity(Message(f"**Note**: {escape_markdown(typed)}", "n")))
    (text,) = texts_of(activity)
    assert text.startswith("**Note**: ")
    said = text.removeprefix("**Note**: ")
    assert shown(said) == typed.strip() or shown(said) == typed
    assert markup_in(said, line_start=False) == []
    assert "entities" not in activity and "text" not in activity


@pytest.mark.parametrize("typed", HOSTILE)
def test_user_text_starting_a_line_shows_as_typed(typed: str) -> None:
    # An update's text starts its own lines: nothing it says may start a list or heading.
    activity = accepted(message_activity(Message(f"Update:\n{escape_markdown(typed)}", "u")))
    said = texts_of(activity)[1]
    assert shown(said) == typed  # indentation too
    assert markup_in(said) == []


@pytest.mark.parametrize("typed", HOSTILE)
def test_user_text_in_a_list_item_or_code_shows_as_typed(typed: str) -> None:
    markdown = f"- {escape_markdown(typed)}\n\n```\n{escape_markdown(typed)}\n```\n"
    activity = accepted(message_activity(Message(markdown, "m")))
    item, code = texts_of(activity)
    assert item.startswith("- ") and shown(item[2:]) == typed.strip()
    assert markup_in(item[2:]) == []
    assert shown(code) == typed.rstrip()
    assert markup_in(code) == []


@pytest.mark.parametrize("typed", HOSTILE)
def test_user_text_in_a_reply_shows_as_typed(typed: str) -> None:
    activity = accepted(text_activity(f"**Note**: {escape_markdown(typed)}"))
    said = activity["text"].removeprefix("**Note**: ")
    assert shown(said) == typed.strip() or shown(said) == typed
    assert markup_in(said, line_start=False) == []
    assert "entities" not in activity


def test_a_forged_mention_is_text_and_mentions_nobody() -> None:
    typed = '<at>Everyone</at> <at id="1">x</at>'
    for activity in (
        message_activity(Message(escape_markdown(typed), "x")),
        text_activity(escape_markdown(typed)),
    ):
        accepted(activity)  # no <at> without its entity
        assert "entities" not in activity
        assert "<at>" not in str(activity.get("text", "")) + "".join(
            texts_of(activity) if "attachments" in activity else []
        )


def test_our_own_markup_is_teams_markup() -> None:
    markdown = (
        "# 🔴 INCIDENT ACTIVE · INC-7\n\n"
        "**Title**: Checkout\n**Status**: *Investigating*\n\n"
        "**Timeline**:\n\n- 14:08 - one\n- 14:09 - two\n\n"
        "_Next update by 15:00_ · [graph](https://grafana.example.com/d/1)\n"
    )
    body = card_of(accepted(message_activity(Message(markdown, "x"))))["body"]
    assert body[0] == {
        "type": "TextBlock",
        "text": "🔴 INCIDENT ACTIVE · INC-7",
        "wrap": True,
        "size": "Large",
        "weight": "Bolder",
        "style": "heading",
    }
    assert [block["text"] for block in body[1:]] == [
        "**Title**: Checkout",
        "**Status**: _Investigating_",
        "**Timeline**:",
        "- 14:08 - one\n- 14:09 - two",
        "_Next update by 15:00_ · [graph](https://grafana.example.com/d/1)",
    ]
    # A paragraph's lines stay together; paragraphs are apart.
    assert [block.get("spacing") for block in body[1:]] == [None, "None", None, None, None]
    assert all(block["wrap"] is True for block in body)


def test_code_is_monospace_line_by_line_with_its_indentation() -> None:
    markdown = "```\ndef f():\n    return 1\n\nend  of it\n```\n"
    (block,) = card_of(accepted(message_activity(Message(markdown, "x"))))["body"]
    assert block["fontType"] == "Monospace"
    assert block["text"].split("\n\n") == [
        "def f():",
        "\u00a0" * 4 + "return 1",
        "\u00a0",
        "end\u00a0\u00a0of it",
    ]
    reply = accepted(text_activity(markdown))
    assert reply["text"].startswith("```\ndef f():\n") and reply["text"].endswith("\n```")


def test_an_empty_message_shows_its_fallback() -> None:
    activity = accepted(message_activity(Message("", "🔴 INC-7 **declared**")))
    assert shown(texts_of(activity)[0]) == "🔴 INC-7 **declared**"
    assert markup_in(texts_of(activity)[0]) == []
    assert activity["summary"] == "🔴 INC-7 **declared**"


# Buttons --------------------------------------------------------------------------------


def test_buttons_become_execute_actions_with_their_verbs_and_values() -> None:
    buttons = (
        Button("incident.acknowledge", "Acknowledge", "7", style="primary"),
        Button("incident.post_update", "Post update", "7"),
        Button("incident.resolve", "Resolve", "7", style="danger", confirm="Resolve INC-7?"),
    )
    card = card_of(accepted(message_activity(Message("**INC-7**", "x", buttons=buttons))))
    assert card["actions"] == [
        {
            "type": "Action.Execute",
            "title": "Acknowledge",
            "verb": "incident.acknowledge",
            "data": {"value": "7"},
            "style": "positive",
        },
        {
            "type": "Action.Execute",
            "title": "Post update",
            "verb": "incident.post_update",
            "data": {"value": "7"},
        },
        {
            "type": "Action.Execute",
            "title": "Resolve",
            "verb": "incident.resolve",
            "data": {"value": "7"},
            "style": "destructive",
            "tooltip": "Resolve INC-7?",
        },
    ]
    assert card["version"] == "1.5" and "refresh" not in card


def test_a_message_without_buttons_has_no_actions() -> None:
    assert "actions" not in card_of(message_activity(Message("hello", "hello")))


# Mentions -------------------------------------------------------------------------------


def test_people_named_are_mentioned_by_name_in_the_text() -> None:
    markdown = (
        f"**Roles**: commander {user_ref('29:1ann')} · scribe {user_ref('29:1bo')}\n"
        f"- 14:08 - declared by {user_ref('29:1ann')}\n"
    )
    names = {"29:1ann": "Ann Example", "29:1bo": "Bo & <Co>"}
    activity = accepted(message_activity(Message(markdown, "roles"), names=names))
    assert texts_of(activity) == [
        "**Roles**: commander @Ann Example · scribe @Bo &\u200b <\u200bCo>",
        "- 14:08 - declared by @Ann Example",
    ]
    assert activity["text"] == "<at>Ann Example</at> <at>Bo &amp; &lt;Co&gt;</at>"
    assert activity["entities"] == [
        {
            "type": "mention",
            "text": "<at>Ann Example</at>",
            "mentioned": {"id": "29:1ann", "name": "Ann Example"},
        },
        {
            "type": "mention",
            "text": "<at>Bo &amp; &lt;Co&gt;</at>",
            "mentioned": {"id": "29:1bo", "name": "Bo & <Co>"},
        },
    ]


def test_without_a_name_a_person_is_shown_and_mentioned_by_id() -> None:
    activity = accepted(message_activity(Message(f"by {user_ref('U012AB3CD')}", "x")))
    assert texts_of(activity) == ["by @U012AB3CD"]
    assert activity["text"] == "<at>U012AB3CD</at>"
    assert activity["entities"][0]["mentioned"] == {"id": "U012AB3CD", "name": "U012AB3CD"}


def test_groups_and_channels_are_named_but_notify_nobody() -> None:
    markdown = f"Called {group_ref('oncall')}: join {channel_ref('teams:3')} or {channel_ref('C1')}"
    plain = accepted(message_activity(Message(markdown, "x")))
    assert texts_of(plain) == ["Called @oncall: join the incident thread or the channel"]
    assert "entities" not in plain
    named = message_activity(Message(markdown, "x"), names={"teams:3": "INC-7 Checkout"})
    assert texts_of(named) == ["Called @oncall: join INC-7 Checkout or the channel"]


def test_a_reply_mentions_people_where_it_names_them() -> None:
    markdown = f"{user_ref('29:1ann')} is now **commander**; thanks {user_ref('29:1ann')}"
    activity = accepted(text_activity(markdown, names={"29:1ann": "Ann"}))
    assert activity["text"] == "<at>Ann</at> is now **commander**; thanks <at>Ann</at>"
    assert [entity["text"] for entity in activity["entities"]] == ["<at>Ann</at>"] * 2


def test_a_person_named_in_code_is_shown_but_not_mentioned_in_a_reply() -> None:
    activity = accepted(text_activity(f"```\nowner: {user_ref('29:1ann')}\n```", names={}))
    assert "@29:1ann" in activity["text"] and "entities" not in activity


# Size -----------------------------------------------------------------------------------


def note(minutes: int, text: str) -> TimelineEntry:
    return TimelineEntry(
        id=minutes + 1,
        incident_id=1,
        kind=TimelineKind.NOTE,
        at=STARTED + timedelta(minutes=minutes),
        actor=f"29:1person{minutes % 7}",
        text=text,
    )


def long_timeline() -> list[TimelineEntry]:
    entries = [note(n, f"step {n}: checked the **pool** <!here> again") for n in range(500)]
    entries[250] = note(250, "A" * 2999 + "!")
    return entries


def timeline_markdown() -> str:
    return Renderer().render("incident_timeline.md.j2", key="INC-7", lines=lines(long_timeline()))


def test_a_huge_timeline_keeps_its_first_and_last_lines_and_says_how_many_are_left_out() -> None:
    markdown = Renderer().render(
        "incident_timeline.md.j2", key="INC-7", lines=lines(long_timeline())
    )
    assert len(markdown.encode()) > 1.5 * ACTIVITY_LIMIT
    activity = accepted(message_activity(Message(markdown, "Timeline of INC-7")))
    assert activity_size(activity) <= ACTIVITY_LIMIT
    heading, timeline = texts_of(activity)
    assert heading.startswith("**Timeline of INC-7** (500 entries)")
    items = timeline.split("\n")
    (marker,) = [item for item in items if "more lines" in item]
    left_out = int(re.search(r"… (\d+) more lines \(/incident timeline\)", marker)[1])  # type: ignore[index]
    assert left_out + len(items) - 1 == 500
    assert "step 0:" in items[0] and "step 499:" in items[-1]
    # Only the people still shown are mentioned.
    assert len(activity["entities"]) <= 7


def test_a_huge_timeline_as_a_reply_fits_too() -> None:
    markdown = Renderer().render(
        "incident_timeline.md.j2", key="INC-7", lines=lines(long_timeline())
    )
    activity = accepted(text_activity(markdown))
    assert "more lines (/incident timeline)" in activity["text"]
    assert activity_size(activity) > ACTIVITY_LIMIT * 0.8  # as much as fits, not a stub


def test_the_card_of_an_incident_with_a_huge_timeline_and_a_long_note_fits() -> None:
    incident = Incident(
        id=1,
        number=7,
        title="Checkout errors",
        severity="SEV2",
        status=Status.INVESTIGATING,
        declared_by="29:1person0",
        started_at=STARTED,
    )
    entries = long_timeline()
    entries[-1] = note(499, "B" * 3000)
    message = incident_card(incident, entries, policy=default_policy(), renderer=Renderer())
    activity = accepted(message_activity(message))
    assert any("B" * 3000 in text for text in texts_of(activity))  # nothing needed to go
    assert card_of(activity)["actions"]


def test_text_without_lists_is_cut_at_last() -> None:
    markdown = "**Note**: " + escape_markdown("<at>x</at> " * 5_000) + "\n"
    for activity in (
        message_activity(Message(markdown, "x", buttons=(Button("a.b", "Go", "1"),))),
        text_activity(markdown),
    ):
        accepted(activity)
        assert activity_size(activity) > ACTIVITY_LIMIT * 0.9
        shown_text = "".join(texts_of(activity)) if "attachments" in activity else activity["text"]
        assert shown_text.endswith("… (cut to fit Teams' message size)")


def test_a_cut_never_splits_a_reference_or_leaves_code_open() -> None:
    row = f"{user_ref('29:1ann')} " * 40
    markdown = "```\n" + "\n".join(row for _ in range(400)) + "\n```\n"
    activity = accepted(message_activity(Message(markdown, "x"), names={"29:1ann": "Ann"}))
    code, notice = texts_of(activity)
    assert "<user:" not in code and "@Ann" in code
    assert notice == "… (cut to fit Teams' message size)"


def test_a_carriage_return_in_user_text_starts_no_list() -> None:
    typed = "rolled back\r- and then\r1. again"
    for activity in (
        message_activity(Message(f"**Note**: {escape_markdown(typed)}", "n")),
        text_activity(f"**Note**: {escape_markdown(typed)}"),
    ):
        said = texts_of(activity)[0] if "attachments" in activity else activity["text"]
        assert "\r" not in said and "\n" not in said
        assert shown(said) == "**Note**: rolled back - and then 1. again"
