"""The web view's templates and stylesheet ship in the wheel (pyproject.toml's package
data), and every template compiles when warroom starts."""

from __future__ import annotations

import fnmatch
import tomllib

from bot.web.pages import Chrome, WebPages
from tests.conftest import PROJECT_ROOT

WEB = PROJECT_ROOT / "bot" / "web"


def test_every_page_template_and_the_stylesheet_are_package_data() -> None:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    assert "bot.web" in setuptools["packages"]
    patterns = setuptools["package-data"]["bot.web"]
    files = [
        str(path.relative_to(WEB))
        for folder in ("templates", "static")
        for path in (WEB / folder).iterdir()
        if path.is_file()
    ]
    assert any(name.endswith(".html.j2") for name in files)
    assert "static/web.css" in files
    unshipped = [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert unshipped == []


def test_every_template_compiles() -> None:
    pages = WebPages()  # compiles every template, or refuses the start naming the broken one
    page = pages.render("message.html.j2", chrome=Chrome(), title="<t>", text="x & y")
    assert "<h1>&lt;t&gt;</h1>" in page and "x &amp; y" in page
