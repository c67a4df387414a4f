"""Slack glue: Bolt listeners that translate Slack's payloads into the core's requests,
acknowledge, and show the replies. No database, no Web API calls of their own: forms
are opened and messages read through the Slack chat adapter."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp

from bot.inbound.dispatch import Inbound
from bot.inbound.flags import TimelineFlags
from bot.inbound.submissions import FormSubmissions
from handlers.slack import buttons, commands, events, forms
from handlers.slack.background import Background
from handlers.slack.replies import FormOpener


@dataclass(frozen=True)
class SlackGlue:
    """What the listeners hand requests to."""

    inbound: Inbound
    submissions: FormSubmissions
    flags: TimelineFlags
    forms: FormOpener
    background: Background


def register(app: AsyncApp, glue: SlackGlue) -> None:
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
