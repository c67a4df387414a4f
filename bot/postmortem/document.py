"""The postmortem (RCA) document, rendered from what is stored: the runbook's template
with the incident's figures, its whole timeline, its people, the sections written with
`/incident postmortem` and the action items.

A pure function of the rows: the same records give the same bytes (nothing prints the
current time), so a version shared twice reads the same. Three renderings, each from a
template teams may override: Markdown (the file shared in the channel), a printable
HTML page, and a Confluence page's body.

    data = load_document(session, incident, policy=policy)
    markdown = render_markdown(data, renderer)
    page = render_html(data, HtmlRenderer(renderer))
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Callable

from jinja2 import TemplateSyntaxError

from bot.errors import ConfigurationError
from bot.postmortem.document_build import load_document
from bot.postmortem.document_data import DocumentData, document_filename
from bot.postmortem.document_html import (
    CONFLUENCE_TEMPLATE,
    HTML_TEMPLATE,
    HtmlRenderer,
    render_confluence,
    render_html,
)
from bot.postmortem.document_inline import plain_references
from bot.postmortem.document_sample import sample_document
from bot.text.templates import Renderer

__all__ = [
    "CONFLUENCE_TEMPLATE",
    "HTML_TEMPLATE",
    "MARKDOWN_TEMPLATE",
    "DocumentData",
    "HtmlRenderer",
    "check_document_templates",
    "describe_template_failure",
    "document_filename",
    "load_document",
    "render_confluence",
    "render_html",
    "render_markdown",
]

MARKDOWN_TEMPLATE = "postmortem.md.j2"
# Confluence's storage format may hold its own elements (ac:…, ri:…): declared on the
# root the well-formedness check wraps the body in, as Confluence itself does.
_CONFLUENCE_ROOT = (
    '<page xmlns:ac="http://atlassian.com/content" '
    'xmlns:ri="http://atlassian.com/resource/identifier">{}</page>'
)


def render_markdown(data: DocumentData, renderer: Renderer) -> str:
    """The document as Markdown; people as `@U123`, since no chat platform reads it."""
    return plain_references(renderer.render(MARKDOWN_TEMPLATE, doc=data))


def check_document_templates(renderer: Renderer) -> None:
    """Render a sample incident (every kind of timeline entry) in all three formats, as
    at start-up; ConfigurationError naming the template that fails, or whose Confluence
    body is not well-formed XHTML."""
    data = sample_document()
    pages = HtmlRenderer(renderer)
    renderings: tuple[tuple[str, Callable[[], str]], ...] = (
        (MARKDOWN_TEMPLATE, lambda: render_markdown(data, renderer)),
        (HTML_TEMPLATE, lambda: render_html(data, pages)),
        (CONFLUENCE_TEMPLATE, lambda: render_confluence(data, pages)),
    )
    for name, render in renderings:
        try:
            rendered = render()
        # An override can fail in any way a template can: a syntax error, an undefined
        # name, a sandbox refusal, a filter given the wrong type.
        except Exception as exc:
            raise ConfigurationError(describe_template_failure(name, exc)) from exc
        if name == CONFLUENCE_TEMPLATE:
            _check_well_formed(name, rendered)


def describe_template_failure(name: str, exc: Exception) -> str:
    """One line naming the template and what is wrong with it (where, for a syntax error)."""
    if isinstance(exc, TemplateSyntaxError):
        where = f"{exc.filename or name}, line {exc.lineno}"
        return f"template {name} is broken ({where}): {exc.message}"
    return f"template {name} is broken: {type(exc).__name__}: {exc}"


def _check_well_formed(name: str, body: str) -> None:
    try:
        ElementTree.fromstring(_CONFLUENCE_ROOT.format(body))
    except ElementTree.ParseError as exc:
        raise ConfigurationError(
            f"template {name} is broken: Confluence needs well-formed XHTML ({exc})"
        ) from exc
