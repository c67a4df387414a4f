"""The fake Slack of bench/ack_latency.py, in a process of its own, stamping every call.

    python bench/stamped_slack.py SPECS_DIR ANNOUNCE_CHANNEL_ID

Prints its URLs as one JSON line, serves until its stdin closes, then prints a summary as
one JSON line. Each Web API call is stamped with `time.monotonic()` when the fake answers
it; on Linux that is CLOCK_MONOTONIC, the same clock in every process of the machine, so the
benchmark can subtract the moment it sent a command from the moment a call reached Slack.

`GET /bench/declaration?suffix=…` waits (up to 10 s) until the incident channel whose name
ends with `suffix` was created, had its card posted and pinned, and was announced, and
answers with those stamps: the benchmark runs sequential declarations without polling.

Subclassing the test fake reaches into two of its internals (`_answer`, `_build_app`):
acceptable for a benchmark, and the test fake itself stays free of benchmark code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.fake_slack import FakeSlack
from tests.support.fake_slack_validation import Problem

WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Stamp:
    at: float  # time.monotonic() when the fake answered
    method: str
    channel: str  # the channel the call acts on (the new one for conversations.create)
    name: str = ""  # conversations.create: the name asked for
    text: str = ""  # chat.postMessage: what was posted, to find an announcement's link


class StampedSlack(FakeSlack):
    def __init__(self, specs: Path, *, announce_channel: str) -> None:
        super().__init__(specs, validate=False)  # the real Slack spends none of our CPU
        self.announce_channel = announce_channel
        self.stamps: list[Stamp] = []
        self._changed: asyncio.Event | None = None

    def _answer(
        self, method: str, args: dict[str, Any], token: str | None, problems: list[Problem]
    ) -> dict[str, Any]:
        at = time.monotonic()
        answer = super()._answer(method, args, token, problems)
        if answer.get("ok"):
            self._stamp(at, method, args, answer)
        return answer

    def _stamp(self, at: float, method: str, args: dict[str, Any], answer: dict[str, Any]) -> None:
        channel = str(args.get("channel", ""))
        if method == "conversations.create":
            self.stamps.append(Stamp(at, method, answer["channel"]["id"], name=str(args["name"])))
        elif method == "chat.postMessage":
            text = json.dumps(args.get("blocks") or args.get("text") or "")
            announce = channel == self.announce_channel
            self.stamps.append(Stamp(at, method, channel, text=text if announce else ""))
        else:
            self.stamps.append(Stamp(at, method, channel))
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _build_app(self) -> Starlette:
        app = super()._build_app()
        app.router.routes.insert(0, Route("/bench/declaration", self._declaration))
        return app

    def declaration(self, suffix: str) -> dict[str, float] | None:
        """The stamps of the declaration whose channel name ends with `suffix`, once complete."""
        creates = (s for s in self.stamps if s.method == "conversations.create")
        create = next((s for s in creates if s.name.endswith(suffix)), None)
        if create is None:
            return None
        found = {"create": create.at}
        for stamp in self.stamps:
            if stamp.at < create.at:
                continue
            if stamp.channel == create.channel:
                key = {"chat.postMessage": "card", "pins.add": "pin", "chat.update": "edit"}
                if stamp.method in key:
                    found.setdefault(key[stamp.method], stamp.at)
            elif stamp.method == "chat.postMessage" and create.channel in stamp.text:
                found.setdefault("announce", stamp.at)
        return found if {"card", "pin", "announce"} <= found.keys() else None

    async def _declaration(self, request: Request) -> JSONResponse:
        suffix = request.query_params["suffix"]
        deadline = time.monotonic() + WAIT_SECONDS
        while (found := self.declaration(suffix)) is None:
            if time.monotonic() > deadline:
                return JSONResponse({"error": f"no complete declaration for {suffix}"}, 504)
            changed = self._changed = self._changed or asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=deadline - time.monotonic())
        return JSONResponse(found)


def summary(fake: StampedSlack) -> dict[str, object]:
    incident_channels = [c for c in fake.channels.values() if c.name.startswith("inc-")]
    return {
        "channels": len(incident_channels),
        "pinned": sum(1 for c in incident_channels if c.pins),
        "card_edits": sum(1 for s in fake.stamps if s.method == "chat.update"),
        "violations": fake.violations,
    }


def main() -> None:
    specs, announce = Path(sys.argv[1]), sys.argv[2]
    with StampedSlack(specs, announce_channel=announce) as fake:
        fake.add_channel("incidents", channel_id=announce)
        print(json.dumps({"api_url": fake.api_url, "base_url": fake.base_url}), flush=True)
        sys.stdin.read()  # serve until the benchmark closes our stdin
        print(json.dumps(summary(fake)), flush=True)


if __name__ == "__main__":
    main()
