"""`/incident …`: translated to a request, answered within Slack's 3-second window."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.chat.slack.markup import from_slack_text
from bot.inbound.commands import COMMAND
from bot.inbound.dispatch import Inbound
from bot.inbound.requests import CommandRequest, Reply, Requester
from handlers.slack.background import Background
from handlers.slack.payloads import text_at
from handlers.slack.replies import FormOpener, messages, respond_with

# Leave Slack's 3 s budget room for the network: past this, ack first and answer later.
ACK_BUDGET_SECONDS = 2.0
SLOW = Reply("Working on it… (this is taking longer than usual)")


class SlashCommand:
    def __init__(self, *, inbound: Inbound, forms: FormOpener, background: Background) -> None:
        self._inbound = inbound
        self._forms = forms
        self._background = background

    async def handle(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        user = text_at(command, "user_id")
        if user is None:
            await ack(text="⚠️ Slack sent this command without a user.", response_type="ephemeral")
            return
        request = CommandRequest(
            Requester(user_id=user, channel_id=text_at(command, "channel_id")),
            from_slack_text(str(command.get("text") or "")),
        )
        work = asyncio.ensure_future(self._inbound.command(request))
        done, _ = await asyncio.wait({work}, timeout=ACK_BUDGET_SECONDS)
        if not done:  # the database is slow: answer through the response_url once done
            await self._ack(ack, SLOW, respond)
            self._background.spawn(self._answer_later(work, respond), what="a slow command")
            return
        reply = work.result()
        trigger = text_at(command, "trigger_id")
        await self._ack(ack, reply, respond)
        if reply.form is not None and trigger is not None:
            self._background.spawn(
                self._open_form(reply, trigger, respond), what=f"opening {reply.form.id}"
            )

    async def _ack(self, ack: AsyncAck, reply: Reply, respond: AsyncRespond) -> None:
        if reply.markdown:
            first, *rest = messages(reply)
            await ack(**first)
            if rest:
                self._background.spawn(self._more_pages(rest, respond), what="more pages")
        else:
            await ack()

    @staticmethod
    async def _more_pages(rest: list[dict[str, Any]], respond: AsyncRespond) -> None:
        # Pages after the first go through the response_url, in order.
        for page in rest:
            await respond(**page, replace_original=False)

    async def _answer_later(self, work: asyncio.Future[Reply], respond: AsyncRespond) -> None:
        await respond_with(respond, await work)

    async def _open_form(self, reply: Reply, trigger: str, respond: AsyncRespond) -> None:
        assert reply.form is not None
        try:
            await self._forms.open_form(trigger_id=trigger, form=reply.form)
        except Exception:
            await respond_with(respond, Reply("⚠️ The form could not be opened; please try again."))
            raise


def register(app: AsyncApp, *, command: SlashCommand) -> None:
    app.command(COMMAND)(command.handle)
