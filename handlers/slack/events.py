"""Timeline capture from Slack: 📌 reactions and pins in incident channels, and the "Add to
incident timeline" message shortcut from any channel.

An event is answered once the bot has decided what to do with it (ignore it, or capture
the message after the answer); Slack's re-deliveries (`X-Slack-Retry-Num`) are
recognised by event id and skipped.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.chat.port import ChatMessage
from bot.chat.slack.markup import from_slack_text, message_time
from bot.inbound.flags import TimelineFlags
from bot.inbound.requests import Flag, FlaggedMessage, MessageShortcut, Requester
from handlers.slack.background import Background
from handlers.slack.payloads import dig, requester_of, text_at
from handlers.slack.replies import FormOpener, respond_with

SHORTCUT = "incident.add_to_timeline"
EVENTS = ("reaction_added", "reaction_removed", "pin_added", "pin_removed")


def flagged_message(
    body: dict[str, Any], event: dict[str, Any], flag: Flag
) -> FlaggedMessage | None:
    """The message a reaction or a pin is about; None for anything else (files, bots…)."""
    user = text_at(event, "user")
    item = dig(event, "item")
    if user is None or not isinstance(item, dict) or item.get("type") != "message":
        return None
    channel = text_at(item, "channel") or text_at(event, "channel_id")
    ts = text_at(item, "ts") or text_at(item, "message", "ts")
    if channel is None or ts is None:
        return None
    return FlaggedMessage(
        requester=Requester(user_id=user, channel_id=channel),
        channel_id=channel,
        message_ref=ts,
        flag=flag,
        event_id=text_at(body, "event_id"),
        emoji=text_at(event, "reaction"),
    )


class TimelineEvents:
    def __init__(self, *, flags: TimelineFlags, forms: FormOpener, background: Background) -> None:
        self._flags = flags
        self._forms = forms
        self._background = background

    async def _decide(
        self, flag: FlaggedMessage | None, context: dict[str, Any], *, added: bool
    ) -> None:
        if flag is None or not self._flags.concerns_timeline(flag):
            return
        if flag.flag is Flag.PIN and flag.requester.user_id == context.get("bot_user_id"):
            return  # our own pin of the status card is not news
        if not await self._flags.fresh(flag):
            return
        work = self._flags.flagged(flag) if added else self._flags.unflagged(flag)
        self._background.spawn(work, what=f"timeline {flag.flag} in {flag.channel_id}")

    async def reaction_added(
        self, body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]
    ) -> None:
        await self._decide(flagged_message(body, event, Flag.REACTION), context, added=True)

    async def reaction_removed(
        self, body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]
    ) -> None:
        await self._decide(flagged_message(body, event, Flag.REACTION), context, added=False)

    async def pin_added(
        self, body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]
    ) -> None:
        await self._decide(flagged_message(body, event, Flag.PIN), context, added=True)

    async def pin_removed(
        self, body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]
    ) -> None:
        await self._decide(flagged_message(body, event, Flag.PIN), context, added=False)

    async def shortcut(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        requester = requester_of(body)
        channel, ts = text_at(body, "channel", "id"), text_at(body, "message", "ts")
        if requester is None or channel is None or ts is None:
            return
        # The shortcut carries the message itself: no need for warroom to be in the channel.
        message = ChatMessage(
            channel_id=channel,
            ref=ts,
            author=text_at(body, "message", "user"),
            text=from_slack_text(text_at(body, "message", "text") or ""),
            posted_at=message_time(ts),
        )
        shortcut = MessageShortcut(requester=requester, message=message)
        self._background.spawn(
            self._shortcut(shortcut, text_at(body, "trigger_id"), respond), what="the shortcut"
        )

    async def _shortcut(
        self, shortcut: MessageShortcut, trigger: str | None, respond: AsyncRespond
    ) -> None:
        reply = await self._flags.shortcut(shortcut)
        if reply.form is not None and trigger is not None:
            await self._forms.open_form(trigger_id=trigger, form=reply.form)
        await respond_with(respond, reply)


def register(app: AsyncApp, *, events: TimelineEvents) -> None:
    app.event("reaction_added")(events.reaction_added)
    app.event("reaction_removed")(events.reaction_removed)
    app.event("pin_added")(events.pin_added)
    app.event("pin_removed")(events.pin_removed)
    app.shortcut(SHORTCUT)(events.shortcut)
