"""Submitted modals: the values go to the core, a refusal is shown under its field."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.chat.slack.blocks import to_plain
from bot.chat.slack.forms import carried_context, submitted_values
from bot.inbound.forms import (
    DECLARE_FORM,
    DIAGNOSTICS_PICKER_FORM,
    TIMELINE_PICKER_FORM,
    UPDATE_FORM,
)
from bot.inbound.requests import FormSubmission
from bot.inbound.submissions import FormSubmissions
from bot.postmortem.form import POSTMORTEM_FORM
from handlers.slack.payloads import dig, requester_of

# Slack shows a field's error in a line of about this length.
ERROR_LIMIT = 150


class SubmittedForms:
    def __init__(self, *, submissions: FormSubmissions) -> None:
        self._submissions = submissions

    async def submit(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        view = dig(body, "view")
        requester = requester_of(body)
        if not isinstance(view, dict) or requester is None:
            await ack()  # nothing we can act on; closing the form is the honest answer
            return
        outcome = await self._submissions.submit(
            FormSubmission(
                requester=requester,
                form=str(view.get("callback_id") or ""),
                values=submitted_values(view),
                context=carried_context(view),
            )
        )
        if outcome.accepted:
            await ack()
            return
        errors = {field: to_plain(text)[:ERROR_LIMIT] for field, text in outcome.errors.items()}
        await ack(response_action="errors", errors=errors)


def register(app: AsyncApp, *, forms: SubmittedForms) -> None:
    forms_of_ours = (
        DECLARE_FORM,
        UPDATE_FORM,
        TIMELINE_PICKER_FORM,
        DIAGNOSTICS_PICKER_FORM,
        POSTMORTEM_FORM,
    )
    for form in forms_of_ours:
        app.view(form)(forms.submit)
