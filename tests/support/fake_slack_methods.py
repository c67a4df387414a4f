"""What each Web API method does to the fake workspace, and what it answers.

Only calls that passed the spec checks get here (see `fake_slack_validation`). Each handler
enforces the rules the specs cannot express (name taken, not in channel, already pinned...)
by raising `SlackError`, which Slack answers as HTTP 200 {"ok": false, "error": ...}.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from . import fake_slack_files
from .fake_slack_validation import truthy
from .fake_slack_workspace import USER_ID, FakeChannel, SlackError, Workspace, message_text

_CHANNEL_NAME = re.compile(r"[a-z0-9_-]+")
_T = TypeVar("_T")

_Handler = Callable[[Workspace, dict[str, Any]], dict[str, Any]]
_HANDLERS: dict[str, _Handler] = dict(fake_slack_files.HANDLERS)


def _handles(*methods: str) -> Callable[[_Handler], _Handler]:
    def register(handler: _Handler) -> _Handler:
        _HANDLERS.update(dict.fromkeys(methods, handler))
        return handler

    return register


def handle(ws: Workspace, method: str, args: dict[str, Any]) -> dict[str, Any]:
    """The answer to a valid call of `method`; methods without effects just answer ok."""
    handler = _HANDLERS.get(method)
    if handler is None:
        return {"ok": True}
    try:
        return handler(ws, args)
    except SlackError as exc:
        return {"ok": False, "error": exc.error}


@_handles("auth.test")
def _auth_test(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    url = f"https://{ws.team_domain}.slack.com/"
    return {"ok": True, "url": url, "team": "Warroom", "user": "warroom"} | {
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


@_handles("conversations.create")
def _create(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    name = str(args.get("name", ""))
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > 80:
        raise SlackError("invalid_name_maxlength")
    if not _CHANNEL_NAME.fullmatch(name):
        raise SlackError("invalid_name_specials")
    if not name.strip("-_"):
        raise SlackError("invalid_name_punctuation")
    if ws.channel_named(name) is not None:
        raise SlackError("name_taken")  # archived channels keep their names
    private = truthy(args.get("is_private"))
    channel = ws.channels[ws.add_channel(name, is_private=private)]
    channel.creator, channel.members = ws.bot_user_id, {ws.bot_user_id}
    return {"ok": True, "channel": ws.channel_json(channel)}


@_handles("conversations.invite")
def _invite(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(args["channel"])
    if channel.is_archived:
        raise SlackError("is_archived")
    if ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    users = [u.strip() for u in str(args["users"]).split(",") if u.strip()]
    if not users:
        raise SlackError("no_user")
    if ws.bot_user_id in users:
        raise SlackError("cant_invite_self")
    if not all(USER_ID.fullmatch(u) for u in users):
        raise SlackError("user_not_found")
    if channel.members.issuperset(users):
        raise SlackError("already_in_channel")
    channel.members.update(users)
    return {"ok": True, "channel": ws.channel_json(channel)}


@_handles("conversations.join")
def _join(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(args["channel"])
    if channel.is_private:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    already = ws.bot_user_id in channel.members
    channel.members.add(ws.bot_user_id)
    answer: dict[str, Any] = {"ok": True, "channel": ws.channel_json(channel)}
    if already:
        answer |= {"warning": "already_in_channel"}
        answer |= {"response_metadata": {"warnings": ["already_in_channel"]}}
    return answer


@_handles("conversations.open")
def _open(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    if args.get("channel"):  # resuming a conversation: only a direct one is one
        channel = ws.channel(args["channel"])
        if not channel.is_im:
            raise SlackError("method_not_supported_for_channel_type")
        return {"ok": True, "channel": {"id": channel.id}, "no_op": True, "already_open": True}
    users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
    if not users:
        raise SlackError("users_list_not_supplied")
    if not all(USER_ID.fullmatch(u) for u in users):
        raise SlackError("user_not_found")
    if len(users) > 1:
        ws.violate("conversations.open: the fake opens direct conversations with one person only")
        raise SlackError("invalid_arguments")
    known = any(c.is_im and c.members == {ws.bot_user_id, users[0]} for c in ws.channels.values())
    channel = ws.dm(users[0])
    shown = ws.channel_json(channel) if truthy(args.get("return_im")) else {"id": channel.id}
    answer: dict[str, Any] = {"ok": True, "channel": shown}
    return answer | ({"no_op": True, "already_open": True} if known else {})


@_handles("conversations.archive")
def _archive(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(args["channel"])
    if channel.is_archived:
        raise SlackError("already_archived")
    channel.is_archived = True
    return {"ok": True}


@_handles("conversations.setTopic", "conversations.setPurpose")
def _set_topic(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(args["channel"])
    if ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    if "topic" in args:
        channel.topic = str(args["topic"])
    if "purpose" in args:
        channel.purpose = str(args["purpose"])
    return {"ok": True, "channel": ws.channel_json(channel)}


@_handles("conversations.info")
def _info(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(args["channel"])
    answer = ws.channel_json(channel)
    if truthy(args.get("include_num_members")):
        answer["num_members"] = len(channel.members)
    return {"ok": True, "channel": answer}


@_handles("conversations.members")
def _members(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(args["channel"])
    page, cursor = _page(sorted(channel.members), args)
    return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}


@_handles("conversations.list")
def _list(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    types = str(args.get("types") or "public_channel").split(",")
    listed = [
        ws.channel_json(c)
        for c in ws.channels.values()
        if not c.is_im
        and ("private_channel" if c.is_private else "public_channel") in types
        and (not c.is_private or ws.bot_user_id in c.members)
        and not (c.is_archived and truthy(args.get("exclude_archived")))
    ]
    page, cursor = _page(listed, args)
    return {"ok": True, "channels": page, "response_metadata": {"next_cursor": cursor}}


@_handles("users.conversations")
def _user_conversations(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    user = str(args.get("user") or ws.bot_user_id)
    types = str(args.get("types") or "public_channel").split(",")
    if not set(types) <= {"public_channel", "private_channel", "mpim", "im"}:
        raise SlackError("invalid_types")
    listed = [
        ws.channel_json(c)
        for c in ws.channels.values()
        if not c.is_im
        and ("private_channel" if c.is_private else "public_channel") in types
        and user in c.members
        and not (c.is_archived and truthy(args.get("exclude_archived")))
    ]
    page, cursor = _page(listed, args)
    return {"ok": True, "channels": page, "response_metadata": {"next_cursor": cursor}}


@_handles("conversations.history", "conversations.replies")
def _history(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(args["channel"])
    if ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    if "ts" in args:  # conversations.replies: the parent, then its replies, oldest first
        thread = [m for m in channel.messages if args["ts"] in (m["ts"], m.get("thread_ts"))]
    else:  # history: top-level messages (and broadcast replies), newest first
        thread = [
            m
            for m in reversed(channel.messages)
            if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
        ]
    inclusive = truthy(args.get("inclusive"))
    oldest = _ts_arg(args, "oldest", 0.0)
    latest = _ts_arg(args, "latest", float("inf"))
    thread = [m for m in thread if _within(float(m["ts"]), oldest, latest, inclusive)]
    if "ts" in args and not thread:
        raise SlackError("thread_not_found")
    page, cursor = _page(thread, args)
    metadata = truthy(args.get("include_all_metadata"))
    return {
        "ok": True,
        "messages": [ws.message_json(channel, m, metadata) for m in page],
        "has_more": bool(cursor),
        "pin_count": len(channel.pins),
        "response_metadata": {"next_cursor": cursor},
    }


@_handles("chat.postMessage")
def _post_message(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = _postable(ws, args)
    message = ws.new_message(args)
    channel.messages.append(message)
    answer = {"ok": True, "channel": channel.id, "ts": message["ts"]}
    return answer | {"message": ws.message_json(channel, message, True)}


def _postable(ws: Workspace, args: dict[str, Any]) -> FakeChannel:
    channel = ws.channel(args["channel"])
    if channel.is_archived:
        raise SlackError("is_archived")
    if channel.is_private and ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    return channel


@_handles("chat.update")
def _update(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(args["channel"])
    message = channel.message(args["ts"])
    if message is None:
        raise SlackError("message_not_found")
    message.update({k: args[k] for k in ("blocks", "metadata", "attachments") if k in args})
    if "text" in args:
        message["text"] = message_text(args)
    message["edited"] = {"user": ws.bot_user_id, "ts": ws.next_ts()}
    answer = {"ok": True, "channel": channel.id, "ts": message["ts"], "text": message["text"]}
    return answer | {"message": ws.message_json(channel, message, True)}


@_handles("chat.delete")
def _delete(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(args["channel"])
    message = channel.message(args["ts"])
    if message is None:
        raise SlackError("message_not_found")
    channel.messages.remove(message)
    channel.pins.discard(message["ts"])
    return {"ok": True, "channel": channel.id, "ts": message["ts"]}


@_handles("chat.postEphemeral")
def _post_ephemeral(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = _postable(ws, args)
    if str(args["user"]) not in channel.members:
        raise SlackError("user_not_in_channel")
    message = {"user": str(args["user"]), "text": message_text(args), "ts": ws.next_ts()}
    message |= {k: args[k] for k in ("blocks", "thread_ts") if k in args}
    channel.ephemeral.append(message)
    return {"ok": True, "message_ts": message["ts"]}


@_handles("chat.getPermalink")
def _permalink(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(args["channel"])
    if channel.message(args["message_ts"]) is None:
        raise SlackError("message_not_found")
    ts = str(args["message_ts"]).replace(".", "")
    link = f"https://{ws.team_domain}.slack.com/archives/{channel.id}/p{ts}"
    return {"ok": True, "channel": channel.id, "permalink": link}


def _pin_target(ws: Workspace, args: dict[str, Any]) -> tuple[FakeChannel, str]:
    channel = ws.visible_channel(args["channel"])
    ts = args.get("timestamp")
    if not ts:
        raise SlackError("no_item_specified")
    if ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    if channel.message(ts) is None:
        raise SlackError("message_not_found")
    return channel, str(ts)


@_handles("pins.add")
def _pin_add(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel, ts = _pin_target(ws, args)
    if ts in channel.pins:
        raise SlackError("already_pinned")
    channel.pins.add(ts)
    return {"ok": True}


@_handles("pins.remove")
def _pin_remove(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel, ts = _pin_target(ws, args)
    if ts not in channel.pins:
        raise SlackError("no_pin")
    channel.pins.discard(ts)
    return {"ok": True}


@_handles("pins.list")
def _pins_list(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(args["channel"])
    items = [
        {"type": "message", "created": int(float(m["ts"])), "created_by": ws.bot_user_id}
        | {"channel": channel.id, "message": ws.message_json(channel, m, False)}
        for m in channel.messages
        if m["ts"] in channel.pins
    ]
    return {"ok": True, "items": items}


@_handles("users.info")
def _user_info(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    user = str(args["user"])
    if not USER_ID.fullmatch(user):
        raise SlackError("user_not_found")
    return {"ok": True, "user": _user_json(ws, user)}


# Every person of the fake workspace has the profile email <their id, lower case>@example.com.
EMAIL_DOMAIN = "example.com"


@_handles("users.lookupByEmail")
def _user_by_email(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    local, _, domain = str(args["email"]).strip().rpartition("@")
    user = local.upper()
    if domain.lower() != EMAIL_DOMAIN or not USER_ID.fullmatch(user) or user == ws.bot_user_id:
        raise SlackError("users_not_found")
    return {"ok": True, "user": _user_json(ws, user)}


def _user_json(ws: Workspace, user: str) -> dict[str, Any]:
    is_bot = user == ws.bot_user_id
    name = "warroom" if is_bot else user.lower()
    profile = {"real_name": name.title(), "display_name": name, "team": ws.team_id}
    profile |= {"bot_id": ws.bot_id} if is_bot else {"email": f"{name}@{EMAIL_DOMAIN}"}
    answer = {"id": user, "team_id": ws.team_id, "name": name, "deleted": False}
    answer |= {"real_name": name.title(), "tz": "Etc/UTC", "tz_offset": 0, "is_bot": is_bot}
    return answer | {"is_admin": False, "profile": profile}


@_handles("views.open", "views.push", "views.update", "views.publish")
def _view(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    opening = "view_id" not in args and "external_id" not in args and "user_id" not in args
    if opening and not (args.get("trigger_id") or args.get("interactivity_pointer")):
        ws.violate("views: opening a view needs `trigger_id` or `interactivity_pointer`")
        raise SlackError("invalid_arguments")
    if args.get("trigger_id"):
        ws.use_trigger(str(args["trigger_id"]))
    view_id = str(args.get("view_id") or ws.new_id("V"))
    known = ws.views.get(view_id)
    if known is not None and args.get("hash") not in (None, known["hash"]):
        raise SlackError("hash_conflict")
    view = dict(args["view"]) | {"id": view_id, "team_id": ws.team_id, "app_id": ws.app_id}
    view |= {"bot_id": ws.bot_id, "hash": f"{time.time():.6f}.{ws.rng.getrandbits(32)}"}
    view |= {"state": {"values": {}}, "root_view_id": view_id, "previous_view_id": None}
    view.setdefault("private_metadata", "")
    view.setdefault("callback_id", "")
    ws.views[view_id] = view
    return {"ok": True, "view": copy.deepcopy(view)}


def _page(items: list[_T], args: dict[str, Any]) -> tuple[list[_T], str]:
    try:
        start = int(str(args.get("cursor") or "0").removeprefix("next:"))
        limit = int(args.get("limit") or 100) or 100
    except ValueError:
        raise SlackError("invalid_cursor") from None
    end = start + limit
    return items[start:end], (f"next:{end}" if end < len(items) else "")


def _ts_arg(args: dict[str, Any], name: str, default: float) -> float:
    try:
        return float(args.get(name) or default)
    except ValueError:
        raise SlackError(f"invalid_ts_{name}") from None


def _within(ts: float, oldest: float, latest: float, inclusive: bool) -> bool:
    return oldest <= ts <= latest if inclusive else oldest < ts < latest
