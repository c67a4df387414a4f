"""The postmortem document as HTML: a standalone page to read and print, and the body of
a Confluence page (storage format: an XHTML fragment).

Templates come from the same directories as the Markdown ones, overrides first; values
are HTML-escaped by the environment (autoescape), and the timeline's Markdown lines are
turned into HTML here, before the template sees them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from bot.postmortem.document_data import DocumentData, TimelineDay, TimelineRow
from bot.postmortem.document_inline import markdown_to_html
from bot.text.templates import Renderer, format_hhmm, format_utc

HTML_TEMPLATE = "postmortem.html.j2"
CONFLUENCE_TEMPLATE = "postmortem.confluence.j2"


class HtmlRenderer:
    """A sandboxed Jinja2 environment for HTML, searching what `renderer` searches: its
    overrides directory first, then the packaged templates."""

    def __init__(self, renderer: Renderer) -> None:
        searched = [directory for directory in (renderer.overrides, renderer.packaged) if directory]
        self._env = SandboxedEnvironment(
            loader=ChoiceLoader([FileSystemLoader(directory) for directory in searched]),
            undefined=StrictUndefined,
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # The Markdown environment's filters: `Renderer.check` compiles these templates
        # too, and a filter only one of them knows would fail there.
        self._env.filters["utc"] = format_utc
        self._env.filters["hhmm"] = format_hhmm

    def render(self, name: str, **context: Any) -> str:
        return self._env.get_template(name).render(**context).strip() + "\n"


def render_html(data: DocumentData, pages: HtmlRenderer) -> str:
    """A standalone page: inline CSS, print rules, no script, nothing fetched."""
    return pages.render(HTML_TEMPLATE, doc=as_html(data))


def render_confluence(data: DocumentData, pages: HtmlRenderer) -> str:
    """A Confluence page's body in storage format (well-formed XHTML, no <html>/<head>)."""
    return pages.render(CONFLUENCE_TEMPLATE, doc=as_html(data))


def as_html(data: DocumentData) -> DocumentData:
    """The same document with each timeline line as HTML (every other value is text,
    escaped by the environment)."""
    timeline = tuple(
        TimelineDay(
            day.date,
            tuple(TimelineRow(row.time, row.who, markdown_to_html(row.what)) for row in day.rows),
        )
        for day in data.timeline
    )
    return replace(data, timeline=timeline)
