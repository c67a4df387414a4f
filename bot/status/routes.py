"""`GET /status`, `/status.json` and `/status.atom`: the public status page, open to
anyone without a login when the policy has a `status_page` (404 otherwise).

Each answer may be cached briefly (`Cache-Control: public, max-age=30`) and carries an
ETag, so a wall screen or a feed reader asking again gets a 304. A database that does not
answer gives a 503 in the same format as the page asked for, never a traceback.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from bot.status.board import StatusBoard, StatusSnapshot
from bot.status.documents import StatusDocument, atom_feed, status_document
from bot.status.pages import PageLinks, StatusPages

if TYPE_CHECKING:
    from bot.app import Warroom

log = logging.getLogger(__name__)

CACHE = "public, max-age=30"
HTML = "text/html; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
JSON = "application/json"
# No script, no frames of other sites, nothing loaded from elsewhere: the page is its HTML
# and its inline CSS.
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
NOT_CONFIGURED = "There is no status page here."
UNAVAILABLE = "The status page is unavailable right now; try again in a minute."

Answer = Callable[[Request, StatusSnapshot], tuple[bytes, str]]


def add_status_routes(api: FastAPI, warroom: Warroom) -> None:
    policy = warroom.policy
    pages = StatusPages()  # compiled now: a broken template refuses the start
    page = policy.status_page
    board = StatusBoard(db=warroom.db, policy=policy, clock=warroom.clock) if page else None

    def addresses(request: Request) -> tuple[str, str]:
        """The page's and the feed's absolute addresses (the feed needs them)."""
        base = page.base_url if page and page.base_url else str(request.base_url).rstrip("/")
        return f"{base}/status", f"{base}/status.atom"

    def links(request: Request) -> PageLinks:
        root = request.scope.get("root_path", "").rstrip("/")
        return PageLinks(atom=f"{root}/status.atom", json=f"{root}/status.json")

    def html(request: Request, snapshot: StatusSnapshot) -> tuple[bytes, str]:
        return pages.render(snapshot, links=links(request)).encode(), HTML

    def json(request: Request, snapshot: StatusSnapshot) -> tuple[bytes, str]:
        page_url, _ = addresses(request)
        document = status_document(snapshot, page_url=page_url)
        return document.model_dump_json().encode(), JSON

    def atom(request: Request, snapshot: StatusSnapshot) -> tuple[bytes, str]:
        page_url, feed_url = addresses(request)
        return atom_feed(snapshot, page_url=page_url, feed_url=feed_url), ATOM

    def serve(answer: Answer, *, as_json: bool) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if board is None:
                return _refusal(NOT_CONFIGURED, 404, as_json=as_json)
            try:
                snapshot = await board.snapshot()
                body, media_type = answer(request, snapshot)
            except Exception:
                log.exception("the status page could not be read")
                refused = _refusal(UNAVAILABLE, 503, as_json=as_json)
                refused.headers["Retry-After"] = "30"
                return refused
            return _cacheable(request, body, media_type)

        return endpoint

    def route(path: str, answer: Answer, *, as_json: bool, summary: str, **docs: Any) -> None:
        endpoint = serve(answer, as_json=as_json)
        api.add_api_route(
            path, endpoint, methods=["GET"], tags=["status"], summary=summary,
            response_class=Response, operation_id=f"get_{path.strip('/').replace('.', '_')}",
            **docs,
        )  # fmt: skip
        # HEAD answers as GET does, without the body (a monitor checking the page is up).
        api.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)

    route("/status", html, as_json=False, summary="The public status page (HTML)")
    route(
        "/status.json",
        json,
        as_json=True,
        summary="The public status page as JSON",
        responses={200: {"model": StatusDocument, "description": "the page"}},
    )
    route("/status.atom", atom, as_json=False, summary="The status page's updates (Atom 1.0)")


def _cacheable(request: Request, body: bytes, media_type: str) -> Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": CACHE,
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
    }
    if media_type == HTML:
        headers.update({"Content-Security-Policy": PAGE_POLICY, "Referrer-Policy": "no-referrer"})
    else:
        headers["Access-Control-Allow-Origin"] = "*"  # public data, for other sites to show
    wanted = request.headers.get("if-none-match", "")
    if etag in (tag.strip() for tag in wanted.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _refusal(message: str, status: int, *, as_json: bool) -> Response:
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if as_json:
        error = "status_page_not_configured" if status == 404 else "status_page_unavailable"
        body = {"ok": False, "error": error, "message": message}
        return JSONResponse(body, status_code=status, headers=headers)
    return PlainTextResponse(message + "\n", status_code=status, headers=headers)
