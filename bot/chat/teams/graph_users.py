"""People by email, through Microsoft Graph: who a viewer signed in to the web view by
their email is in Teams (their Entra object id, the id warroom knows them by there).
Needs the `User.Read.All` application permission."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from bot.chat.teams.connector import TeamsHttp, TokenSource, json_object
from bot.chat.teams.graph import GRAPH_URL


class GraphUsers:
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

    async def id_of(self, email: str) -> str | None:
        """The Entra object id of the user whose sign-in name or mail is `email`."""
        # /users/{userPrincipalName} answers for a sign-in name; a mail that is not one is
        # found by filter.
        url = f"{self._base_url}/users/{quote(email, safe='@')}"
        answer = await self._rest.call(
            "GET", url, params={"$select": "id"}, accept=frozenset({400, 404})
        )
        if answer.status_code == 200:
            found = json_object(answer).get("id")
            return found if isinstance(found, str) and found else None
        literal = email.replace("'", "''")
        listed = await self._rest.call(
            "GET",
            f"{self._base_url}/users",
            params={"$filter": f"mail eq '{literal}'", "$select": "id"},
        )
        users = json_object(listed).get("value")
        if isinstance(users, list) and len(users) == 1 and isinstance(users[0], dict):
            found = users[0].get("id")
            return found if isinstance(found, str) and found else None
        return None
