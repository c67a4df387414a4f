"""Running an incident from its channel with /incident commands, through the real server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.e2e.conftest import DECLARER, SlackSender, wait_until
from tests.e2e.test_declare import pinned_card, section_text
from tests.support.fake_slack import FakeChannel, FakeSlack


def declared(sender: SlackSender, slack: FakeSlack, title: str = "Checkout errors") -> FakeChannel:
    sender.command(f"declare sev2 {title}")
    channel, _ = pinned_card(slack, "inc-1-" + title.lower().replace(" ", "-"))
    return channel


def card(slack: FakeSlack, channel: FakeChannel) -> dict[str, Any]:
    fresh = slack.channels[channel.id]
    (ts,) = fresh.pins
    message = fresh.message(ts)
    assert message is not None
    return message


def card_shows(slack: FakeSlack, channel: FakeChannel, text: str) -> dict[str, Any]:
    return wait_until(  # type: ignore[no-any-return]
        lambda: (m := card(slack, channel)) and text in section_text(m) and m,
        what=f"the card to show {text!r}",
    )


def answer(sender: SlackSender, text: str, channel: str, user: str = DECLARER) -> str:
    response = sender.command(text, channel=channel, user=user)
    assert response.status_code == 200
    return str(response.json()["text"])


def test_run_an_incident_from_its_channel(sender: SlackSender, slack: FakeSlack) -> None:
    channel = declared(sender, slack)
    here = channel.id

    assert answer(sender, "ack", here, user="U0ONCALL").startswith("✅ INC-1 acknowledged after")
    card_shows(slack, channel, "*Acknowledged*: by <@U0ONCALL> after")
    assert "already acknowledged by <@U0ONCALL>" in answer(sender, "ack", here)

    assert "INC-1 is now Mitigating" in answer(sender, "status mitigating rolled back", here)
    card_shows(slack, channel, "*Status*: Mitigating")
    card_shows(slack, channel, "Status Investigating → Mitigating by <@U0DECLARER>: rolled back")

    assert "INC-1 severity SEV2 → SEV1" in answer(sender, "severity P0", here)
    card_shows(slack, channel, "*Severity*: SEV1 (Complete outage)")

    answer(sender, "note <!channel> check <https://evil.example|this>", here)
    card_shows(slack, channel, "Note by <@U0DECLARER>: &lt;!channel&gt; check &lt;https://evil")

    assert "INC-1 resolved after" in answer(sender, "resolve Rolled back v2.3", here)
    resolved = card_shows(slack, channel, "*Resolution*: Rolled back v2.3")
    assert resolved["blocks"][0]["text"]["text"] == "✅ INCIDENT RESOLVED · INC-1"
    all_clear = wait_until(
        lambda: [m for m in slack.channels[here].messages if "[RESOLVED]" in str(m.get("blocks"))],
        what="the all-clear message",
    )
    assert len(all_clear) == 1
    assert "Rolled back v2.3" in section_text(all_clear[0])

    refusal = answer(sender, "resolve", here)
    assert "cannot move from Resolved to Resolved" in refusal
    assert "INC-1 reopened" in answer(sender, "reopen INC-1", "C0GENERAL")
    card_shows(slack, channel, "*Status*: Investigating")
    # The card was edited in place every time, never posted again.
    assert (
        len([m for m in slack.channels[here].messages if m["ts"] in slack.channels[here].pins]) == 1
    )
    assert len(slack.calls_to("chat.update")) >= 1


def test_commands_outside_an_incident_channel_need_the_incident(
    sender: SlackSender, slack: FakeSlack
) -> None:
    declared(sender, slack)
    assert "this is not an incident channel" in answer(sender, "ack", "C0GENERAL")
    assert "there is no INC-9" in answer(sender, "ack INC-9", "C0GENERAL")
    assert "unknown status 'fixed'" in answer(sender, "status fixed", "C0GENERAL")
    assert "unknown severity 'sev9'" in answer(sender, "severity INC-1 sev9", "C0GENERAL")
    assert "INC-1 acknowledged" in answer(sender, "ack INC-1", "C0GENERAL")


def test_two_people_resolving_at_once_resolve_once(sender: SlackSender, slack: FakeSlack) -> None:
    channel = declared(sender, slack)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(
                lambda u: answer(sender, "resolve", channel.id, user=u), ["U1", "U2", "U3", "U4"]
            )
        )
    assert sum("resolved after" in a for a in answers) == 1
    assert sum("cannot move from Resolved to Resolved" in a for a in answers) == 3
    wait_until(
        lambda: any(
            "[RESOLVED]" in str(m.get("blocks")) for m in slack.channels[channel.id].messages
        ),
        what="the all-clear",
    )
    all_clears = [
        m for m in slack.channels[channel.id].messages if "[RESOLVED]" in str(m.get("blocks"))
    ]
    assert len(all_clears) == 1


def card_buttons(message: dict[str, Any]) -> list[str]:
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    return [e["action_id"] for a in actions for e in a["elements"]]


def test_card_buttons_acknowledge_and_resolve(sender: SlackSender, slack: FakeSlack) -> None:
    channel = declared(sender, slack)
    first = card(slack, channel)
    assert card_buttons(first) == [
        "incident.acknowledge",
        "incident.post_update",
        "incident.escalate",
        "incident.resolve",
    ]
    resolve_button = next(b for b in first["blocks"] if b["type"] == "actions")["elements"][3]
    assert resolve_button["confirm"]["text"]["text"] == "Resolve INC-1 and post the all-clear?"

    pressed, _ = sender.action(
        "incident.acknowledge", "1", user="U0ONCALL", channel=channel.id, message_ts=first["ts"]
    )
    assert pressed.status_code == 200
    acknowledged = card_shows(slack, channel, "*Acknowledged*: by <@U0ONCALL> after")
    assert card_buttons(acknowledged) == [
        "incident.post_update",
        "incident.escalate",
        "incident.resolve",
    ]

    # A double click lands after the button is gone: one effect, one polite refusal.
    _, late = sender.action(
        "incident.acknowledge", "1", user="U0OTHER", channel=channel.id, message_ts=first["ts"]
    )
    (refusal,) = wait_until(lambda: slack.responses_to(late), what="the refusal")
    assert "already acknowledged by <@U0ONCALL>" in refusal["text"]
    assert refusal["response_type"] == "ephemeral"

    sender.action(
        "incident.resolve", "1", user="U0ONCALL", channel=channel.id, message_ts=first["ts"]
    )
    resolved = card_shows(slack, channel, "*Status*: Resolved")
    assert card_buttons(resolved) == []


def test_list_shows_open_incidents_newest_first_hiding_others_private_ones(
    sender: SlackSender, slack: FakeSlack
) -> None:
    sender.command("declare sev3 Slow search")
    sender.command("declare --private sev1 Credential leak")
    sender.command("declare sev2 Checkout errors", user="U0OTHER")
    wait_until(lambda: len(slack.calls_to("pins.add")) == 3, what="three cards")
    mine = sender.command("list").json()
    text = "\n".join(b["text"]["text"] for b in mine["blocks"])
    assert text.index("INC-3") < text.index("INC-2") < text.index("INC-1")
    assert "*INC-2* 🔒 [SEV1] Credential leak" in text
    theirs = sender.command("list", user="U0OTHER").json()
    other_text = "\n".join(b["text"]["text"] for b in theirs["blocks"])
    assert "INC-3" in other_text and "INC-1" in other_text and "INC-2" not in other_text
    assert "Credential leak" not in other_text


def test_a_500_entry_timeline_stays_valid_on_the_card_and_in_pages(
    sender: SlackSender, slack: FakeSlack
) -> None:
    channel = declared(sender, slack)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda i: answer(sender, f"note entry {i} " + "x" * 200, channel.id), range(500)
            )
        )
    # 500 notes, the declaration and the automatic L1 step: the card shows the last 10.
    shown = card_shows(slack, channel, "… 492 earlier")
    assert len(shown["blocks"]) <= 50
    response = sender.command("timeline", channel=channel.id)
    first = response.json()
    assert len(first["blocks"]) <= 50
    assert "*Timeline of INC-1* (502 entries)" in first["blocks"][0]["text"]["text"]
    pages = [
        first["blocks"],
        *[r["blocks"] for r in slack.responses_to(first.get("response_url", ""))],
    ]
    text = "\n".join(b["text"]["text"] for page in pages for b in page)
    assert "Incident declared as SEV2" in text


def test_roles_invite_and_tell_and_make_private_incidents_visible(
    sender: SlackSender, slack: FakeSlack
) -> None:
    sender.command("declare --private sev1 Credential leak")
    channel, _ = pinned_card(slack, "inc-1-credential-leak")
    assert "INC-1" not in str(sender.command("list", user="U0ALEX").json())
    reply = answer(sender, "role commander <@U0ALEX|alex>", channel.id)
    assert "<@U0ALEX> is now commander of INC-1" in reply
    wait_until(lambda: "U0ALEX" in slack.channels[channel.id].members, what="the invitation")
    wait_until(
        lambda: any(
            "is now *commander*" in str(m.get("blocks"))
            for m in slack.channels[channel.id].messages
        ),
        what="the role explained in the channel",
    )
    card_shows(slack, channel, "*Roles*: Commander <@U0ALEX>")
    assert "INC-1" in str(sender.command("list", user="U0ALEX").json())
    roles = sender.command("roles", channel=channel.id).json()
    assert "commander: <@U0ALEX>" in str(roles) and "scribe: nobody yet" in str(roles)
    assert "role 'commander' needs a person" in answer(sender, "role commander", channel.id)
    # To anyone else a private incident reads exactly like a number never used.
    stranger = answer(sender, "timeline INC-1", "C0GENERAL", user="U0STRANGER")
    never_used = answer(sender, "timeline INC-99", "C0GENERAL", user="U0STRANGER")
    assert stranger == never_used.replace("INC-99", "INC-1")
    assert "there is no INC-1" in stranger


def test_escalate_from_the_command_and_the_card(
    make_server: Any, slack: FakeSlack, tmp_path: Any
) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(
        "escalation:\n"
        "  - {level: L1, name: On-call engineer, contacts: {users: [U0ONCALL]}}\n"
        "  - {level: L2, name: Tech lead, severities: [SEV1, SEV2], after: 30m,\n"
        "     contacts: {users: [U0LEAD]}}\n"
        "  - {level: L3, name: Engineering manager, severities: [SEV1], after: 1h,\n"
        "     contacts: {users: [U0BOSS]}}\n",
        encoding="utf-8",
    )
    server = make_server(WARROOM_CONFIG=str(policy))
    server.start()
    sender = SlackSender(server, slack)
    channel = declared(sender, slack)
    # L1 is called at declaration, on its own.
    wait_until(lambda: "U0ONCALL" in slack.channels[channel.id].members, what="L1 invited")
    card_shows(slack, channel, "Escalated to L1 On-call engineer by warroom")
    reply = answer(sender, "escalate need the tech lead", channel.id)
    assert "INC-1 escalated to L2 Tech lead" in reply
    wait_until(lambda: "U0LEAD" in slack.channels[channel.id].members, what="L2 invited")
    first = card(slack, channel)
    assert "incident.escalate" in str(first["blocks"])
    sender.action(
        "incident.escalate", "1", user="U0ONCALL", channel=channel.id, message_ts=first["ts"]
    )
    wait_until(lambda: "U0BOSS" in slack.channels[channel.id].members, what="L3 invited")
    card_shows(slack, channel, "Escalated to L3 Engineering manager by <@U0ONCALL>")
    # Messages in one channel go out a second apart: the third may still be on its way.
    called = wait_until(
        lambda: (
            found
            if len(found := [m for m in slack.channels[channel.id].messages if "🚨" in str(m)]) == 3
            else None
        ),
        what="three escalation messages",
    )
    assert "Called: <@U0BOSS>" in str(called[2]["blocks"])
    assert "already at the top of the escalation path (L3 Engineering manager)" in answer(
        sender, "escalate", channel.id
    )


def test_permissions_refuse_with_an_explanation(
    make_server: Any, slack: FakeSlack, tmp_path: Any
) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("permissions:\n  resolve: {roles: [commander]}\n", encoding="utf-8")
    server = make_server(WARROOM_CONFIG=str(policy))
    server.start()
    sender = SlackSender(server, slack)
    channel = declared(sender, slack)
    first = card(slack, channel)
    _, url = sender.action(
        "incident.resolve", "1", user="U0SAM", channel=channel.id, message_ts=first["ts"]
    )
    (refusal,) = wait_until(lambda: slack.responses_to(url), what="the refusal")
    assert "only the commander may resolve INC-1" in refusal["text"]
    assert "*Status*: Investigating" in section_text(card(slack, channel))
    assert "only people in INC-1's channel may change the severity of it" in answer(
        sender, "severity INC-1 sev1", "C0GENERAL", user="U0STRANGER"
    )
    answer(sender, "role commander <@U0SAM>", channel.id)
    assert "INC-1 resolved after" in answer(sender, "resolve", channel.id, user="U0SAM")
