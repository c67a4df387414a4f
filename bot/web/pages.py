"""The web view's HTML: Jinja2 templates shipped inside this package (bot/web/templates),
HTML-escaped by the environment, every one compiled when warroom starts, and the headers
every page goes out with.

The pages are warroom's own screens, not text teams reword as they do the chat messages
in templates/: they are not overridden by WARROOM_TEMPLATES_DIR.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateError

from bot.errors import ConfigurationError
from bot.text.durations import format_elapsed
from bot.text.templates import format_utc

TEMPLATE_PACKAGE = "bot.web"
TEMPLATE_SUFFIX = ".html.j2"
STYLESHEET = "/web/static/web.css"

# No script anywhere; styles only from our stylesheet; forms post only here; no page may
# be framed except the postmortem preview, by our own incident page.
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The postmortem document is a standalone page with its styles inline (templates/
# postmortem.html.j2 says the same in its own meta tag).
FRAMED_DOCUMENT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; "
    "frame-ancestors 'self'; base-uri 'none'"
)
_COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Incidents change by the minute and a private one must not outlive the session in
    # some cache.
    "Cache-Control": "no-store",
}


def page_headers(*, framed_document: bool = False) -> dict[str, str]:
    if framed_document:
        return {
            **_COMMON_HEADERS,
            "Content-Security-Policy": FRAMED_DOCUMENT_POLICY,
            "X-Frame-Options": "SAMEORIGIN",
        }
    return {**_COMMON_HEADERS, "Content-Security-Policy": PAGE_POLICY, "X-Frame-Options": "DENY"}


@dataclass(frozen=True)
class Chrome:
    """What every page's header shows: where you are, who you are, how to sign out."""

    current: str = ""  # "open", "resolved", "stats", or "" for none
    viewer_line: str = ""  # "Signed in as …"; "" before signing in
    logout_token: str | None = None  # a token login's logout form token


class WebPages:
    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader(TEMPLATE_PACKAGE, "templates"),
            undefined=StrictUndefined,
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.globals["stylesheet"] = STYLESHEET
        self._env.globals["elapsed"] = _elapsed
        self._env.filters["utc"] = format_utc
        # Compiled now: a missing or broken page refuses the start, as the chat templates do.
        names = [n for n in self._env.list_templates() if n.endswith(TEMPLATE_SUFFIX)]
        if not names:
            raise ConfigurationError(
                "the web view's templates are not installed: reinstall warroom"
            )
        for name in names:
            try:
                self._env.get_template(name)
            except TemplateError as exc:
                raise ConfigurationError(f"web template {name} is broken: {exc}") from exc

    def render(self, name: str, *, chrome: Chrome, **context: Any) -> str:
        return self._env.get_template(name).render(chrome=chrome, **context)

    def response(
        self,
        name: str,
        *,
        chrome: Chrome,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        return HTMLResponse(
            self.render(name, chrome=chrome, **context),
            status_code=status,
            headers={**page_headers(), **(headers or {})},
        )

    def message(
        self,
        *,
        status: int,
        title: str,
        text: str,
        chrome: Chrome | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """A page that only says something: not found, not allowed, not turned on."""
        return self.response(
            "message.html.j2",
            chrome=chrome or Chrome(),
            status=status,
            headers=headers,
            title=title,
            text=text,
        )


def _elapsed(seconds: float | None) -> str:
    """A duration as people say it (`4 min`); a dash for a figure there is nothing to
    measure from."""
    return "—" if seconds is None else format_elapsed(timedelta(seconds=seconds))
