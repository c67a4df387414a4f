"""The document's templates: checked at start-up on a sample with every kind of entry,
overridable file by file, and a broken override named rather than failing an export."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from bot.errors import ConfigurationError
from bot.postmortem.document import check_document_templates, render_markdown
from bot.postmortem.document_sample import sample_entries
from bot.storage.database import Database
from bot.storage.models import TimelineKind
from bot.text.templates import Renderer
from tests.unit.postmortem.test_document import (
    at,
    document,
    rendered,
    scratch_database,
    seed_incident,
    seed_rich,
)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    yield from scratch_database(database_url)


def test_the_sample_has_every_kind_of_entry() -> None:
    assert {sample.kind for sample in sample_entries()} == set(TimelineKind)


def test_the_shipped_templates_pass_the_check() -> None:
    check_document_templates(Renderer())


@pytest.mark.parametrize(
    ("name", "source", "problem"),
    [
        ("postmortem.md.j2", "{% for day in doc.timeline %}\nno end\n", r"line \d"),
        ("postmortem.md.j2", "{{ doc.no_such_field }}\n", "no_such_field"),
        ("postmortem.md.j2", "{{ doc.__class__.__mro__ }}\n", "unsafe"),
        ("postmortem.html.j2", "<p>{{ doc.titel }}</p>\n", "titel"),
        ("postmortem.confluence.j2", "<p>{{ doc.title }}\n", "well-formed XHTML"),
    ],
)
def test_a_broken_override_is_named(tmp_path: Path, name: str, source: str, problem: str) -> None:
    (tmp_path / name).write_text(source)
    with pytest.raises(ConfigurationError, match=rf"^template {re.escape(name)} is broken") as err:
        check_document_templates(Renderer(tmp_path))
    assert re.search(problem, str(err.value)), str(err.value)


def test_an_override_is_used_file_by_file(tmp_path: Path, db: Database) -> None:
    (tmp_path / "postmortem.md.j2").write_text("# {{ doc.key }}: {{ doc.title }} <user:U1>\n")
    (tmp_path / "postmortem.html.j2").write_text("<h1>{{ doc.title }}</h1>\n")
    renderer = Renderer(tmp_path)
    check_document_templates(renderer)
    data = document(db, seed_rich(db, title="A <b> title"))
    output = rendered(data, renderer)
    assert output["md"] == "# INC-7: A \\<b\\> title @U1\n"
    assert output["html"] == "<h1>A &lt;b&gt; title</h1>\n"
    assert output["confluence.xml"].startswith("<h2>Incident: INC-7 A &lt;b&gt; title</h2>")


def test_a_long_timeline_renders(db: Database) -> None:
    kinds = sample_entries()
    storm = [
        {
            "at": at(i / 10),
            "kind": kinds[i % len(kinds)].kind,
            "actor": kinds[i % len(kinds)].actor,
            "text": kinds[i % len(kinds)].text,
            "data": kinds[i % len(kinds)].data,
        }
        for i in range(10_000)
    ]
    with Session(db.engine) as session, session.begin():
        seed_incident(session, timeline=storm)
    data = document(db, 7)
    assert data.entries == 10_000
    markdown = render_markdown(data, Renderer())
    assert markdown.count("\n- ") >= 10_000
