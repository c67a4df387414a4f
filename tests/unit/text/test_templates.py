"""The renderer: templates from the package, overrides file by file, every one compiled at
start and asked again by the readiness probe."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bot.errors import ConfigurationError
from bot.text import templates
from bot.text.templates import Renderer
from tests.conftest import PROJECT_ROOT

REPOSITORY_TEMPLATES = sorted(p.name for p in (PROJECT_ROOT / "templates").glob("*.j2"))


def test_the_package_ships_the_repository_templates() -> None:
    renderer = Renderer()
    assert renderer.packaged is not None
    assert renderer.packaged.samefile(PROJECT_ROOT / "templates")  # editable install
    check = renderer.check()
    assert list(check.names) == REPOSITORY_TEMPLATES
    assert check.overridden == () and check.unused == ()


def test_every_template_the_code_renders_exists() -> None:
    sources = [*(PROJECT_ROOT / "bot").rglob("*.py"), *(PROJECT_ROOT / "handlers").rglob("*.py")]
    named = {name for path in sources for name in re.findall(r'"(\w+\.md\.j2)"', path.read_text())}
    assert named and named <= set(REPOSITORY_TEMPLATES)


def test_an_override_wins_file_by_file(tmp_path: Path) -> None:
    (tmp_path / "usage_line.md.j2").write_text("Usage (ours): {{ usage }}\n")
    renderer = Renderer(tmp_path)
    check = renderer.check()
    assert check.overridden == ("usage_line.md.j2",)
    assert renderer.render("usage_line.md.j2", usage="x") == "Usage (ours): x\n"
    # Not overridden: from the package.
    assert renderer.render("severities.md.j2", severities=[("SEV1", "All down")]) == (
        "Severities: SEV1 (All down)\n"
    )


def test_overrides_of_no_template_are_reported_unless_included(tmp_path: Path) -> None:
    (tmp_path / "all_clear.md.j2").write_text('{% include "footer.md.j2" %}\n')
    (tmp_path / "footer.md.j2").write_text("Thanks all.\n")
    (tmp_path / "al_clear.md.j2").write_text("a typo\n")
    (tmp_path / "notes.txt").write_text("not a template\n")
    check = Renderer(tmp_path).check()
    assert check.unused == ("al_clear.md.j2",)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% if incident %}\nno end\n", "template all_clear.md.j2 is broken ("),
        ("{{ incident.title }\n", "line 1"),
        (
            '{% include "footer.md.j2" %}\n',
            "includes footer.md.j2, which does not exist",
        ),
    ],
)
def test_check_names_a_broken_template(tmp_path: Path, source: str, expected: str) -> None:
    (tmp_path / "all_clear.md.j2").write_text(source)
    with pytest.raises(ConfigurationError, match=r"all_clear\.md\.j2") as raised:
        Renderer(tmp_path).check()
    assert expected in str(raised.value)


def test_check_refuses_an_install_without_templates(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(templates, "packaged_templates_dir", lambda: None)
    with pytest.raises(ConfigurationError, match="templates are not installed"):
        Renderer().check()
    monkeypatch.setattr(templates, "packaged_templates_dir", lambda: tmp_path)
    with pytest.raises(ConfigurationError, match=f"no templates in {tmp_path}"):
        Renderer().check()


def test_check_refuses_an_overrides_directory_that_is_not_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"WARROOM_TEMPLATES_DIR=.* is not a directory"):
        Renderer(tmp_path / "absent").check()


def test_problem_notices_an_override_broken_while_serving(tmp_path: Path) -> None:
    override = tmp_path / "reminder.md.j2"
    override.write_text("Reminder\n")
    renderer = Renderer(tmp_path)
    renderer.check()
    assert renderer.problem() is None
    override.write_text("{% for %}\n")
    later = override.stat().st_mtime + 10  # Jinja re-reads a file whose time stamp moved
    os.utime(override, (later, later))
    assert renderer.problem() == (
        f"template reminder.md.j2 is broken ({override}, line 1): "
        "Expected an expression, got 'end of statement block'"
    )
    override.unlink()  # the packaged one again
    assert renderer.problem() is None
