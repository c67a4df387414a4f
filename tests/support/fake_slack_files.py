"""Files in the fake Slack: the external upload flow and files.delete, as Slack has them.

A file is shared in three steps: files.getUploadURLExternal hands out a ticket (a file id
and an upload URL on this server), the client POSTs the bytes to that URL (`receive_upload`),
and files.completeUploadExternal shares the file, as a message from its uploader that
carries it. Like Slack, a second complete of the same file shares nothing more: a retried
complete whose first answer was lost does not post the file twice.

Plain functions over the `Workspace`; the caller holds the server's lock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .fake_slack_workspace import FakeChannel, FakeFile, SlackError, Workspace, message_text

# What `FakeSlack.calls` names a POST of a file's bytes to its upload URL.
UPLOAD = "upload"
# Slack's own ceiling for one file (1 GB).
MAX_FILE_BYTES = 1_000_000_000


def upload_ticket(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """files.getUploadURLExternal: a file id, and where to send its `length` bytes."""
    length = int(args["length"])
    if length <= 0:
        raise SlackError("missing_argument")  # Slack's answer to a length of 0
    if length > MAX_FILE_BYTES:
        raise SlackError("file_upload_size_restricted")
    file = FakeFile(ws.new_id("F"), str(args["filename"]), length, user=ws.bot_user_id)
    ws.files[file.id] = file
    return {"ok": True, "upload_url": f"{ws.base_url}/upload/{file.id}", "file_id": file.id}


def receive_upload(ws: Workspace, file_id: str, content: bytes) -> tuple[int, str]:
    """The POST of a file's bytes: the status and text to answer. A refusal is also a
    violation, as the client sent what its own ticket says it would not."""
    file = ws.files.get(file_id)
    if file is None:
        ws.violate(f"{UPLOAD}: no upload ticket for {file_id!r}")
        return 404, "no such upload"
    if file.completed:
        ws.violate(f"{UPLOAD}: {file_id} was completed already; its bytes cannot change")
        return 400, "upload completed"
    if len(content) != file.length:
        detail = f"{len(content)} bytes, where files.getUploadURLExternal was told {file.length}"
        ws.violate(f"{UPLOAD}: {file_id}: {detail}")
        return 400, "length mismatch"
    file.content = content
    return 200, f"OK - {len(content)}"


def complete_upload(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """files.completeUploadExternal: share uploaded files in `channel_id` (or `channels`),
    or keep them private when it names none."""
    files = [_uploaded(ws, item) for item in _file_items(ws, args.get("files"))]
    targets = [_shareable(ws, ref) for ref in _channel_refs(args)]
    comment = str(args.get("initial_comment") or "")
    thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
    for file, title in files:
        if file.completed:
            continue  # shared already: Slack does not share it again
        file.completed, file.title, file.initial_comment = True, title or file.name, comment
        for channel in targets:
            share(ws, file, channel, text=comment, thread_ts=thread_ts)
    return {"ok": True, "files": [{"id": file.id, "title": file.title} for file, _ in files]}


def share(
    ws: Workspace, file: FakeFile, channel: FakeChannel, *, text: str, thread_ts: str | None
) -> str:
    """Post the message that shares `file` in `channel`, from its uploader; its ts."""
    message: dict[str, Any] = {"type": "message", "user": file.user, "team": ws.team_id}
    if file.user == ws.bot_user_id:
        message |= {"bot_id": ws.bot_id, "app_id": ws.app_id}
    message |= {"text": message_text({"text": text}), "ts": ws.next_ts(), "upload": True}
    message["files"] = [file_json(file)]
    if thread_ts:
        message["thread_ts"] = thread_ts
    channel.messages.append(message)
    file.shares[channel.id] = message["ts"]
    return str(message["ts"])


def delete_file(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """files.delete: the file, and the messages that shared it, are gone."""
    file = ws.files.get(str(args["file"]))
    if file is None:
        raise SlackError("file_not_found")
    if file.deleted:
        raise SlackError("file_deleted")
    if file.user != ws.bot_user_id:
        raise SlackError("cant_delete_file")  # a bot deletes only what it uploaded
    file.deleted = True
    for channel_id, ts in file.shares.items():
        channel = ws.channels[channel_id]
        channel.messages = [m for m in channel.messages if m["ts"] != ts]
        channel.pins.discard(ts)
    return {"ok": True}


def file_json(file: FakeFile) -> dict[str, Any]:
    """A file as a message that shares it carries it."""
    return {
        "id": file.id,
        "name": file.name,
        "title": file.title or file.name,
        "mimetype": file.mimetype,
        "size": len(file.content or b""),
        "user": file.user,
        "mode": "hosted",
    }


def _file_items(ws: Workspace, value: Any) -> list[dict[str, Any]]:
    # slack_sdk sends `files` as a JSON string (form bodies carry nothing else).
    try:
        items = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        items = None
    valid = isinstance(items, list) and items
    if not valid or not all(isinstance(i, dict) and i.get("id") for i in items):
        ws.violate(f"files.completeUploadExternal: `files` must be [{{id, title}}], not {value!r}")
        raise SlackError("invalid_arguments")
    return list(items)


def _uploaded(ws: Workspace, item: dict[str, Any]) -> tuple[FakeFile, str]:
    file = ws.files.get(str(item["id"]))
    if file is None or file.content is None or file.deleted:
        raise SlackError("file_not_found")  # no ticket, or its bytes never arrived
    return file, str(item.get("title") or "")


def _channel_refs(args: dict[str, Any]) -> list[str]:
    refs = [str(args["channel_id"])] if args.get("channel_id") else []
    refs += [ref.strip() for ref in str(args.get("channels") or "").split(",") if ref.strip()]
    return list(dict.fromkeys(refs))


def _shareable(ws: Workspace, ref: str) -> FakeChannel:
    channel = ws.visible_channel(ref)
    if channel.is_archived:
        raise SlackError("invalid_channel")
    if ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")  # unlike chat.postMessage, even in public ones
    return channel


HANDLERS: dict[str, Callable[[Workspace, dict[str, Any]], dict[str, Any]]] = {
    "files.getUploadURLExternal": upload_ticket,
    "files.completeUploadExternal": complete_upload,
    "files.delete": delete_file,
}
