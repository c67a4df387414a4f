"""The slice of Microsoft Graph warroom uses in Teams, for the fake Bot Connector: a
team's channels (create, list, find by name) and their files (the channel's folder, put
a file by name, read one by name, delete one). Channels made here are the connector's
own conversations, so the bot can post in them at once, as in Teams.
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

MAX_CHANNEL_NAME = 50
GRAPH_KINDS = (
    "graph_create",
    "graph_find",
    "graph_folder",
    "graph_upload",
    "graph_file",
    "graph_delete_file",
    "graph_user",
    "graph_users",
)
_NAME_FILTER = re.compile(r"displayName eq '((?:[^']|'')*)'")
# Characters SharePoint refuses in a file name.
_BAD_FILE_NAME = re.compile(r'["*:<>?/\\|]')
_Answer = tuple[int, Any]


class Channels(Protocol):
    """What Graph needs of the fake Bot Connector's conversations."""

    def has_team(self, team_id: str) -> bool: ...
    def team_channels(self, team_id: str) -> list[tuple[str, str | None, datetime]]: ...
    def channel_named(self, team_id: str, name: str) -> str | None: ...
    def add_channel(self, *, channel_id: str, team_id: str, name: str | None = None) -> None: ...


@dataclass(frozen=True)
class GraphRoute:
    kind: str  # one of GRAPH_KINDS
    team_id: str | None = None
    channel_id: str | None = None
    drive_id: str | None = None
    item_id: str | None = None  # a folder (by-name calls) or a file (delete)
    name: str | None = None  # a file's, in by-name calls


@dataclass
class FakeFile:
    id: str
    drive_id: str
    folder_id: str
    channel_id: str
    name: str
    content: bytes
    media_type: str
    versions: int = 1

    @property
    def web_url(self) -> str:
        return f"https://contoso.sharepoint.com/sites/incidents/Shared%20Documents/{self.name}"

    def item(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "size": len(self.content),
            "webUrl": self.web_url,
            "file": {"mimeType": self.media_type},
            "parentReference": {"driveId": self.drive_id, "id": self.folder_id},
        }


def route(method: str, segments: list[str]) -> GraphRoute | None:
    """The Graph call a request is, from its unquoted path segments ("v1.0", …)."""
    if segments[:1] != ["v1.0"]:
        return None
    rest = segments[1:]
    if rest[:1] == ["users"] and method == "GET" and len(rest) <= 2:
        return (
            GraphRoute("graph_user", name=rest[1]) if len(rest) == 2 else GraphRoute("graph_users")
        )
    if len(rest) == 3 and rest[0] == "teams" and rest[2] == "channels":
        kind = {"POST": "graph_create", "GET": "graph_find"}.get(method)
        return GraphRoute(kind, team_id=rest[1]) if kind else None
    shape = (len(rest), rest[0] if rest else "", method)
    if shape == (5, "teams", "GET") and rest[2] == "channels" and rest[4] == "filesFolder":
        return GraphRoute("graph_folder", team_id=rest[1], channel_id=rest[3])
    if len(rest) >= 4 and rest[0] == "drives" and rest[2] == "items":
        drive, item, tail = rest[1], rest[3], rest[4:]
        if not tail and method == "DELETE":
            return GraphRoute("graph_delete_file", drive_id=drive, item_id=item)
        # By name: items/{folder}:/{name}: (then /content for the bytes).
        if item.endswith(":") and tail and tail[0].endswith(":"):
            folder, name = item[:-1], tail[0][:-1]
            if tail[1:] == ["content"] and method == "PUT":
                return GraphRoute("graph_upload", drive_id=drive, item_id=folder, name=name)
            if not tail[1:] and method == "GET":
                return GraphRoute("graph_file", drive_id=drive, item_id=folder, name=name)
    return None


def error(status: int, code: str, message: str) -> _Answer:
    return status, {"error": {"code": code, "message": message}}


class FakeGraph:
    def __init__(self, channels: Channels) -> None:
        self._channels = channels
        self.reset()

    def reset(self) -> None:
        self.users: list[dict[str, str]] = []  # {"id", "userPrincipalName", "mail"}
        self.files: dict[str, FakeFile] = {}
        self._folders: dict[str, tuple[str, str]] = {}  # channel → (drive, folder item)
        self._ids = itertools.count(1)

    def files_in(self, channel_id: str) -> list[FakeFile]:
        return [f for f in self.files.values() if f.channel_id == channel_id]

    def carry_out(
        self, found: GraphRoute, *, body: Any, raw: bytes, media_type: str, where: str | None
    ) -> tuple[_Answer, list[str]]:
        """The answer, and the problems of a request Graph would refuse."""
        if found.kind == "graph_user":
            return self._user(found.name or ""), []
        if found.kind == "graph_users":
            return self._users_where(where)
        if found.kind == "graph_find":
            return self._find(found.team_id or "", where)
        if found.kind == "graph_create":
            if not isinstance(body, dict):
                return error(400, "BadRequest", "the body must be a JSON object"), [
                    "graph_create: the body must be a JSON object"
                ]
            return self._create(found.team_id or "", body)
        if found.kind == "graph_folder":
            return self._folder(found.team_id or "", found.channel_id or ""), []
        if found.kind == "graph_upload":
            return self._upload(found, raw, media_type)
        if found.kind == "graph_file":
            return self._file(found), []
        return self._delete(found.drive_id or "", found.item_id or ""), []

    # channels --------------------------------------------------------------------------

    def _create(self, team_id: str, body: dict[str, Any]) -> tuple[_Answer, list[str]]:
        if not self._channels.has_team(team_id):
            return error(404, "NotFound", f"No team found with Group Id {team_id}"), []
        name, membership = body.get("displayName"), body.get("membershipType", "standard")
        problems = []
        if not isinstance(name, str) or not 0 < len(name) <= MAX_CHANNEL_NAME:
            problems.append(f"displayName must have 1 to {MAX_CHANNEL_NAME} characters")
        if membership not in ("standard", "private"):
            problems.append(f"membershipType {membership!r} is not standard or private")
        members = body.get("members") or []
        owners = [m for m in members if isinstance(m, dict) and "owner" in (m.get("roles") or [])]
        if membership == "private" and not owners:
            problems.append("a private channel made with application permissions needs an owner")
        if problems:
            return error(400, "BadRequest", "; ".join(problems)), [
                f"graph_create: {p}" for p in problems
            ]
        if self._channels.channel_named(team_id, str(name)) is not None:
            message = "Channel name already existed, please use other name."
            return error(409, "NameAlreadyExists", message), []
        channel_id = f"19:{uuid.uuid4().hex}@thread.tacv2"
        self._channels.add_channel(channel_id=channel_id, team_id=team_id, name=name)
        answer = {"id": channel_id, "displayName": name, "membershipType": membership}
        return (201, answer), []

    def _find(self, team_id: str, where: str | None) -> tuple[_Answer, list[str]]:
        if not self._channels.has_team(team_id):
            return error(404, "NotFound", f"No team found with Group Id {team_id}"), []
        channels = self._channels.team_channels(team_id)
        if where is not None:
            match = _NAME_FILTER.fullmatch(where)
            if match is None:
                problem = f"unsupported $filter {where!r}"
                return error(400, "BadRequest", problem), [f"graph_find: {problem}"]
            name = match.group(1).replace("''", "'")
            channels = [
                c for c in channels if c[1] is not None and c[1].casefold() == name.casefold()
            ]
        listed = [
            {"id": cid, "displayName": name, "createdDateTime": _iso(created)}
            for cid, name, created in channels
        ]
        return (200, {"value": listed}), []

    # people ----------------------------------------------------------------------------

    def _user(self, key: str) -> _Answer:
        # Graph takes an object id or a sign-in name here, not a mail.
        for user in self.users:
            if key in (user["id"], user["userPrincipalName"]) or (
                key.casefold() == user["userPrincipalName"].casefold()
            ):
                return 200, {"id": user["id"]}
        if "@" not in key and len(key) != 36:
            return error(400, "Request_BadRequest", f"Invalid object identifier '{key}'.")
        return error(404, "Request_ResourceNotFound", f"Resource '{key}' does not exist.")

    def _users_where(self, where: str | None) -> tuple[_Answer, list[str]]:
        match = re.fullmatch(r"mail eq '((?:[^']|'')*)'", where or "")
        if match is None:
            problem = f"unsupported $filter {where!r}"
            return error(400, "BadRequest", problem), [f"graph_users: {problem}"]
        mail = match.group(1).replace("''", "'").casefold()
        found = [{"id": u["id"]} for u in self.users if u["mail"].casefold() == mail]
        return (200, {"value": found}), []

    # files -----------------------------------------------------------------------------

    def _folder(self, team_id: str, channel_id: str) -> _Answer:
        known = {cid for cid, _, _ in self._channels.team_channels(team_id)}
        if not self._channels.has_team(team_id) or channel_id not in known:
            return error(404, "NotFound", "The requested channel was not found.")
        drive, folder = self._folders.setdefault(
            channel_id, (f"b!{uuid.uuid4().hex}", f"01{uuid.uuid4().hex.upper()[:30]}")
        )
        return 200, {
            "id": folder,
            "name": "Incident channel",
            "parentReference": {"driveId": drive},
            "folder": {"childCount": len(self.files_in(channel_id))},
        }

    def _folder_channel(self, drive: str, folder: str) -> str | None:
        return next((c for c, held in self._folders.items() if held == (drive, folder)), None)

    def _upload(self, found: GraphRoute, raw: bytes, media_type: str) -> tuple[_Answer, list[str]]:
        drive, folder, name = found.drive_id or "", found.item_id or "", found.name or ""
        channel = self._folder_channel(drive, folder)
        if channel is None:
            return error(404, "itemNotFound", "The resource could not be found."), []
        if not name or _BAD_FILE_NAME.search(name):
            problem = f"graph_upload: {name!r} is not a file name SharePoint accepts"
            return error(400, "invalidRequest", problem), [problem]
        existing = next(
            (
                f
                for f in self.files.values()
                if (f.drive_id, f.folder_id, f.name) == (drive, folder, name)
            ),
            None,
        )
        if existing is not None:  # put by name replaces: a new version, not a second file
            existing.content, existing.media_type = raw, media_type
            existing.versions += 1
            return (200, existing.item()), []
        made = FakeFile(f"01F{next(self._ids):06d}", drive, folder, channel, name, raw, media_type)
        self.files[made.id] = made
        return (201, made.item()), []

    def _file(self, found: GraphRoute) -> _Answer:
        key = (found.drive_id, found.item_id, found.name)
        held = next(
            (f for f in self.files.values() if (f.drive_id, f.folder_id, f.name) == key), None
        )
        if held is None:
            return error(404, "itemNotFound", "The resource could not be found.")
        return 200, held.item()

    def _named(self, drive: str, folder: str, name: str) -> FakeFile | None:
        key = (drive, folder, name)
        return next(
            (f for f in self.files.values() if (f.drive_id, f.folder_id, f.name) == key), None
        )

    def _delete(self, drive: str, item: str) -> _Answer:
        held = self.files.get(item)
        if held is None or held.drive_id != drive:
            return error(404, "itemNotFound", "The resource could not be found.")
        del self.files[item]
        return 204, None


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
