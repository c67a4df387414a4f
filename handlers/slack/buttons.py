"""Buttons on the incident card. Acked at once; a refusal reaches only the person who
pressed, as an ephemeral explanation."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.chat.slack.blocks import to_mrkdwn
from bot.errors import UserError
from bot.incidents.access import IncidentRef, Outcome
from bot.incidents.cards import ACKNOWLEDGE_ACTION, ESCALATE_ACTION, RESOLVE_ACTION
from bot.incidents.lifecycle import IncidentLifecycle

log = logging.getLogger(__name__)


def register(app: AsyncApp, *, lifecycle: IncidentLifecycle) -> None:
    buttons = CardButtons(lifecycle)
    app.action(ACKNOWLEDGE_ACTION)(buttons.acknowledge)
    app.action(RESOLVE_ACTION)(buttons.resolve)
    app.action(ESCALATE_ACTION)(buttons.escalate)


class CardButtons:
    def __init__(self, lifecycle: IncidentLifecycle) -> None:
        self._lifecycle = lifecycle

    async def acknowledge(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await self._press(body, respond, self._lifecycle.acknowledge)

    async def resolve(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await self._press(body, respond, self._lifecycle.resolve)

    async def escalate(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await self._press(body, respond, self._lifecycle.escalate)

    async def _press(
        self,
        body: dict[str, Any],
        respond: AsyncRespond,
        use_case: Callable[..., Awaitable[Outcome]],
    ) -> None:
        user = str(body["user"]["id"])
        try:
            number = int(body["actions"][0]["value"])
        except (KeyError, IndexError, ValueError):
            log.warning("card button without an incident number: %s", body.get("actions"))
            return
        try:
            via = body.get("channel", {}).get("id") or body.get("container", {}).get("channel_id")
            await use_case(IncidentRef(number=number, via=via), actor=user)
        except UserError as error:
            # The card itself shows what changed; only a refusal needs words.
            await respond(
                text=f":warning: {to_mrkdwn(str(error))}.",
                response_type="ephemeral",
                replace_original=False,
            )
