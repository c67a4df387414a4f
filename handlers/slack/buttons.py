"""Buttons on the incident card: acked at once, then checked and run like the command
each stands for. A refusal reaches only the person who pressed."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.inbound.dispatch import BUTTON_ACTIONS, Inbound
from bot.inbound.requests import ButtonPress, Reply
from handlers.slack.background import Background
from handlers.slack.payloads import dig, requester_of, text_at
from handlers.slack.replies import FormOpener, respond_with

UNREADABLE = Reply("⚠️ That button press could not be read; please try again.")


def button_press(body: dict[str, Any]) -> ButtonPress | None:
    requester = requester_of(body)
    actions = dig(body, "actions")
    if requester is None or not isinstance(actions, list) or not actions:
        return None
    action = actions[0] if isinstance(actions[0], dict) else {}
    action_id, value = action.get("action_id"), action.get("value")
    if not isinstance(action_id, str) or not isinstance(value, str):
        return None
    return ButtonPress(requester=requester, action=action_id, value=value)


class CardButtons:
    def __init__(self, *, inbound: Inbound, forms: FormOpener, background: Background) -> None:
        self._inbound = inbound
        self._forms = forms
        self._background = background

    async def press(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        press = button_press(body)
        if press is None:
            self._background.spawn(respond_with(respond, UNREADABLE), what="a refusal")
            return
        self._background.spawn(
            self._run(press, text_at(body, "trigger_id"), respond), what=f"button {press.action}"
        )

    async def _run(self, press: ButtonPress, trigger: str | None, respond: AsyncRespond) -> None:
        reply = await self._inbound.press(press)
        if reply.form is not None and trigger is not None:
            await self._forms.open_form(trigger_id=trigger, form=reply.form)
        await respond_with(respond, reply)


def register(app: AsyncApp, *, buttons: CardButtons) -> None:
    for action in BUTTON_ACTIONS:
        app.action(action)(buttons.press)
