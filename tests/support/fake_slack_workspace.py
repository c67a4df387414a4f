"""The fake Slack's workspace: channels, messages, files, views and the ids and timestamps
they get.

Plain state and the lookups every Web API method shares; no locking, no HTTP. `FakeSlack`
owns one `Workspace` and holds its lock around every use; `fake_slack_methods` gives each
Web API method its effect on it.
"""

from __future__ import annotations

import copy
import mimetypes
import random
import re
import string
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .fake_slack_validation import MAX_TEXT_CHARS, truthy

TRIGGER_TTL_SECONDS = 3.0
USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_ID_CHARS = string.ascii_uppercase + string.digits


@dataclass
class FakeChannel:
    id: str
    name: str
    is_private: bool = False
    creator: str = ""
    members: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    pins: set[str] = field(default_factory=set)  # message ts
    created: int = field(default_factory=lambda: int(time.time()))
    is_archived: bool = False
    is_im: bool = False
    topic: str = ""
    purpose: str = ""
    ephemeral: list[dict[str, Any]] = field(default_factory=list)

    def message(self, ts: Any) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["ts"] == ts), None)


@dataclass
class FakeFile:
    """A file as the external upload flow builds it: a ticket (files.getUploadURLExternal),
    its bytes (the POST to the upload URL), then its shares (files.completeUploadExternal)."""

    id: str
    name: str
    length: int  # what files.getUploadURLExternal was told
    user: str  # who uploads it
    title: str = ""
    content: bytes | None = None  # None until its bytes are uploaded
    completed: bool = False
    initial_comment: str = ""
    deleted: bool = False
    shares: dict[str, str] = field(default_factory=dict)  # channel id -> ts of the share

    @property
    def channels(self) -> list[str]:
        """Where it is shared, in the order it was."""
        return list(self.shares)

    @property
    def mimetype(self) -> str:
        # Slack reads the type from the name: the upload flow takes no type of its own.
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"


class SlackError(Exception):
    """A method's refusal, answered as HTTP 200 {"ok": false, "error": ...}."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def message_text(args: dict[str, Any]) -> str:
    # chat.postMessage truncates overlong text instead of failing (checked as a violation).
    return str(args.get("text") or "")[:MAX_TEXT_CHARS]


class Workspace:
    """One workspace's state, as the bot user sees it. Callers hold the owner's lock."""

    def __init__(
        self,
        *,
        team_id: str,
        bot_user_id: str,
        bot_id: str,
        app_id: str,
        team_domain: str,
        rng: random.Random,
        violate: Callable[[str], None],
        base_url: str = "",
    ) -> None:
        self.team_id, self.bot_user_id, self.bot_id = team_id, bot_user_id, bot_id
        self.app_id, self.team_domain = app_id, team_domain
        # Shared with the owner and kept across resets, so ids repeat from run to run.
        self.rng = rng
        self.violate = violate
        self.channels: dict[str, FakeChannel] = {}
        self.files: dict[str, FakeFile] = {}  # by id, oldest first
        # Where the server answers: upload URLs point back at it. Set once it listens.
        self.base_url = base_url
        self.views: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, float | None] = {}  # id -> issue time, None once used
        self._ids: set[str] = set()
        self._last_ts = 0

    # what the tests set up -------------------------------------------------------------

    def add_channel(
        self,
        name: str,
        *,
        channel_id: str | None = None,
        is_private: bool = False,
        members: Iterable[str] = (),
    ) -> str:
        if self.channel_named(name) is not None or channel_id in self.channels:
            raise ValueError(f"channel #{name} ({channel_id}) already exists")
        channel_id = channel_id or self.new_id("C")
        self._ids.add(channel_id)
        self.channels[channel_id] = FakeChannel(channel_id, name, is_private, members=set(members))
        return channel_id

    def issue_trigger(self) -> str:
        trigger = f"{int(time.time())}.{self.rng.randrange(10**12)}.{uuid.uuid4().hex}"
        self.triggers[trigger] = time.monotonic()
        return trigger

    def use_trigger(self, trigger: str) -> None:
        """Spend a trigger_id: like Slack's, each opens one view within 3 s of being issued."""
        if trigger not in self.triggers:
            return  # made up by the test itself: nothing to enforce
        issued, self.triggers[trigger] = self.triggers[trigger], None
        error = "exchanged_trigger_id" if issued is None else ""
        if issued is not None and time.monotonic() - issued > TRIGGER_TTL_SECONDS:
            error = "expired_trigger_id"
        if error:
            self.violate(f"views: trigger_id {error.split('_')[0]} ({trigger})")
            raise SlackError(error)

    # ids and timestamps ----------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        while (new := prefix + "".join(self.rng.choices(_ID_CHARS, k=10))) in self._ids:
            pass
        self._ids.add(new)
        return new

    def next_ts(self) -> str:
        # Real time, so apps can read times from ts; +1 µs keeps it strictly increasing.
        self._last_ts = max(time.time_ns() // 1000, self._last_ts + 1)
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    # channel lookups -------------------------------------------------------------------

    def channel_named(self, name: str) -> FakeChannel | None:
        return next((c for c in self.channels.values() if c.name == name), None)

    def channel(self, ref: Any) -> FakeChannel:
        ref = str(ref)
        if USER_ID.fullmatch(ref):
            return self.dm(ref)  # posting to a user id lands in the DM with the app
        channel = self.channels.get(ref) or self.channel_named(ref.removeprefix("#"))
        if channel is None:
            raise SlackError("channel_not_found")
        return channel

    def visible_channel(self, ref: Any) -> FakeChannel:
        # A private channel the bot is not in does not exist as far as the bot can tell.
        channel = self.channel(ref)
        if channel.is_private and self.bot_user_id not in channel.members:
            raise SlackError("channel_not_found")
        return channel

    def dm(self, user: str) -> FakeChannel:
        """The direct conversation between the bot and `user`, opened on first use."""
        members = {self.bot_user_id, user}
        for channel in self.channels.values():
            if channel.is_im and channel.members == members:
                return channel
        dm = FakeChannel(self.new_id("D"), user, True, self.bot_user_id, members, is_im=True)
        self.channels[dm.id] = dm
        return dm

    # messages and their JSON -----------------------------------------------------------

    def new_message(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id}
        msg |= {"app_id": self.app_id, "team": self.team_id, "text": message_text(args)}
        msg["ts"] = self.next_ts()
        msg |= {k: args[k] for k in ("blocks", "metadata", "thread_ts", "attachments") if k in args}
        if "thread_ts" in args and truthy(args.get("reply_broadcast")):
            msg["subtype"] = "thread_broadcast"
        return msg

    def user_message(self, channel_id: str, user: str, text: str) -> str:
        """A message a person wrote (what tests flag with a pin or a reaction)."""
        ts = self.next_ts()
        self.channels[channel_id].messages.append(
            {"type": "message", "user": user, "team": self.team_id, "text": text, "ts": ts}
        )
        return ts

    def channel_json(self, ch: FakeChannel) -> dict[str, Any]:
        if ch.is_im:
            return {"id": ch.id, "created": ch.created, "is_im": True, "user": ch.name}
        topic = {"value": ch.topic, "creator": ch.creator if ch.topic else "", "last_set": 0}
        purpose = {"value": ch.purpose, "creator": ch.creator if ch.purpose else "", "last_set": 0}
        return {
            "id": ch.id,
            "name": ch.name,
            "name_normalized": ch.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": ch.is_private,
            "created": ch.created,
            "creator": ch.creator,
            "is_archived": ch.is_archived,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": self.bot_user_id in ch.members,
            "topic": topic,
            "purpose": purpose,
            "previous_names": [],
        }

    def message_json(self, ch: FakeChannel, msg: dict[str, Any], metadata: bool) -> dict[str, Any]:
        out = copy.deepcopy(msg)
        if not metadata:
            out.pop("metadata", None)
        if msg["ts"] in ch.pins:
            out["pinned_to"] = [ch.id]
        return out
