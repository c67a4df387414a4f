"""The web view's routes, added to the app by `add_web_routes(api, warroom)`.

| route | what |
|---|---|
| GET /web/ | open incidents, filterable (`severity`, `status`, `text`) |
| GET /web/resolved | resolved and closed incidents, the same filters |
| GET /web/incidents/INC-N | the card, timeline, alerts, diagnostics, action items, postmortem |
| GET /web/incidents/INC-N/postmortem | the postmortem document as a page (the preview) |
| GET /web/stats | MTTA / MTTR per severity and incidents per week, as SVG (`days`) |
| GET, POST /web/login; POST /web/logout | the token's sign-in form; signing out |

Off unless WARROOM_WEB_TOKEN or WARROOM_WEB_TRUSTED_HEADER is set: then every page
answers 503 with a page saying how to turn it on, as the alert webhooks and Slack's
route do when their settings are missing (the route is there, the service is not set
up: a 404 would read as a wrong address).
"""

from __future__ import annotations

import importlib.resources
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import TemplateError
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import IncidentNotFound
from bot.incidents.status import Status
from bot.postmortem.document import HtmlRenderer, load_document, render_html
from bot.web.auth import WebAccess
from bot.web.charts import durations_chart, weekly_chart
from bot.web.chat_links import ChatLinks
from bot.web.incident_page import load_incident_page
from bot.web.listing import (
    ENDED_STATUSES,
    MAX_TEXT,
    OPEN_STATUSES,
    BadFilter,
    Filters,
    Listing,
    list_incidents,
    read_filters,
)
from bot.web.login import LoginForms
from bot.web.pages import WebPages, page_headers
from bot.web.people import PeopleByEmail
from bot.web.stats_page import load_stats, read_days
from bot.web.viewers import Viewer, incident_for

if TYPE_CHECKING:
    from bot.app import Warroom

log = logging.getLogger(__name__)

_INCIDENT_KEY = re.compile(r"^INC-(\d{1,12})$", re.IGNORECASE)
SHORT_TOKEN = 16
# HEAD as well: a probe or a link checker asks for a page's headers only.
PAGE_METHODS = ["GET", "HEAD"]


def add_web_routes(api: FastAPI, warroom: Warroom) -> None:
    WebView(warroom).register(api)


class WebView:
    def __init__(self, warroom: Warroom) -> None:
        settings = warroom.settings
        self._warroom = warroom
        self._pages = WebPages()
        self._access = WebAccess(
            token=settings.web_token,
            trusted_header=settings.web_trusted_header,
            people=PeopleByEmail(chat=warroom.chat, clock=warroom.clock),
            pages=self._pages,
            clock=warroom.clock,
        )
        self._logins = LoginForms(access=self._access, pages=self._pages)
        self._links = ChatLinks(chat=warroom.chat, clock=warroom.clock)
        self._documents = HtmlRenderer(warroom.renderer)
        if settings.web_token is not None and len(settings.web_token) < SHORT_TOKEN:
            log.warning(
                "WARROOM_WEB_TOKEN is shorter than %d characters: anyone who guesses it "
                "reads every public incident; use a long random one",
                SHORT_TOKEN,
            )

    def register(self, api: FastAPI) -> None:
        router = APIRouter(prefix="/web", include_in_schema=False)
        router.add_api_route("", self._home_redirect, methods=PAGE_METHODS)
        router.add_api_route("/static/web.css", self._stylesheet, methods=PAGE_METHODS)
        router.add_api_route("/login", self._when_on(self._logins.show), methods=PAGE_METHODS)
        router.add_api_route("/login", self._when_on(self._logins.submit), methods=["POST"])
        router.add_api_route("/logout", self._when_on(self._logins.sign_out), methods=["POST"])
        router.add_api_route("/", self._open_list, methods=PAGE_METHODS)
        router.add_api_route("/resolved", self._resolved_list, methods=PAGE_METHODS)
        router.add_api_route("/stats", self._stats, methods=PAGE_METHODS)
        router.add_api_route("/incidents/{key}", self._incident, methods=PAGE_METHODS)
        router.add_api_route("/incidents/{key}/postmortem", self._postmortem, methods=PAGE_METHODS)
        # Last: whatever else is asked under /web is a page that does not exist.
        router.add_api_route(
            "/{rest:path}",
            self._unknown,
            methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        )
        api.include_router(router)

    # plumbing -------------------------------------------------------------------------

    def _off(self) -> Response:
        return self._pages.message(
            status=503,
            title="The web view is off",
            text=(
                "Turn it on with WARROOM_WEB_TOKEN (a long random token people type once "
                "at /web/login, or send as Authorization: Bearer) or "
                "WARROOM_WEB_TRUSTED_HEADER (the header your sign-in proxy sets to the "
                "viewer's email, e.g. X-Forwarded-Email), then restart warroom."
            ),
        )

    def _when_on(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def answer(request: Request) -> Response:
            if not self._access.enabled:
                return self._off()
            return await handler(request)

        return answer

    async def _signed_in(
        self, request: Request, page: Callable[[Viewer], Awaitable[Response]]
    ) -> Response:
        """`page` for the request's viewer; the refusal when there is none."""
        if not self._access.enabled:
            return self._off()
        viewer = await self._access.viewer(request)
        if isinstance(viewer, Response):
            return viewer
        try:
            return await page(viewer)
        except SQLAlchemyError as error:
            log.error("web view: the database did not answer: %s", type(error).__name__)
            return self._pages.message(
                status=503,
                title="The database is not answering",
                text="warroom cannot read its incidents right now: try again in a moment.",
                chrome=self._access.chrome(viewer, ""),
            )
        except TemplateError as error:
            log.error("web view: a template failed: %s", error)
            return self._pages.message(
                status=503,
                title="This page cannot be shown",
                text="One of warroom's templates is broken (see /readyz and the log).",
                chrome=self._access.chrome(viewer, ""),
            )

    def _not_found(self, viewer: Viewer, error: IncidentNotFound | None = None) -> Response:
        # The same page for a number never used and for one hidden from this viewer.
        text = str(error) if error is not None else "there is no such incident"
        return self._pages.message(
            status=404,
            title="Not found",
            text=text[:1].upper() + text[1:] + ".",
            chrome=self._access.chrome(viewer, ""),
        )

    # routes ---------------------------------------------------------------------------

    async def _home_redirect(self) -> Response:
        return RedirectResponse("/web/", status_code=308)

    async def _stylesheet(self) -> Response:
        # A public asset: the sign-in and "off" pages need it before anyone signs in.
        css = importlib.resources.files("bot.web").joinpath("static/web.css").read_text("utf-8")
        return Response(
            css,
            media_type="text/css",
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    async def _unknown(self, request: Request) -> Response:
        return await self._signed_in(request, lambda viewer: self._missing(viewer))

    async def _missing(self, viewer: Viewer) -> Response:
        return self._pages.message(
            status=404,
            title="Not found",
            text="There is no such page in the web view.",
            chrome=self._access.chrome(viewer, ""),
        )

    async def _open_list(self, request: Request) -> Response:
        return await self._signed_in(
            request, lambda viewer: self._list(request, viewer, OPEN_STATUSES, "open")
        )

    async def _resolved_list(self, request: Request) -> Response:
        return await self._signed_in(
            request, lambda viewer: self._list(request, viewer, ENDED_STATUSES, "resolved")
        )

    async def _list(
        self, request: Request, viewer: Viewer, statuses: tuple[Status, ...], current: str
    ) -> Response:
        warroom = self._warroom
        chrome = self._access.chrome(viewer, current)
        problem = ""
        try:
            filters = read_filters(request.query_params, policy=warroom.policy, statuses=statuses)
        except BadFilter as error:
            filters, problem = Filters(), str(error)
        now = warroom.clock()
        listing = (
            Listing(rows=(), more=False)  # a filter that cannot be applied lists nothing
            if problem
            else await warroom.db.transaction(
                lambda session: list_incidents(
                    session,
                    viewer=viewer,
                    statuses=statuses,
                    filters=filters,
                    policy=warroom.policy,
                    now=now,
                )
            )
        )
        return self._pages.response(
            "list.html.j2",
            chrome=chrome,
            status=400 if problem else 200,
            listing=listing,
            filters=filters,
            problem=problem,
            typed_text=request.query_params.get("text", "")[:MAX_TEXT],
            severities=warroom.policy.severity_names(),
            statuses=[(status.value, status.label) for status in statuses],
            showing_open=current == "open",
            now=now,
        )

    async def _incident(self, request: Request, key: str) -> Response:
        return await self._signed_in(request, lambda viewer: self._incident_page(viewer, key))

    async def _incident_page(self, viewer: Viewer, key: str) -> Response:
        warroom = self._warroom
        number = _number_of(key)
        if number is None:
            return self._not_found(viewer)
        now = warroom.clock()
        try:
            page = await warroom.db.transaction(
                lambda session: load_incident_page(
                    session,
                    number,
                    viewer=viewer,
                    policy=warroom.policy,
                    renderer=warroom.renderer,
                    now=now,
                )
            )
        except IncidentNotFound as error:
            return self._not_found(viewer, error)
        links = await self._links.links(page.messages())
        return self._pages.response(
            "incident.html.j2",
            chrome=self._access.chrome(viewer, ""),
            page=page,
            links=links,
            now=now,
        )

    async def _postmortem(self, request: Request, key: str) -> Response:
        return await self._signed_in(request, lambda viewer: self._document(viewer, key))

    async def _document(self, viewer: Viewer, key: str) -> Response:
        warroom = self._warroom
        number = _number_of(key)
        if number is None:
            return self._not_found(viewer)
        try:
            data = await warroom.db.transaction(
                lambda session: load_document(
                    session, incident_for(session, number, viewer), policy=warroom.policy
                )
            )
        except IncidentNotFound as error:
            return self._not_found(viewer, error)
        return HTMLResponse(
            render_html(data, self._documents), headers=page_headers(framed_document=True)
        )

    async def _stats(self, request: Request) -> Response:
        return await self._signed_in(request, lambda viewer: self._stats_page(request, viewer))

    async def _stats_page(self, request: Request, viewer: Viewer) -> Response:
        warroom = self._warroom
        chrome = self._access.chrome(viewer, "stats")
        try:
            days = read_days(request.query_params.get("days"))
        except ValueError as error:
            return self._pages.message(
                status=400, title="Bad request", text=str(error), chrome=chrome
            )
        now = warroom.clock()
        stats = await warroom.db.transaction(
            lambda session: load_stats(
                session, policy=warroom.policy, now=now, days=days, viewer=viewer
            )
        )
        return self._pages.response(
            "stats.html.j2",
            chrome=chrome,
            stats=stats,
            days=days,
            weekly=weekly_chart(stats.weeks, chart_id="incidents-per-week"),
            mtta=durations_chart(
                [(row.severity, row.mtta) for row in stats.by_severity],
                chart_id="mtta-by-severity",
                title="Time to acknowledge (MTTA) per severity: median, p90 marked",
            ),
            mttr=durations_chart(
                [(row.severity, row.mttr) for row in stats.by_severity],
                chart_id="mttr-by-severity",
                title="Time to resolve (MTTR) per severity: median, p90 marked",
            ),
        )


def _number_of(key: str) -> int | None:
    """INC-7 (any case) → 7; None for anything else."""
    matched = _INCIDENT_KEY.match(key.strip())
    return int(matched[1]) if matched else None
