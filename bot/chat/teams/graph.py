"""Microsoft Graph, for the optional mode where every incident gets a channel of its own
(the Bot Connector can only start threads in channels that exist).

A channel create is not idempotent and its answer can be lost after Graph made the
channel; the next attempt then meets the name as taken (`ChannelNameTaken`) and adopts
the channel it finds under that name (`find_channel`) instead of making a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from bot.chat.teams.connector import TeamsHttp, TokenSource, json_object
from bot.errors import ChannelNameTaken

GRAPH_URL = "https://graph.microsoft.com/v1.0"
# Graph answers 409 for a name in use; a 400 carrying this code is read the same way, as
# the code, not the status, names the cause.
NAME_TAKEN_CODES = frozenset({"NameAlreadyExists"})


@dataclass(frozen=True)
class TeamChannel:
    id: str
    name: str
    created_at: datetime | None


class GraphChannels:
    """`tokens` None: anonymous, a local trial against a stand-in (no header is sent)."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        tokens: TokenSource | None,
        base_url: str = GRAPH_URL,
        timeout: float = 10.0,
    ) -> None:
        self._rest = TeamsHttp(http=http, tokens=tokens, timeout=timeout)
        self._base_url = base_url.rstrip("/")

    async def create_channel(
        self,
        *,
        team_id: str,
        name: str,
        private: bool,
        description: str = "",
        owners: Sequence[str] = (),
    ) -> str:
        """The new channel's id ("19:…@thread.tacv2").

        `owners`: Entra object ids of people made its owners. Graph refuses a private
        channel made with application permissions unless it names at least one."""
        body: dict[str, Any] = {
            "displayName": name,
            "description": description,
            "membershipType": "private" if private else "standard",
        }
        if owners:
            body["members"] = [self._owner(user) for user in owners]
        url = self._channels(team_id)
        answer = await self._rest.call(
            "POST",
            url,
            body=body,
            posts=True,
            not_found="teams_team_not_found",
            accept=frozenset({400, 409}),
        )
        what = f"POST {httpx.URL(url).path}"
        if answer.status_code == 409 or _error_code(answer) in NAME_TAKEN_CODES:
            detail = self._rest.scrub(f"{what}: channel name {name!r} is taken")
            raise ChannelNameTaken("teams_channel_name_taken", retryable=False, detail=detail)
        if answer.status_code == 400:
            raise self._rest.refusal(answer, what, posts=True)
        channel_id = json_object(answer).get("id")
        if not (isinstance(channel_id, str) and channel_id):
            raise self._rest.unreadable(answer, what, posts=True)
        return channel_id

    async def find_channel(self, *, team_id: str, name: str) -> str | None:
        """The id of the team's channel named `name` (Teams compares names without case),
        None if there is none."""
        # OData string literals double their quotes.
        literal = name.replace("'", "''")
        url = self._channels(team_id)
        answer = await self._rest.call(
            "GET",
            url,
            params={"$filter": f"displayName eq '{literal}'"},
            not_found="teams_team_not_found",
        )
        found = json_object(answer).get("value")
        if not isinstance(found, list):
            raise self._rest.unreadable(answer, f"GET {httpx.URL(url).path}", posts=False)
        for channel in found:
            if not isinstance(channel, dict):
                continue
            same_name = str(channel.get("displayName", "")).casefold() == name.casefold()
            if same_name and isinstance(channel.get("id"), str):
                return str(channel["id"])
        return None

    async def list_channels(self, *, team_id: str) -> list[TeamChannel]:
        """Every channel of the team the app can see, in one call (a team has at most a
        thousand; Graph lists them all without paging)."""
        url = self._channels(team_id)
        answer = await self._rest.call("GET", url, not_found="teams_team_not_found")
        found = json_object(answer).get("value")
        if not isinstance(found, list):
            raise self._rest.unreadable(answer, f"GET {httpx.URL(url).path}", posts=False)
        return [
            TeamChannel(
                id=str(channel["id"]),
                name=str(channel.get("displayName", "")),
                created_at=_when(channel.get("createdDateTime")),
            )
            for channel in found
            if isinstance(channel, dict) and isinstance(channel.get("id"), str)
        ]

    def _channels(self, team_id: str) -> str:
        return f"{self._base_url}/teams/{quote(team_id, safe='')}/channels"

    def _owner(self, user_id: str) -> dict[str, Any]:
        return {
            "@odata.type": "#microsoft.graph.aadUserConversationMember",
            "user@odata.bind": f"{self._base_url}/users('{quote(user_id, safe='')}')",
            "roles": ["owner"],
        }


def _error_code(answer: httpx.Response) -> str | None:
    error = json_object(answer).get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
