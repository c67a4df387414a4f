"""Our Markdown lines for the document's readers: references as ids, escapes undone, and
as HTML nothing but <strong> and links to web addresses."""

from __future__ import annotations

import pytest

from bot.incidents.timeline import describe
from bot.postmortem.document_inline import markdown_to_html, markdown_to_plain, plain_references
from bot.postmortem.document_sample import sample_entries
from bot.storage.models import TimelineEntry, TimelineKind
from bot.text.markdown import escape_markdown, link

GRAPH = link("the graph", 'https://g.example.com/d?a=1&b="2"')


def test_references_become_ids() -> None:
    assert plain_references("<user:U1> paged <group:S0ONCALL> in <channel:C0INC>") == (
        "@U1 paged @S0ONCALL in #C0INC"
    )
    # Typed, not made by us: escaped, so no reference.
    assert plain_references(escape_markdown("<user U1>")) == "\\<user U1\\>"


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("**HighErrorRate** fired", "<strong>HighErrorRate</strong> fired"),
        (escape_markdown("</script><!channel> **x**"), "&lt;/script&gt;&lt;!channel&gt; **x**"),
        ("<user:U1> and <group:S1>, see <channel:C1>", "@U1 and @S1, see #C1"),
        (
            f"see {GRAPH}",
            'see <a href="https://g.example.com/d?a=1&amp;b=%222%22">the graph</a>',
        ),
        ("[message](javascript:alert(1))", "[message](javascript:alert(1))"),
        ("[message](javascript:alert)", "message (javascript:alert)"),
        ("**cut short", "<strong>cut short</strong>"),
        (escape_markdown("a \\ backslash"), "a \\ backslash"),
    ],
)
def test_markdown_to_html(markdown: str, html: str) -> None:
    assert markdown_to_html(markdown) == html


def test_markdown_to_plain_is_what_it_shows() -> None:
    line = f"**Alert** by <user:U1>: {escape_markdown('1 < 2 *really*')} ({link('graph', 'https://g')})"
    assert markdown_to_plain(line) == "Alert by @U1: 1 < 2 *really* (graph)"


def test_every_timeline_line_converts_without_stray_markup() -> None:
    for entry in sample_entries():
        html = markdown_to_html(describe(entry))
        assert "<user:" not in html and "\\" not in html, entry.kind
    message = TimelineEntry(
        incident_id=1,
        kind=TimelineKind.MESSAGE,
        at=sample_entries()[0].at,
        actor="U1",
        data={"permalink": "https://acme.slack.com/archives/C1/p1"},
    )
    assert markdown_to_html(describe(message)) == (
        '💬 a message from @U1 (<a href="https://acme.slack.com/archives/C1/p1">message</a>)'
    )
