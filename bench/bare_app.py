"""The baseline for bench/ack_latency.py: a Bolt AsyncApp on warroom's server stack
(FastAPI + uvicorn, Bolt configured as warroom configures it) whose `/incident` handler
only acknowledges."""

from __future__ import annotations

import os
import sys

import uvicorn
from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def create_app() -> FastAPI:
    client = AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["WARROOM_SLACK_API_URL"]
    )
    bolt = AsyncApp(
        client=client,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        # As warroom's (bot/app.py): the answer is sent when the listener returns, not
        # polled for every 10 ms, which alone would add up to 10 ms to every ack.
        process_before_response=True,
    )

    @bolt.command("/incident")
    async def incident(ack: AsyncAck) -> None:
        await ack(text="ok")

    handler = AsyncSlackRequestHandler(bolt)
    api = FastAPI()

    @api.post("/slack/events")
    async def events(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response

    @api.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return api


if __name__ == "__main__":
    uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
