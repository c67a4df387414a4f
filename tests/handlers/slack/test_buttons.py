"""Card buttons through Bolt, in process: acked at once, checked like their commands."""

from __future__ import annotations

from sqlalchemy import select

from bot.incidents.cards import ACKNOWLEDGE_ACTION, POST_UPDATE_ACTION
from bot.storage.models import Incident
from tests.handlers.slack.conftest import DECLARER, Glue


async def declared(glue: Glue) -> Incident:
    await glue.command("declare sev2 Checkout errors")
    (incident,) = await glue.warroom.db.transaction(
        lambda session: list(session.scalars(select(Incident)))
    )
    return incident


async def test_acknowledge_from_the_card(glue: Glue) -> None:
    await declared(glue)
    reply, url = await glue.press(
        ACKNOWLEDGE_ACTION, "1", user=DECLARER, channel="C0GENERAL", message_ts="1.1"
    )
    assert reply.status == 200
    await glue.settled()
    (incident,) = await glue.warroom.db.transaction(
        lambda session: list(session.scalars(select(Incident)))
    )
    assert incident.acknowledged_by == DECLARER
    assert glue.slack.responses_to(url) == []  # the card shows it; nothing to say


async def test_a_refusal_reaches_only_the_presser(glue: Glue) -> None:
    await declared(glue)
    await glue.press(ACKNOWLEDGE_ACTION, "1", user=DECLARER, channel="C0GENERAL", message_ts="1")
    _, url = await glue.press(
        ACKNOWLEDGE_ACTION, "1", user=DECLARER, channel="C0GENERAL", message_ts="1.1"
    )
    await glue.settled()
    (refusal,) = glue.slack.responses_to(url)
    assert "already acknowledged by <@U0DECLARER>" in refusal["text"]
    assert refusal["response_type"] == "ephemeral" and refusal["replace_original"] is False


async def test_unreadable_presses_are_explained(glue: Glue) -> None:
    _, url = await glue.press(
        ACKNOWLEDGE_ACTION, "10" * 30, user=DECLARER, channel="C0GENERAL", message_ts="1.1"
    )
    await glue.settled()
    (answer,) = glue.slack.responses_to(url)
    assert "no longer works" in answer["text"] or "there is no" in answer["text"]

    from tests.support.slack_requests import button_payload

    url = glue.slack.response_url()
    payload = button_payload(
        ACKNOWLEDGE_ACTION, "1", user=DECLARER, channel="C0GENERAL", message_ts="1",
        response_url=url,
    )  # fmt: skip
    del payload["user"]
    reply = await glue.interaction(payload)
    assert reply.status == 200
    await glue.settled()
    (answer,) = glue.slack.responses_to(url)
    assert "could not be read" in answer["text"]


async def test_post_update_opens_the_form(glue: Glue) -> None:
    await declared(glue)
    await glue.press(POST_UPDATE_ACTION, "1", user=DECLARER, channel="C0GENERAL", message_ts="1")
    await glue.settled()
    (opened,) = glue.slack.calls_to("views.open")
    assert opened.args["view"]["callback_id"] == "incident.update_form"
