"""`POST /api/messages`: the Bot Framework's door. Every request's token is checked
before anything else (none, malformed, wrong audience, expired, a bad signature, keys
out of reach: 401 and nothing happens); then the activity is checked against the Teams
SDK's models (bot.chat.teams.activity_schema: a malformed one is a 400), read
defensively and handed to the same dispatcher as Slack's requests.

- A message (`@warroom declare sev2 Checkout errors`) is a command; its answer is a
  reply to the sender's message (Slack shows these only to the sender).
- An `adaptiveCard/action` invoke (a card's button, a form's submit) is answered in the
  HTTP response, within Teams' 5 seconds, with the refreshed card: Universal Actions.
- `conversationUpdate` (the bot added to a team or a chat) records where it is.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from bot.chat.port import Message
from bot.chat.teams.activity_schema import activity_problem
from bot.chat.teams.auth import InboundTokens, Unauthorized
from bot.chat.teams.book import ConversationBook, Place
from bot.chat.teams.cards import (
    CARD_CONTENT_TYPE,
    form_card,
    message_activity,
    submitted_context,
    submitted_values,
    text_activity,
)
from bot.chat.teams.connector import BotConnector
from bot.errors import DeliveryError
from bot.inbound.dispatch import Inbound
from bot.inbound.requests import (
    ButtonPress,
    CommandRequest,
    FormSubmission,
    Reply,
    Requester,
)
from bot.inbound.submissions import FormSubmissions
from bot.observability.logs import log_context
from handlers.http import Refusal, read_limited
from handlers.teams.activities import as_dict, command_text, invoke_action, sender_id

log = logging.getLogger(__name__)

FORM_VERB = "form:"
INVOKE_BUDGET_SECONDS = 4.0
MESSAGE_RESPONSE = "application/vnd.microsoft.activity.message"
# The refreshed card of an incident, by number (None: there is none to show).
CardOf = Callable[[int], Awaitable[Message | None]]


def _refused(refusal: Refusal) -> JSONResponse:
    return JSONResponse(refusal.body(), status_code=refusal.status)


def _channel_of(activity: object) -> str | None:
    channel = activity.get("channelId") if isinstance(activity, dict) else None
    return channel if isinstance(channel, str) else None


def _says(text: str) -> dict[str, Any]:
    return {"statusCode": 200, "type": MESSAGE_RESPONSE, "value": text}


@dataclass(frozen=True)
class TeamsMessages:
    inbound: Inbound
    submissions: FormSubmissions
    book: ConversationBook
    connector: BotConnector
    tokens: InboundTokens | None  # None: anonymous (a local trial)
    card_of: CardOf
    # Teams gives an invoke 5 s before it tells the person the action failed; this much
    # of them is ours, the rest the network's.
    invoke_budget: float = INVOKE_BUDGET_SECONDS
    # Invokes still running after their answer went (a slow database): kept, as the loop
    # holds only weak references to tasks.
    _late: set[asyncio.Task[dict[str, Any]]] = field(default_factory=set)

    async def handle(self, request: Request) -> Response:
        body = await read_limited(request)
        if isinstance(body, Refusal):
            return _refused(body)
        try:
            activity = json.loads(body)
        except ValueError:
            activity = None
        service_url = activity.get("serviceUrl") if isinstance(activity, dict) else None
        if self.tokens is not None:
            try:
                await self.tokens.check(
                    request.headers.get("authorization"),
                    service_url=service_url if isinstance(service_url, str) else None,
                    channel_id=_channel_of(activity),
                )
            except Unauthorized as error:
                log.warning("Teams request refused: %s", error.reason)
                return _refused(Refusal(401, "unauthorized", error.reason))
        if not isinstance(activity, dict) or not isinstance(service_url, str):
            return _refused(Refusal(400, "invalid_activity", "not a Bot Framework activity"))
        if not isinstance(as_dict(activity.get("conversation")).get("id"), str):
            return _refused(Refusal(400, "invalid_activity", "no conversation"))
        malformed = activity_problem(activity)
        if malformed is not None:
            return _refused(Refusal(400, "invalid_activity", malformed))
        with log_context(request_id=str(activity.get("id") or "") or None):
            try:
                return await self._serve(activity)
            except Exception:  # the database away, say: Teams retries a 503, never a trace
                log.exception("Teams activity could not be served")
                return _refused(Refusal(503, "unavailable", "could not be served now; try again"))

    async def _serve(self, activity: dict[str, Any]) -> Response:
        kind = activity.get("type")
        if kind == "invoke":
            return JSONResponse(await self._invoke_in_time(activity))
        place = await self.book.remember(activity)
        user = sender_id(activity)
        if kind == "message" and user is not None:
            await self._message(activity, place, user)
        elif kind == "conversationUpdate":
            await self._added(activity, place)
        return JSONResponse({}, status_code=200)

    async def _message(self, activity: dict[str, Any], place: Place, user: str) -> None:
        text = command_text(activity)
        reply = await self.inbound.command(CommandRequest(Requester(user, place.local_id), text))
        await self._answer(place, activity, reply)

    async def _answer(self, place: Place, activity: dict[str, Any], reply: Reply) -> None:
        """The reply to what someone typed: a form to fill in, or the answer's text."""
        answers: list[dict[str, Any]] = []
        if reply.form is not None:
            answers.append(
                {
                    "type": "message",
                    "attachments": [
                        {"contentType": CARD_CONTENT_TYPE, "content": form_card(reply.form)}
                    ],
                }
            )
        if reply.markdown:
            answers.append(
                message_activity(Message(reply.markdown, reply.markdown[:200]))
                if reply.paged
                else text_activity(reply.markdown)
            )
        for answer in answers:
            try:
                await self.connector.send(
                    service_url=place.service_url,
                    conversation_id=place.conversation_id,
                    activity=answer,
                    reply_to=str(activity.get("id") or "") or None,
                )
            except DeliveryError as error:  # the change stands; only its answer is lost
                log.warning("could not answer in Teams conversation %s: %s", place.local_id, error)

    async def _invoke_in_time(self, activity: dict[str, Any]) -> dict[str, Any]:
        """The invoke's answer within Teams' time; past it, the work goes on (it is the
        same as if answered in time: the card is edited for everyone when it is done)
        and the person is told so instead of seeing "something went wrong"."""

        async def invoked() -> dict[str, Any]:
            place = await self.book.remember(activity)
            return await self._invoke(activity, place, sender_id(activity))

        work = asyncio.ensure_future(invoked())
        done, _ = await asyncio.wait({work}, timeout=self.invoke_budget)
        if work in done:
            return work.result()
        log.warning(
            "a Teams card action took over %.1f s: answered before it ended", self.invoke_budget
        )
        self._late.add(work)
        work.add_done_callback(self._ended_late)
        return _says("⏳ Still working on it: the card changes when it is done.")

    def _ended_late(self, work: asyncio.Task[dict[str, Any]]) -> None:
        self._late.discard(work)
        if not work.cancelled() and work.exception() is not None:
            log.error("a late Teams card action failed", exc_info=work.exception())

    async def _invoke(
        self, activity: dict[str, Any], place: Place, user: str | None
    ) -> dict[str, Any]:
        found = invoke_action(activity)
        if found is None or user is None:
            return _says("That is not something warroom can do.")
        verb, data = found
        requester = Requester(user, place.local_id)
        if verb.startswith(FORM_VERB):
            outcome = await self.submissions.submit(
                FormSubmission(
                    requester=requester,
                    form=verb.removeprefix(FORM_VERB),
                    values=submitted_values(None, data),
                    context=submitted_context(data),
                )
            )
            if outcome.accepted:
                return _says("✅ Done.")
            return _says("⚠️ " + " ".join(outcome.errors.values()))
        value = str(data.get("value", ""))
        reply = await self.inbound.press(ButtonPress(requester, verb, value))
        if reply.form is not None:
            await self._answer(place, activity, Reply(form=reply.form))
        if reply.markdown:
            return _says(reply.markdown)
        number = value.partition(":")[0]
        card = await self.card_of(int(number)) if number.isdigit() else None
        if card is None:
            return _says("✅ Done.")
        content = message_activity(card)["attachments"][0]["content"]
        return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": content}

    async def _added(self, activity: dict[str, Any], place: Place) -> None:
        bot = as_dict(activity.get("recipient")).get("id")
        added = [as_dict(member).get("id") for member in activity.get("membersAdded") or []]
        if bot is None or bot not in added:
            return
        hello = text_activity("👋 warroom is here: `@warroom help` lists what it can do.")
        try:
            await self.connector.send(
                service_url=place.service_url, conversation_id=place.conversation_id, activity=hello
            )
        except DeliveryError as error:
            log.warning("could not greet Teams conversation %s: %s", place.local_id, error)
