"""Slack glue: Bolt listeners that translate Slack's payloads into the core's requests,
acknowledge, and show the replies. No database, no Web API calls of their own: forms
are opened and messages read through the Slack chat adapter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.inbound.dispatch import Inbound
from bot.inbound.flags import TimelineFlags
from bot.inbound.submissions import FormSubmissions
from bot.observability.logs import bind_log_context
from handlers.slack import buttons, commands, events, forms
from handlers.slack.background import Background
from handlers.slack.payloads import text_at
from handlers.slack.replies import FormOpener


@dataclass(frozen=True)
class SlackGlue:
    """What the listeners hand requests to."""

    inbound: Inbound
    submissions: FormSubmissions
    flags: TimelineFlags
    forms: FormOpener
    background: Background


async def _name_the_request(body: dict[str, Any], next_: Callable[[], Awaitable[None]]) -> None:
    """Every line logged for the request names Slack's id of it. Bolt runs the listener
    after its middleware returns: bound for the rest of the request's task, its own."""
    bind_log_context(request_id=text_at(body, "event_id") or text_at(body, "trigger_id"))
    await next_()


def register(app: AsyncApp, glue: SlackGlue) -> None:
    app.use(_name_the_request)
    opener, background = glue.forms, glue.background
    commands.register(
        app,
        command=commands.SlashCommand(inbound=glue.inbound, forms=opener, background=background),
    )
    buttons.register(
        app,
        buttons=buttons.CardButtons(inbound=glue.inbound, forms=opener, background=background),
    )
    forms.register(app, forms=forms.SubmittedForms(submissions=glue.submissions))
    events.register(
        app,
        events=events.TimelineEvents(flags=glue.flags, forms=opener, background=background),
    )
