"""A channel's files, through Microsoft Graph: where a postmortem document is shared in
Teams (a bot cannot attach a file to a channel post; Teams keeps each channel's files in
the team's SharePoint library, in the channel's folder).

Uploading puts the file by name, so doing it again replaces it: an upload whose answer
was lost cannot leave two copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import httpx

from bot.chat.teams.connector import TeamsHttp, TokenSource, json_object
from bot.chat.teams.graph import GRAPH_URL
from bot.errors import DeliveryError

# Graph's simple upload takes up to 250 MB; a postmortem is far smaller.
SIMPLE_UPLOAD_LIMIT = 250 * 1024 * 1024
_REF_SEPARATOR = "/"


@dataclass(frozen=True)
class Folder:
    drive_id: str
    item_id: str


@dataclass(frozen=True)
class UploadedFile:
    ref: str  # "<drive id>/<item id>": enough to delete it later
    name: str
    web_url: str


class GraphFiles:
    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        tokens: TokenSource | None,
        base_url: str = GRAPH_URL,
        timeout: float = 30.0,
    ) -> None:
        self._rest = TeamsHttp(http=http, tokens=tokens, timeout=timeout)
        self._base_url = base_url.rstrip("/")
        self._folders: dict[tuple[str, str], Folder] = {}  # a channel's folder never moves

    async def folder(self, *, team_id: str, channel_id: str) -> Folder:
        held = self._folders.get((team_id, channel_id))
        if held is not None:
            return held
        url = (
            f"{self._base_url}/teams/{quote(team_id, safe='')}"
            f"/channels/{quote(channel_id, safe='')}/filesFolder"
        )
        answer = await self._rest.call("GET", url, not_found="teams_channel_files_not_found")
        data = json_object(answer)
        drive = (data.get("parentReference") or {}).get("driveId")
        item = data.get("id")
        if not (isinstance(drive, str) and drive and isinstance(item, str) and item):
            raise self._rest.unreadable(answer, f"GET {httpx.URL(url).path}", posts=False)
        found = self._folders[(team_id, channel_id)] = Folder(drive, item)
        return found

    async def upload(
        self, *, folder: Folder, filename: str, content: bytes, media_type: str
    ) -> UploadedFile:
        if len(content) > SIMPLE_UPLOAD_LIMIT:
            raise DeliveryError("teams_file_too_large", retryable=False, detail=filename)
        url = self._by_name(folder, filename) + "/content"
        # Replacing by name is idempotent: a lost answer is safe to ask again.
        answer = await self._rest.call(
            "PUT", url, content=(content, media_type), not_found="teams_channel_files_not_found"
        )
        return self._file(answer, folder, f"PUT {httpx.URL(url).path}")

    async def named(self, *, folder: Folder, filename: str) -> UploadedFile | None:
        url = self._by_name(folder, filename)
        answer = await self._rest.call("GET", url, accept=frozenset({404}))
        if answer.status_code == 404:
            return None
        return self._file(answer, folder, f"GET {httpx.URL(url).path}")

    async def delete(self, *, ref: str) -> None:
        drive, _, item = ref.partition(_REF_SEPARATOR)
        if not (drive and item):
            raise DeliveryError("teams_file_ref_invalid", retryable=False, detail=ref)
        url = f"{self._base_url}/drives/{quote(drive, safe='')}/items/{quote(item, safe='')}"
        await self._rest.call("DELETE", url, accept=frozenset({404}))

    def _by_name(self, folder: Folder, filename: str) -> str:
        # The path form addresses a child by name: drives/{d}/items/{folder}:/{name}:
        return (
            f"{self._base_url}/drives/{quote(folder.drive_id, safe='')}"
            f"/items/{quote(folder.item_id, safe='')}:/{quote(filename, safe='')}:"
        )

    def _file(self, answer: httpx.Response, folder: Folder, what: str) -> UploadedFile:
        data = json_object(answer)
        item, name, web_url = data.get("id"), data.get("name"), data.get("webUrl")
        if not (isinstance(item, str) and item and isinstance(web_url, str)):
            raise self._rest.unreadable(answer, what, posts=False)
        return UploadedFile(
            ref=f"{folder.drive_id}{_REF_SEPARATOR}{item}", name=str(name or ""), web_url=web_url
        )
