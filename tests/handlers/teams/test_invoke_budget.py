"""A card action answers within Teams' 5 seconds even when the work behind it is slow:
past the budget the person is told it is still going, and the work still ends."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import httpx
from fastapi import FastAPI, Request, Response

from bot.chat.teams.book import ConversationBook, Place
from bot.chat.teams.connector import BotConnector
from bot.inbound.dispatch import Inbound
from bot.inbound.requests import ButtonPress, Reply
from bot.inbound.submissions import FormSubmissions
from handlers.teams.messages import TeamsMessages

PLACE = Place("teams:1", "19:room@thread.tacv2;messageid=1", "https://svc/", "thread", None, None)


class Book:
    async def remember(self, activity: dict[str, Any]) -> Place:
        return PLACE


class SlowInbound:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.pressed: list[ButtonPress] = []

    async def press(self, press: ButtonPress) -> Reply:
        await self.release.wait()
        self.pressed.append(press)
        return Reply(markdown="Acknowledged by you")


def door(inbound: SlowInbound, budget: float) -> TeamsMessages:
    async def no_card(number: int) -> None:
        return None

    return TeamsMessages(
        inbound=cast(Inbound, inbound),
        submissions=cast(FormSubmissions, None),
        book=cast(ConversationBook, Book()),
        connector=cast(BotConnector, None),
        tokens=None,
        card_of=no_card,
        invoke_budget=budget,
    )


def app_of(teams: TeamsMessages) -> FastAPI:
    app = FastAPI()

    @app.post("/api/messages")
    async def messages(request: Request) -> Response:
        return await teams.handle(request)

    return app


def pressed(verb: str = "incident.acknowledge") -> dict[str, Any]:
    return {
        "type": "invoke",
        "name": "adaptiveCard/action",
        "id": "f:1",
        "channelId": "msteams",
        "serviceUrl": "https://svc/",
        "from": {"id": "29:alex", "aadObjectId": "aad-alex"},
        "recipient": {"id": "28:bot"},
        "conversation": {"id": PLACE.conversation_id},
        "value": {"action": {"type": "Action.Execute", "verb": verb, "data": {"value": "1"}}},
    }


async def post(app: FastAPI, activity: dict[str, Any]) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://warroom") as client:
        answer = await client.post("/api/messages", content=json.dumps(activity))
    assert answer.status_code == 200
    return dict(answer.json())


async def test_an_action_in_time_is_answered_with_its_outcome() -> None:
    inbound = SlowInbound()
    inbound.release.set()
    answer = await post(app_of(door(inbound, budget=5)), pressed())
    assert answer["value"] == "Acknowledged by you"


async def test_a_slow_action_is_answered_in_time_and_still_carried_out() -> None:
    inbound = SlowInbound()
    teams = door(inbound, budget=0.01)
    answer = await post(app_of(teams), pressed())
    assert answer["statusCode"] == 200 and "Still working on it" in answer["value"]
    assert inbound.pressed == []
    inbound.release.set()
    await asyncio.gather(*set(teams._late))
    assert [p.action for p in inbound.pressed] == ["incident.acknowledge"]
    assert teams._late == set()
