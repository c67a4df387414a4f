"""warroom's Markdown messages (the card) as HTML: headings, paragraphs, lists; text
always escaped, only http(s) links made."""

from __future__ import annotations

from bot.text.markdown import escape_markdown, link, user_ref
from bot.web.markdown_html import message_to_html


def test_the_block_forms_of_the_templates() -> None:
    markdown = (
        "# 🔴 INCIDENT ACTIVE · INC-7\n\n"
        "**Title**: Checkout errors\n"
        f"**Roles**: Commander {user_ref('U1')}\n\n"
        "**Timeline**:\n\n"
        "- 14:08 - declared\n"
        "- 14:09 - noted\n"
    )
    assert str(message_to_html(markdown)) == (
        "<h3>🔴 INCIDENT ACTIVE · INC-7</h3>\n"
        "<p><strong>Title</strong>: Checkout errors<br>\n"
        "<strong>Roles</strong>: Commander @U1</p>\n"
        "<p><strong>Timeline</strong>:</p>\n"
        "<ul>\n<li>14:08 - declared</li>\n<li>14:09 - noted</li>\n</ul>"
    )


def test_user_text_never_becomes_markup_or_a_block() -> None:
    typed = "- <script>alert(1)</script>\n# not a heading **x**"
    html = str(message_to_html(f"**Title**: {escape_markdown(typed)}"))
    assert "<script>" not in html and "<li>" not in html and "<h" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "- &lt;script&gt;" in html and "# not a heading **x**" in html


def test_links_only_to_web_addresses() -> None:
    made = link("graph", "https://prometheus.example/graph?g=1")
    assert made is not None
    html = str(message_to_html(f"- see {made} and [evil](javascript:alert(1))"))
    assert '<a href="https://prometheus.example/graph?g=1">graph</a>' in html
    assert 'href="javascript' not in html


def test_a_list_then_a_paragraph_and_deeper_headings() -> None:
    html = str(message_to_html("- one\ntext after\n## Sub\n###### Deep"))
    assert html == "<ul>\n<li>one</li>\n</ul>\n<p>text after</p>\n<h4>Sub</h4>\n<h6>Deep</h6>"
