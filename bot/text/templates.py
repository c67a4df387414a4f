"""The Jinja2 environment for our Markdown templates.

Sandboxed (teams edit these templates), StrictUndefined (a typo fails loudly in tests,
not silently on a card at 3 a.m.), and every value printed is Markdown-escaped unless the
application marked it `Trusted`.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from bot.clock import ensure_utc
from bot.text.markdown import escape_markdown

# Next to the packages in a checkout; `WARROOM_TEMPLATES_DIR` points elsewhere.
DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


def templates_dir() -> Path:
    configured = os.environ.get("WARROOM_TEMPLATES_DIR")
    return Path(configured) if configured else DEFAULT_TEMPLATES_DIR


def _finalize(value: Any) -> Any:
    if isinstance(value, str):
        return escape_markdown(value)
    return value


def format_utc(moment: datetime) -> str:
    return ensure_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def format_hhmm(moment: datetime) -> str:
    return ensure_utc(moment).strftime("%H:%M")


class Renderer:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or templates_dir()
        self._env = SandboxedEnvironment(
            loader=FileSystemLoader(self.directory),
            undefined=StrictUndefined,
            finalize=_finalize,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["utc"] = format_utc
        self._env.filters["hhmm"] = format_hhmm

    def render(self, name: str, **context: Any) -> str:
        return self._env.get_template(name).render(**context).strip() + "\n"
