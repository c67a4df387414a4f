"""The status page as HTML: one Jinja2 template with its own plain CSS and no script.

These templates are HTML, not our chat Markdown: they are autoescaped by Jinja and live
with this package (`bot/status/templates/`), apart from `templates/`, whose every file
the chat renderer checks as Markdown. They are compiled when warroom starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateError

from bot.clock import ensure_utc
from bot.errors import ConfigurationError
from bot.policy.status_page import STATE_LABELS
from bot.status.board import StatusSnapshot
from bot.status.documents import rfc3339

PAGE_TEMPLATE = "status.html.j2"
# What the page says overall, by the worst state an active incident causes.
OVERALL = {
    "operational": "All systems operational",
    "degraded": "Some systems are degraded",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
}


@dataclass(frozen=True)
class PageLinks:
    """Where the page's feed and JSON are (relative to the site's root path)."""

    atom: str
    json: str


def _shown(moment: datetime) -> str:
    return ensure_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


class StatusPages:
    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("bot.status", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["shown"] = _shown
        self._env.filters["rfc3339"] = rfc3339
        self._env.globals.update(state_labels=STATE_LABELS, overall=OVERALL)
        try:
            self._page = self._env.get_template(PAGE_TEMPLATE)
        except TemplateError as exc:
            raise ConfigurationError(
                f"the status page's template {PAGE_TEMPLATE} is broken: {exc}"
            ) from exc

    def render(self, snapshot: StatusSnapshot, *, links: PageLinks) -> str:
        return self._page.render(status=snapshot, links=links)
