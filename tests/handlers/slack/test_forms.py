"""Submitted modals through Bolt, in process: refusals shown under their field."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text as sql

from bot.chat.slack.forms import to_modal
from bot.inbound.forms import declare_form
from bot.policy.schema import default_policy
from tests.handlers.slack.conftest import DECLARER, Glue
from tests.support.slack_requests import view_submission_payload


def declare_view() -> dict[str, Any]:
    return to_modal(declare_form(default_policy(), origin_channel="C0GENERAL"))


def text(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def choice(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


async def test_a_declaration_from_the_form(glue: Glue) -> None:
    values = {
        "title": text("Checkout errors"),
        "severity": choice("SEV2"),
        "impact": text("EU customers"),
        "private": {"type": "checkboxes", "selected_options": [{"value": "private"}]},
    }
    reply = await glue.interaction(view_submission_payload(declare_view(), values, user=DECLARER))
    assert reply.status == 200 and reply.body == {}
    (incident,) = await glue.warroom.db.transaction(
        lambda session: list(session.execute(sql(
            "SELECT title, private, impact FROM incident"
        )))
    )  # fmt: skip
    assert tuple(incident) == ("Checkout errors", True, "EU customers")


async def test_refusals_name_their_field(glue: Glue) -> None:
    values = {"title": text("  "), "severity": choice("SEV2")}
    reply = await glue.interaction(view_submission_payload(declare_view(), values, user=DECLARER))
    assert reply.body["response_action"] == "errors"
    assert "title" in reply.body["errors"]
    values = {"title": text("x"), "severity": choice("SEV9")}
    reply = await glue.interaction(view_submission_payload(declare_view(), values, user=DECLARER))
    assert "unknown severity 'SEV9'" in reply.body["errors"]["severity"]


async def test_an_update_form_with_a_bad_status_or_next_is_refused(glue: Glue) -> None:
    await glue.command("declare sev2 Checkout errors")
    view = {
        "type": "modal",
        "callback_id": "incident.update_form",
        "private_metadata": '{"number": 1}',
        "title": {"type": "plain_text", "text": "Update INC-1"},
        "blocks": [],
    }
    bad_status = {"status": choice("bogus"), "text": text("all good")}
    reply = await glue.interaction(view_submission_payload(view, bad_status, user=DECLARER))
    assert "status" in reply.body["errors"]
    bad_next = {"next": choice("1x"), "text": text("all good")}
    reply = await glue.interaction(view_submission_payload(view, bad_next, user=DECLARER))
    assert "next" in reply.body["errors"]
    broken = {**view, "private_metadata": "not json"}
    reply = await glue.interaction(view_submission_payload(broken, bad_next, user=DECLARER))
    assert reply.status == 200 and "text" in reply.body["errors"]
