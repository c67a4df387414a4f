"""Timeline capture from Slack: 📌 reactions and pins in incident channels, and the
"Add to incident timeline" message shortcut from any channel.

Events are acknowledged at once by Bolt; Slack's re-deliveries of the same event
(`X-Slack-Retry-Num`) are recognised by event id and skipped.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.blocks import to_mrkdwn
from bot.errors import UserError
from bot.incidents.access import IncidentRef
from bot.incidents.capture import ChatMessage, TimelineCapture
from bot.incidents.status import incident_key
from bot.incidents.views import open_incidents
from bot.policy.schema import Policy
from bot.storage.database import Database
from bot.storage.models import Incident

log = logging.getLogger(__name__)

SHORTCUT = "incident.add_to_timeline"
SHORTCUT_VIEW = "incident.add_to_timeline_form"
# The form carries the message in its private_metadata, which Slack caps at 3000 chars.
MAX_CARRIED_TEXT = 2000
EVENTS = ("reaction_added", "reaction_removed", "pin_added", "pin_removed")


async def permalink(client: AsyncWebClient, channel: str, ts: str) -> str | None:
    try:
        link = await client.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError:
        return None  # the entry still names the author and the time
    value = link.get("permalink")
    return str(value) if value else None


async def read_message(client: AsyncWebClient, channel: str, ts: str) -> ChatMessage | None:
    """The message as Slack has it now, with its permalink; None if it cannot be read."""
    try:
        found = await client.conversations_history(
            channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
        )
        messages = found.get("messages") or []
        if not messages:  # a reply in a thread is not in the channel's history
            found = await client.conversations_replies(
                channel=channel, ts=ts, latest=ts, oldest=ts, inclusive=True, limit=1
            )
            messages = [m for m in found.get("messages") or [] if m.get("ts") == ts]
    except SlackApiError as error:
        log.warning("cannot read message %s in %s: %s", ts, channel, error.response.get("error"))
        return None
    if not messages:
        return None
    message = messages[0]
    return ChatMessage(
        channel_id=channel,
        ref=ts,
        author=message.get("user"),
        text=str(message.get("text", "")),
        permalink=await permalink(client, channel, ts),
    )


class TimelineEvents:
    def __init__(self, *, capture: TimelineCapture, policy: Policy, db: Database) -> None:
        self._capture = capture
        self._policy = policy
        self._db = db

    async def _fresh(self, body: dict[str, Any]) -> bool:
        event_id = body.get("event_id")
        return event_id is None or await self._capture.first_time(str(event_id))

    async def reaction_added(
        self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        item = event.get("item", {})
        if event.get("reaction") != self._policy.timeline_emoji or item.get("type") != "message":
            return
        if not await self._fresh(body):
            return
        await self._add(client, str(item["channel"]), str(item["ts"]), actor=str(event["user"]))

    async def reaction_removed(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        item = event.get("item", {})
        if event.get("reaction") != self._policy.timeline_emoji or item.get("type") != "message":
            return
        if await self._fresh(body):
            await self._remove(str(item["channel"]), str(item["ts"]))

    async def pin_added(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        client: AsyncWebClient,
        context: dict[str, Any],
    ) -> None:
        item = event.get("item", {})
        if item.get("type") != "message" or event.get("user") == context.get("bot_user_id"):
            return  # our own pin of the status card is not news
        if not await self._fresh(body):
            return
        channel = str(item.get("channel") or event.get("channel_id"))
        ts = str(item.get("message", {}).get("ts", ""))
        if ts:
            await self._add(client, channel, ts, actor=str(event.get("user", "")))

    async def pin_removed(
        self, body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]
    ) -> None:
        item = event.get("item", {})
        if item.get("type") != "message" or event.get("user") == context.get("bot_user_id"):
            return
        if await self._fresh(body):
            channel = str(item.get("channel") or event.get("channel_id"))
            await self._remove(channel, str(item.get("message", {}).get("ts", "")))

    async def _add(self, client: AsyncWebClient, channel: str, ts: str, *, actor: str) -> None:
        message = await read_message(client, channel, ts)
        if message is None:
            return
        try:
            await self._capture.capture(IncidentRef(channel_id=channel), message, actor=actor)
        except UserError as error:
            # Most often: not an incident channel, or already captured. Nothing to say.
            log.debug("not captured: %s", error)

    async def _remove(self, channel: str, ts: str) -> None:
        await self._capture.release(IncidentRef(channel_id=channel), f"{channel}:{ts}")

    # The message shortcut -------------------------------------------------------------

    async def shortcut(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        channel = str(body["channel"]["id"])
        user = str(body["user"]["id"])
        # The shortcut carries the message itself: no need for warroom to be in the channel.
        message = ChatMessage(
            channel_id=channel,
            ref=str(body["message"]["ts"]),
            author=body["message"].get("user"),
            text=str(body["message"].get("text", ""))[:MAX_CARRIED_TEXT],
            permalink=await permalink(client, channel, str(body["message"]["ts"])),
        )
        try:
            outcome = await self._capture.capture(
                IncidentRef(channel_id=channel), message, actor=user
            )
        except UserError as error:
            if "not an incident channel" not in str(error):
                await respond(
                    text=f":warning: {to_mrkdwn(str(error))}.",
                    response_type="ephemeral",
                    replace_original=False,
                )
                return
        else:
            await respond(
                text=f":white_check_mark: {to_mrkdwn(outcome.summary)}",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        # Elsewhere: ask which incident.
        incidents = await open_incidents(self._db, viewer=user)
        if not incidents:
            await respond(
                text=":warning: There is no open incident to add it to.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        await client.views_open(
            trigger_id=body["trigger_id"], view=_choose_view(incidents, message)
        )

    async def shortcut_submitted(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        view = body["view"]
        chosen = view["state"]["values"]["incident"]["value"].get("selected_option") or {}
        message = ChatMessage(**json.loads(view.get("private_metadata") or "{}"))
        if not chosen.get("value"):
            await ack(response_action="errors", errors={"incident": "Choose an incident."})
            return
        try:
            await self._capture.capture(
                IncidentRef(number=int(chosen["value"])), message, actor=str(body["user"]["id"])
            )
        except UserError as error:
            await ack(response_action="errors", errors={"incident": str(error)[:150]})
            return
        await ack()


def _choose_view(incidents: list[Incident], message: ChatMessage) -> dict[str, Any]:
    options = [
        {
            "text": {"type": "plain_text", "text": f"{incident_key(i.number)} {i.title}"[:75]},
            "value": str(i.number),
        }
        for i in incidents[:100]
    ]
    return {
        "type": "modal",
        "callback_id": SHORTCUT_VIEW,
        "title": {"type": "plain_text", "text": "Add to a timeline"},
        "submit": {"type": "plain_text", "text": "Add"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(asdict(message)),
        "blocks": [
            {
                "type": "input",
                "block_id": "incident",
                "label": {"type": "plain_text", "text": "Incident"},
                "element": {"type": "static_select", "action_id": "value", "options": options},
            }
        ],
    }


def register(app: AsyncApp, *, events: TimelineEvents) -> None:
    app.event("reaction_added")(events.reaction_added)
    app.event("reaction_removed")(events.reaction_removed)
    app.event("pin_added")(events.pin_added)
    app.event("pin_removed")(events.pin_removed)
    app.shortcut(SHORTCUT)(events.shortcut)
    app.view(SHORTCUT_VIEW)(events.shortcut_submitted)
