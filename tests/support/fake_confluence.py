"""A fake Confluence: the REST API v1 content endpoints, in process.

Tests hand `FakeConfluence.transport` to an `httpx.AsyncClient`, publish, then assert on
the stored pages (`pages_in`, `page`) and on `calls`. The fake refuses what real
Confluence refuses: credentials it does not know (401), a request body that is not JSON
(415), a page that is not `type: page`, a body that is not storage format or not
well-formed XHTML, an unknown parent (400), an unknown space (404), a title the space
already has (400), and an update whose version is not exactly the current one plus one
(409). Answers carry what real ones do: `id`, `title`, `version.number` (searches and
reads only with `expand=version`), and `_links.webui` and `_links.base`.

Failure plans, each for the next `times` matching calls (`method` None: any call):
`fail` answers a status before doing anything; `rate_limit` answers 429 with Retry-After;
`lose_answer` carries the call out and then drops the connection (or times out), as
when the network fails on the way back; `edit_before` has someone else save the page
just before an update arrives, so that update's version is stale.

The fake is also an ASGI app, to serve it over real HTTP (`uvicorn.Config(fake)`); there
a lost answer becomes an aborted response, which uvicorn answers with a 500.
"""

from __future__ import annotations

import base64
import binascii
import html.entities
import itertools
import json
import re
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, urlsplit

import httpx

CONTENT = "/rest/api/content"
FIRST_PAGE_ID = 65537  # Confluence's ids are numbers, handed out as strings
MAX_TITLE = 255
# Storage format uses these prefixes for macros and resource references; a root element
# that declares them lets a well-formed body parse.
STORAGE_ROOT = (
    '<storage xmlns:ac="http://atlassian.com/content" '
    'xmlns:ri="http://atlassian.com/resource/identifier">{}</storage>'
)
# Confluence takes HTML's named entities (&nbsp;, &mdash;) where XML knows five.
NAMED_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


@dataclass
class StoredPage:
    id: str
    title: str
    space: str
    version: int
    body: str
    ancestors: list[str] = field(default_factory=list)  # ids, the root first


@dataclass
class ConfluenceCall:
    method: str
    path: str  # after the base URL's own path: /rest/api/content/65537
    params: dict[str, str]
    body: Any  # the JSON sent, None without one
    auth: str  # "basic <email>", "bearer", or "" when no credentials were accepted
    timeout: float | None  # the client's read timeout for this request
    status: int = 0  # what the fake answered; 0 when the answer was lost


@dataclass
class _Plan:
    kind: str  # fail | lose | edit
    method: str | None
    times: int
    status: int = 0
    retry_after: int | None = None
    as_timeout: bool = False


class Refused(Exception):
    """An error answer, in Confluence's shape."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def storage_problem(value: str) -> str | None:
    """Why Confluence would refuse `value` as storage format, None when it would not."""

    def numeric(match: re.Match[str]) -> str:
        name = match[1]
        if name in XML_ENTITIES or name not in html.entities.name2codepoint:
            return match[0]
        return f"&#{html.entities.name2codepoint[name]};"

    try:
        ElementTree.fromstring(STORAGE_ROOT.format(NAMED_ENTITY.sub(numeric, value)))
    except ElementTree.ParseError as error:
        return f"Error parsing xhtml: {error}"
    return None


class FakeConfluence:
    def __init__(
        self,
        *,
        base_url: str = "https://acme.atlassian.net/wiki",
        basic: tuple[str, str] | None = None,  # (email, API token), as Cloud takes them
        bearer: str | None = None,  # a personal access token, as Data Center takes it
        spaces: tuple[str, ...] = ("OPS",),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.basic = basic
        self.bearer = bearer
        self.spaces = set(spaces)
        self.pages: dict[str, StoredPage] = {}
        self.calls: list[ConfluenceCall] = []
        self._context = urlsplit(self.base_url).path
        self._ids = itertools.count(FIRST_PAGE_ID)
        self._plans: list[_Plan] = []
        # Served over HTTP, requests arrive on the server's threads.
        self._lock = threading.Lock()
        self.transport = httpx.MockTransport(self.handle)

    # Set-up and inspection.

    def add_page(self, title: str, *, space: str = "OPS", parent: str | None = None) -> StoredPage:
        """A page someone made by hand (a parent for the postmortems, say)."""
        ancestors = [*self.pages[parent].ancestors, parent] if parent else []
        page = StoredPage(str(next(self._ids)), title, space, 1, "<p></p>", ancestors)
        self.pages[page.id] = page
        return page

    def edit(self, page_id: str, body: str = "<p>edited by hand</p>") -> None:
        """Someone saves the page in Confluence's editor: a new version."""
        page = self.pages[page_id]
        page.version += 1
        page.body = body

    def delete(self, page_id: str) -> None:
        del self.pages[page_id]

    def page(self, page_id: str) -> StoredPage:
        return self.pages[page_id]

    def pages_in(self, space: str = "OPS") -> list[StoredPage]:
        return [page for page in self.pages.values() if page.space == space]

    def calls_of(self, method: str) -> list[ConfluenceCall]:
        return [call for call in self.calls if call.method == method]

    # Failure plans.

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        method: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        self._plans.append(_Plan("fail", method, times, status, retry_after))

    def rate_limit(
        self, *, retry_after: int = 30, times: int = 1, method: str | None = None
    ) -> None:
        self.fail(429, times=times, method=method, retry_after=retry_after)

    def lose_answer(
        self, *, method: str = "POST", times: int = 1, as_timeout: bool = False
    ) -> None:
        self._plans.append(_Plan("lose", method, times, as_timeout=as_timeout))

    def edit_before(self, *, method: str = "PUT", times: int = 1) -> None:
        self._plans.append(_Plan("edit", method, times))

    # The API.

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            call = self._record(request)
            plan = self._take_plan(request.method)
            try:
                if plan is not None and plan.kind == "fail":
                    headers = {"Retry-After": str(plan.retry_after)} if plan.retry_after else {}
                    raise Refused(plan.status, "planned failure", headers)
                call.auth = self._authenticate(request.headers.get("Authorization", ""))
                if plan is not None and plan.kind == "edit":
                    self._edit_target(call.path)
                status, answer = self._route(request.method, call.path, call.params, request)
            except Refused as refusal:
                call.status = refusal.status
                return _error(refusal)
            if plan is not None and plan.kind == "lose":
                if plan.as_timeout:
                    raise httpx.ReadTimeout("timed out", request=request)
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                )
            call.status = status
            return httpx.Response(status, json=answer)

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        url = httpx.URL(
            self.base_url + scope["path"].removeprefix(self._context), query=scope["query_string"]
        )
        headers = [(name.decode(), value.decode()) for name, value in scope["headers"]]
        request = httpx.Request(scope["method"], url, headers=headers, content=body)
        response = self.handle(request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [(k.encode(), v.encode()) for k, v in response.headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": response.content})

    def _record(self, request: httpx.Request) -> ConfluenceCall:
        body: Any = None
        if request.content:
            try:
                body = json.loads(request.content)
            except ValueError:
                body = request.content.decode(errors="replace")
        timeout = request.extensions.get("timeout", {}).get("read")
        call = ConfluenceCall(
            method=request.method,
            path=request.url.path.removeprefix(self._context),
            params=dict(request.url.params),
            body=body,
            auth="",
            timeout=timeout,
        )
        self.calls.append(call)
        return call

    def _take_plan(self, method: str) -> _Plan | None:
        for plan in self._plans:
            if plan.method in (None, method):
                plan.times -= 1
                if plan.times <= 0:
                    self._plans.remove(plan)
                return plan
        return None

    def _authenticate(self, header: str) -> str:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "basic" and self.basic is not None:
            try:
                decoded = base64.b64decode(credentials, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            email, _, token = decoded.partition(":")
            if (email, token) == self.basic:
                return f"basic {email}"
        if scheme.lower() == "bearer" and self.bearer is not None and credentials == self.bearer:
            return "bearer"
        raise Refused(401, "Unauthorized; scope does not match")

    def _edit_target(self, path: str) -> None:
        page_id = path.removeprefix(CONTENT + "/")
        if page_id in self.pages:
            self.edit(page_id)

    def _route(
        self, method: str, path: str, params: dict[str, str], request: httpx.Request
    ) -> tuple[int, dict[str, Any]]:
        expand = set(params.get("expand", "").split(","))
        if path == CONTENT and method == "GET":
            return 200, self._search(params, expand)
        if path == CONTENT and method == "POST":
            return 200, self._render(self._create(_json_body(request)), {"version", "space"})
        page_id = path.removeprefix(CONTENT + "/")
        if path.startswith(CONTENT + "/") and "/" not in page_id:
            if method == "GET":
                return 200, self._render(self._existing(page_id), expand)
            if method == "PUT":
                page = self._update(page_id, _json_body(request))
                return 200, self._render(page, {"version", "space"})
        raise Refused(404, f"null for uri: {request.url}")

    def _search(self, params: dict[str, str], expand: set[str]) -> dict[str, Any]:
        wanted_type = params.get("type", "page")
        found = [
            page
            for page in self.pages.values()
            if wanted_type == "page"
            and page.space == params.get("spaceKey", page.space)
            and page.title == params.get("title", page.title)
        ]
        return {
            "results": [self._render(page, expand) for page in found],
            "start": 0,
            "limit": 25,
            "size": len(found),
            "_links": {"base": self.base_url, "context": self._context},
        }

    def _existing(self, page_id: str) -> StoredPage:
        if page_id not in self.pages:
            raise Refused(404, f"No content found with id: ContentId{{id={page_id}}}")
        return self.pages[page_id]

    def _create(self, body: dict[str, Any]) -> StoredPage:
        title, storage = _page_fields(body)
        space = (body.get("space") or {}).get("key")
        if not isinstance(space, str) or not space:
            raise Refused(400, "Space key is required to create content")
        if space not in self.spaces:
            raise Refused(404, f"No space with key : {space}")
        self._check_title_free(space, title, None)
        page = StoredPage(str(next(self._ids)), title, space, 1, storage)
        page.ancestors = self._ancestors(body.get("ancestors"), space)
        self.pages[page.id] = page
        return page

    def _update(self, page_id: str, body: dict[str, Any]) -> StoredPage:
        page = self._existing(page_id)
        title, storage = _page_fields(body)
        number = (body.get("version") or {}).get("number")
        if not isinstance(number, int) or number != page.version + 1:
            raise Refused(
                409, f"Version must be incremented on update. Current version is: {page.version}"
            )
        if "space" in body and (body["space"] or {}).get("key") != page.space:
            raise Refused(400, "Moving a page to another space is not supported by this fake")
        self._check_title_free(page.space, title, page.id)
        if "ancestors" in body:
            page.ancestors = self._ancestors(body["ancestors"], page.space)
        page.title, page.body, page.version = title, storage, number
        return page

    def _check_title_free(self, space: str, title: str, own_id: str | None) -> None:
        if any(
            p.space == space and p.title == title and p.id != own_id for p in self.pages.values()
        ):
            raise Refused(
                400,
                "A page with this title already exists: "
                "A page already exists with the same TITLE in this space",
            )

    def _ancestors(self, ancestors: Any, space: str) -> list[str]:
        if ancestors in (None, []):
            return []
        if not isinstance(ancestors, list) or len(ancestors) != 1:
            raise Refused(400, "Only one parent may be given as the first ancestor")
        parent_id = str((ancestors[0] or {}).get("id", ""))
        parent = self.pages.get(parent_id)
        if parent is None or parent.space != space:
            raise Refused(400, f"Could not find the parent page with id {parent_id}")
        return [*parent.ancestors, parent.id]

    def _render(self, page: StoredPage, expand: set[str]) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": page.id,
            "type": "page",
            "status": "current",
            "title": page.title,
            "_links": {
                "webui": f"/spaces/{page.space}/pages/{page.id}/{quote_plus(page.title)}",
                "self": f"{self.base_url}{CONTENT}/{page.id}",
                "base": self.base_url,
                "context": self._context,
            },
            "_expandable": {"body": "", "ancestors": "", "children": ""},
        }
        if "version" in expand:
            answer["version"] = {"number": page.version, "minorEdit": False}
        if "space" in expand:
            answer["space"] = {"key": page.space, "type": "global"}
        return answer


def _json_body(request: httpx.Request) -> dict[str, Any]:
    if not request.headers.get("Content-Type", "").startswith("application/json"):
        raise Refused(415, "Unsupported Media Type")
    try:
        body = json.loads(request.content)
    except ValueError as error:
        raise Refused(400, f"Unable to parse the request body: {error}") from error
    if not isinstance(body, dict):
        raise Refused(400, "The request body must be a JSON object")
    return body


def _page_fields(body: dict[str, Any]) -> tuple[str, str]:
    """The title and storage value of a page's create or update, checked."""
    if body.get("type") != "page":
        raise Refused(400, f"Unsupported content type: {body.get('type')!r}")
    title = body.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        raise Refused(400, "A page must have a title of 1 to 255 characters")
    storage = (body.get("body") or {}).get("storage") or {}
    if storage.get("representation") != "storage" or not isinstance(storage.get("value"), str):
        raise Refused(400, "The body must be given as body.storage, representation storage")
    problem = storage_problem(storage["value"])
    if problem is not None:
        raise Refused(400, problem)
    return title, storage["value"]


def _error(refusal: Refused) -> httpx.Response:
    answer = {
        "statusCode": refusal.status,
        "data": {"authorized": refusal.status != 401, "valid": False, "errors": []},
        "message": refusal.message,
        "reason": httpx.codes.get_reason_phrase(refusal.status),
    }
    return httpx.Response(refusal.status, json=answer, headers=refusal.headers)
