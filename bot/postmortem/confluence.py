"""Publishing the postmortem document to a Confluence space: REST API v1 content
endpoints, the body in storage format (XHTML).

The page is created once and updated afterwards. A create is not idempotent and its
answer can be lost after Confluence made the page, so a publish that does not know the
page's id yet first looks its title up in the space and updates what it finds: the
attempt after one whose outcome is unknown (`OutcomeUnknown`) adopts the page the lost
create made instead of making a second. An update reads the page's current version and
writes the next one, so repeating it is harmless.

The document is warroom's: an update writes over edits made in Confluence meanwhile.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from bot.errors import DeliveryError, OutcomeUnknown
from bot.policy.postmortem import ConfluenceSettings

CONTENT_PATH = "/rest/api/content"
# Answers that mean "not now" rather than "no": the same request can land later.
BUSY_STATUSES = frozenset({408, 429})
EXCERPT_CHARS = 200
REDACTED = "[redacted]"


MISSING_CREDENTIALS_RETRY_SECONDS = 300.0


@dataclass(frozen=True)
class PublishedPage:
    page_id: str
    version: int
    url: str  # the page's web address


@dataclass(frozen=True)
class _CurrentPage:
    page_id: str
    version: int


def missing_environment(settings: ConfluenceSettings, environ: Mapping[str, str]) -> list[str]:
    """One line per credential variable not set here (set but empty counts as not set)."""
    return [
        f"postmortem.confluence: ${name} is not set, so postmortems cannot be published"
        for name in dict.fromkeys(settings.environment_names())
        if not environ.get(name)
    ]


class ConfluencePublisher:
    def __init__(
        self, *, http: httpx.AsyncClient, settings: ConfluenceSettings, environ: Mapping[str, str]
    ) -> None:
        self._http = http
        self._settings = settings
        self._environ = environ

    async def publish(self, *, title: str, body: str, page_id: str | None) -> PublishedPage:
        """Create or update the page; `body` is storage format.

        Without `page_id`, a page of this exact title in the space is updated if there is
        one, else the page is created (under the settings' parent, when set). With it,
        that page is updated to its next version; if it was deleted, it is made again."""
        api = _ContentApi(self._http, self._settings, self._credentials())
        if page_id:
            updated = await _update(api, await api.read(page_id), title, body)
            if updated is not None:
                return updated
        # No id yet, or its page is gone: a create whose answer was lost may still have
        # made a page of this title.
        updated = await _update(api, await api.find(title), title, body)
        return updated if updated is not None else await api.create(title, body)

    def _credentials(self) -> _Credentials:
        token = self._variable(self._settings.token_env)
        if self._settings.user_env is None:
            # Data Center: a personal access token.
            return _Credentials(f"Bearer {token}", (token,))
        # Cloud: the account's email and an API token, as basic auth.
        user = self._variable(self._settings.user_env)
        encoded = base64.b64encode(f"{user}:{token}".encode()).decode("ascii")
        return _Credentials(f"Basic {encoded}", (token, encoded))

    def _variable(self, name: str) -> str:
        # A value pasted with its newline would make an invalid header.
        value = (self._environ.get(name) or "").strip()
        if not value:
            # Retried slowly, as a pager's missing secret is: it is set and warroom
            # restarted, and the page is published then, not lost.
            raise DeliveryError(
                "confluence_credentials_missing",
                retry_after=MISSING_CREDENTIALS_RETRY_SECONDS,
                detail=f"${name} is not set",
            )
        return value


async def _update(
    api: _ContentApi, current: _CurrentPage | None, title: str, body: str
) -> PublishedPage | None:
    """The page at its next version; None when there is no page, or it was deleted
    meanwhile."""
    if current is None:
        return None
    answer = await api.put(current, title, body)
    if answer.status_code == 409:
        # Someone saved the page between our read and our write: once more, over theirs.
        fresh = await api.read(current.page_id)
        if fresh is None:
            return None
        answer = await api.put(fresh, title, body)
        if answer.status_code == 409:
            raise DeliveryError(
                "confluence_409",
                detail=f"page {current.page_id} is being edited: its version moved twice",
            )
    if answer.status_code == 404:
        return None
    return api.published(answer)


@dataclass(frozen=True)
class _Credentials:
    authorization: str
    secrets: tuple[str, ...]  # never to be seen in an error's detail


class _ContentApi:
    """The four content calls of one publish, and what their failures mean."""

    def __init__(
        self, http: httpx.AsyncClient, settings: ConfluenceSettings, credentials: _Credentials
    ) -> None:
        self._http = http
        self._settings = settings
        self._credentials = credentials

    async def read(self, page_id: str) -> _CurrentPage | None:
        """The page's current version; None when there is no such page (any more)."""
        answer = await self._send(
            "GET", _page_path(page_id), params={"expand": "version"}, accept={404}
        )
        if answer.status_code == 404:
            return None
        data = self._json(answer, write=False)
        if data.get("status", "current") != "current":
            return None  # in the trash, or a draft: as good as gone
        return self._current(data, answer)

    async def find(self, title: str) -> _CurrentPage | None:
        params = {
            "spaceKey": self._settings.space,
            "title": title,
            "type": "page",
            "expand": "version",
        }
        answer = await self._send("GET", CONTENT_PATH, params=params)
        results = self._json(answer, write=False).get("results")
        if not isinstance(results, list) or not results:
            return None
        # Confluence matches titles itself; an exact match first, should it return more.
        exact = [page for page in results if isinstance(page, dict) and page.get("title") == title]
        return self._current((exact or results)[0], answer)

    async def create(self, title: str, body: str) -> PublishedPage:
        content: dict[str, Any] = {
            "type": "page",
            "title": title,
            "space": {"key": self._settings.space},
            "body": _storage(body),
        }
        if self._settings.parent_id:
            content["ancestors"] = [{"id": self._settings.parent_id}]
        answer = await self._send("POST", CONTENT_PATH, json=content, write=True)
        return self.published(answer)

    async def put(self, current: _CurrentPage, title: str, body: str) -> httpx.Response:
        """The update's answer, 404 (deleted) and 409 (stale version) included."""
        content = {
            "id": current.page_id,
            "type": "page",
            "title": title,
            "version": {"number": current.version + 1},
            "body": _storage(body),
        }
        return await self._send(
            "PUT", _page_path(current.page_id), json=content, write=True, accept={404, 409}
        )

    def published(self, answer: httpx.Response) -> PublishedPage:
        """The page a create or an update answered with."""
        data = self._json(answer, write=True)
        current = self._current(data, answer, write=True)
        links = data.get("_links")
        webui = links.get("webui") if isinstance(links, dict) else None
        if not isinstance(webui, str):
            raise self._unreadable(answer, write=True)
        return PublishedPage(current.page_id, current.version, self._settings.base_url + webui)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        write: bool = False,
        accept: set[int] | frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """The answer when it is a success or one of `accept`; else a DeliveryError.

        `write`: the call changes the space, so an answer that never came, or a server
        error, leaves unknown whether it did."""
        what = f"{method} {path}"
        try:
            answer = await self._http.request(
                method,
                self._settings.base_url + path,
                params=params,
                json=json,
                headers={
                    "Authorization": self._credentials.authorization,
                    "Accept": "application/json",
                },
                timeout=self._settings.timeout.total_seconds(),
            )
        except httpx.RequestError as error:
            raise self._unanswered(error, what, write=write) from None
        status = answer.status_code
        if 200 <= status < 300 or status in accept:
            return answer
        code, detail = f"confluence_{status}", self._scrub(f"{what}: {_message(answer)}")
        retry_after = _retry_after(answer)
        if status >= 500:
            if write:
                raise OutcomeUnknown(code, retry_after=retry_after, detail=detail)
            raise DeliveryError(code, retry_after=retry_after, detail=detail)
        # 401, 403, 400, a space that does not exist: Confluence says no until someone
        # changes the settings or the document.
        raise DeliveryError(
            code,
            retryable=status in BUSY_STATUSES,
            retry_after=retry_after if status in BUSY_STATUSES else None,
            detail=detail,
        )

    def _unanswered(self, error: httpx.RequestError, what: str, *, write: bool) -> DeliveryError:
        detail = self._scrub(f"{what}: {type(error).__name__} {error}".strip())
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            # No connection was made: the request cannot have reached Confluence.
            return DeliveryError("confluence_unreachable", detail=detail)
        timed_out = isinstance(error, httpx.TimeoutException)
        code = "confluence_timeout" if timed_out else "confluence_connection_lost"
        if write:
            return OutcomeUnknown(code, detail=detail, timed_out=timed_out)
        return DeliveryError(code, detail=detail)

    def _json(self, answer: httpx.Response, *, write: bool) -> dict[str, Any]:
        try:
            data = answer.json()
        except ValueError:
            raise self._unreadable(answer, write=write) from None
        if not isinstance(data, dict):
            raise self._unreadable(answer, write=write)
        return data

    def _current(self, data: Any, answer: httpx.Response, *, write: bool = False) -> _CurrentPage:
        try:
            return _CurrentPage(str(data["id"]), int(data["version"]["number"]))
        except (KeyError, TypeError, ValueError):
            raise self._unreadable(answer, write=write) from None

    def _unreadable(self, answer: httpx.Response, *, write: bool) -> DeliveryError:
        # A write that was answered but not understood may well have been carried out.
        error_type = OutcomeUnknown if write else DeliveryError
        detail = self._scrub(
            f"{answer.request.method} {answer.request.url.path}: {_excerpt(answer)}"
        )
        return error_type("confluence_answer_unreadable", detail=detail)

    def _scrub(self, text: str) -> str:
        for secret in self._credentials.secrets:
            text = text.replace(secret, REDACTED)
        return text


def _page_path(page_id: str) -> str:
    return f"{CONTENT_PATH}/{quote(page_id, safe='')}"


def _storage(body: str) -> dict[str, Any]:
    return {"storage": {"value": body, "representation": "storage"}}


def _message(answer: httpx.Response) -> str:
    """Confluence's own words for a refusal: the `message` of its error JSON."""
    try:
        data = answer.json()
    except ValueError:
        data = None
    message = data.get("message") if isinstance(data, dict) else None
    return message[:EXCERPT_CHARS] if isinstance(message, str) else _excerpt(answer)


def _excerpt(answer: httpx.Response) -> str:
    return " ".join(answer.text.split())[:EXCERPT_CHARS] or answer.reason_phrase


def _retry_after(answer: httpx.Response) -> float | None:
    """Retry-After in seconds; the HTTP-date form is not used by Confluence."""
    try:
        seconds = float(answer.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
