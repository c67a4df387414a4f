"""The Jinja2 environment for our Markdown templates.

Sandboxed (teams edit these templates), StrictUndefined (a typo fails loudly in tests,
not silently on a card at 3 a.m.), and every value printed is Markdown-escaped unless the
application marked it `Trusted`.

The templates ship inside the package (`bot.templates`: the repository's `templates/`
folder, mapped in pyproject.toml), so an installed warroom finds them from any working
directory. A directory of overrides (`WARROOM_TEMPLATES_DIR`) wins file by file; every
template it does not have comes from the package.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    meta,
)
from jinja2.sandbox import SandboxedEnvironment

from bot.clock import ensure_utc
from bot.errors import ConfigurationError
from bot.text.markdown import escape_markdown

TEMPLATES_PACKAGE = "bot.templates"
TEMPLATE_SUFFIX = ".j2"


def _finalize(value: Any) -> Any:
    if isinstance(value, str):
        return escape_markdown(value)
    return value


def format_utc(moment: datetime) -> str:
    return ensure_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def format_hhmm(moment: datetime) -> str:
    return ensure_utc(moment).strftime("%H:%M")


def packaged_templates_dir() -> Path | None:
    """Where the installed package keeps its templates (None: not installed with them)."""
    try:
        root = importlib.resources.files(TEMPLATES_PACKAGE)
    except ModuleNotFoundError:
        return None
    # Installed wheels are unpacked: their resources are plain files.
    return root if isinstance(root, Path) and root.is_dir() else None


@dataclass(frozen=True)
class TemplateCheck:
    """What `Renderer.check` compiled, and where the overrides stand."""

    names: tuple[str, ...]  # every template the package ships
    overridden: tuple[str, ...]  # of those, served from the overrides directory
    unused: tuple[str, ...]  # override files no template has the name of or includes


class Renderer:
    def __init__(self, overrides: Path | None = None) -> None:
        self.overrides = overrides
        self.packaged = packaged_templates_dir()
        searched = [directory for directory in (overrides, self.packaged) if directory]
        self._env = SandboxedEnvironment(
            loader=ChoiceLoader([FileSystemLoader(directory) for directory in searched]),
            undefined=StrictUndefined,
            finalize=_finalize,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["utc"] = format_utc
        self._env.filters["hhmm"] = format_hhmm
        self._checked: tuple[str, ...] = ()

    def render(self, name: str, **context: Any) -> str:
        return self._env.get_template(name).render(**context).strip() + "\n"

    def check(self) -> TemplateCheck:
        """Load and compile every template and what each includes, as at start-up: a
        ConfigurationError names the first that is missing or broken."""
        if self.packaged is None:
            raise ConfigurationError(
                f"warroom's templates are not installed (no package {TEMPLATES_PACKAGE}): "
                "reinstall warroom"
            )
        packaged = _listed(self.packaged)
        if not packaged:
            raise ConfigurationError(f"no templates in {self.packaged}: reinstall warroom")
        overriding: tuple[str, ...] = ()
        if self.overrides is not None:
            if not self.overrides.is_dir():
                raise ConfigurationError(
                    f"WARROOM_TEMPLATES_DIR={self.overrides} is not a directory"
                )
            overriding = _listed(self.overrides)
        known = set(packaged) | set(overriding)
        included: set[str] = set()
        for name in sorted(known):
            included |= self._compile(name, known)
        self._checked = packaged
        return TemplateCheck(
            names=packaged,
            overridden=tuple(name for name in packaged if name in overriding),
            unused=tuple(name for name in overriding if name not in {*packaged, *included}),
        )

    def problem(self) -> str | None:
        """Whether every template `check` passed still loads (None: all do). Cheap enough
        for each readiness probe: Jinja only re-reads a file whose time stamp moved, which
        is how an override edited while serving is noticed."""
        for name in self._checked:
            try:
                self._env.get_template(name)
            except TemplateError as exc:
                return _describe(name, exc)
        return None

    def _compile(self, name: str, known: set[str]) -> set[str]:
        """Compile `name`; the names it includes, each of which must exist."""
        try:
            source, filename, _ = self._loader.get_source(self._env, name)
            referenced = set(
                meta.find_referenced_templates(self._env.parse(source, name, filename))
            )
            self._env.get_template(name)
        except TemplateError as exc:
            raise ConfigurationError(_describe(name, exc)) from exc
        for other in referenced:
            if other is not None and other not in known:
                raise ConfigurationError(
                    f"template {name} ({filename}) includes {other}, which does not exist"
                )
        return {other for other in referenced if other is not None}

    @property
    def _loader(self) -> BaseLoader:
        assert self._env.loader is not None  # set in __init__
        return self._env.loader


def _listed(directory: Path) -> tuple[str, ...]:
    return tuple(
        sorted(
            name
            for name in FileSystemLoader(directory).list_templates()
            if name.endswith(TEMPLATE_SUFFIX)
        )
    )


def _describe(name: str, exc: TemplateError) -> str:
    if isinstance(exc, TemplateSyntaxError):
        where = f"{exc.filename or name}, line {exc.lineno}"
        return f"template {name} is broken ({where}): {exc.message}"
    if isinstance(exc, TemplateNotFound):
        return f"template {name} is missing"
    return f"template {name} is broken: {exc}"
