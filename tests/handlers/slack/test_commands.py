"""`/incident` through Bolt, in process: what the person sees in Slack's answer."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import Incident
from tests.handlers.slack.conftest import Glue


async def stored(glue: Glue) -> list[Incident]:
    return await glue.warroom.db.transaction(
        lambda session: list(session.scalars(select(Incident).order_by(Incident.number)))
    )


async def test_help_answers_with_usage_only_to_the_requester(glue: Glue) -> None:
    reply, _ = await glue.command("help")
    assert reply.status == 200
    assert reply.body["response_type"] == "ephemeral"
    assert "/incident declare [--private] &lt;severity&gt; &lt;title&gt;" in reply.text


async def test_declare_stores_before_answering_and_names_no_channel_yet(glue: Glue) -> None:
    reply, _ = await glue.command("declare sev2 Checkout <@U0ALEX|alex> errors")
    assert reply.text.startswith("Declaring INC-1 (SEV2) Checkout <@U0ALEX> errors")
    assert "opening its channel" in reply.text
    (incident,) = await stored(glue)
    # Slack's mention arrives as our reference: the core never sees Slack markup.
    assert incident.title == "Checkout <user:U0ALEX> errors"


async def test_a_bad_command_gets_a_short_usage_line(glue: Glue) -> None:
    reply, _ = await glue.command("declare sev9 Checkout errors")
    assert reply.text.startswith("⚠️ unknown severity 'sev9'")
    assert "Usage: `/incident declare" in reply.text
    assert await stored(glue) == []


async def test_update_without_text_on_a_resolved_incident_says_so(glue: Glue) -> None:
    await glue.command("declare sev2 Checkout errors")
    await glue.command("resolve INC-1 rolled back")
    reply, _ = await glue.command("update INC-1")
    assert reply.status == 200
    assert "INC-1 is Resolved: reopen it to post updates" in reply.text
    await glue.settled()
    assert glue.slack.calls_to("views.open") == []


async def test_declare_alone_opens_the_form_through_the_adapter(glue: Glue) -> None:
    reply, _ = await glue.command("declare")
    assert reply.status == 200 and reply.body == {}
    await glue.settled()
    (opened,) = glue.slack.calls_to("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == "incident.declare_form"
    assert [block["block_id"] for block in view["blocks"]] == [
        "title",
        "severity",
        "impact",
        "private",
    ]


async def test_a_command_without_a_user_is_answered(glue: Glue) -> None:
    from tests.support.slack_requests import command_fields, form_body

    fields = command_fields("ack", user="", channel="C0GENERAL", response_url="")
    reply = await glue.send(form_body(fields), "application/x-www-form-urlencoded")
    assert reply.status == 200 and "without a user" in reply.text


async def test_long_answers_are_paged_within_slacks_limits(glue: Glue) -> None:
    await glue.command("declare sev3 Slow search")
    for i in range(480):  # ~160,000 characters: more than one message of 50 blocks holds
        await glue.command(f"note INC-1 entry {i} " + "x" * 300)
    reply, url = await glue.command("timeline INC-1")
    assert len(reply.body["blocks"]) <= 50
    header = reply.body["blocks"][0]["text"]["text"]
    assert header.startswith("*Timeline of INC-1* (") and "entries)" in header
    await glue.settled()
    pages = glue.slack.responses_to(url)
    assert pages and all(len(page["blocks"]) <= 50 for page in pages)
    everything = str([reply.body, *pages])
    assert "entry 0 " in everything and "entry 479 " in everything
