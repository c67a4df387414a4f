"""Expectations on a JSON body: `$.status == "ok"`, `$.db.latency_ms < 200`, `$.ready`.

A path starts at `$` and goes down by `.name`, `["name"]` or `[index]`; it is compared
with a JSON literal (a string in double quotes, a number, true, false or null) by one of
`== != < <= > >=`. A path alone asks that the value be there and be neither false, null,
zero nor empty. Nothing here evaluates code: the text is parsed into steps and a literal.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Expectation", "ExpectationError", "parse_expectation"]

_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z_][A-Za-z0-9_-]*)      # .name
      | \[(?P<index>-?\d+)\]                      # [0]
      | \["(?P<quoted>(?:[^"\\]|\\.)*)"\]         # ["a name"]
    """,
    re.X,
)
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_COMPARISON = re.compile(r"^(?P<path>\$\S*)\s*(?P<op>==|!=|<=|>=|<|>)\s*(?P<literal>.+)$", re.S)
_ORDERING = frozenset({"<", "<=", ">", ">="})
_MISSING = object()


class ExpectationError(ValueError):
    """An expectation that does not parse, with what is wrong in its text."""


@dataclass(frozen=True)
class Expectation:
    text: str
    steps: tuple[str | int, ...]
    op: str | None  # None: the value must be there and truthy
    expected: Any = None

    def check(self, body: Any) -> str | None:
        """None when the body meets the expectation, else why not in a few words."""
        value = self._find(body)
        if value is _MISSING:
            return f"{self.path} is missing"
        if self.op is None:
            return None if value else f"{self.path} is {_shown(value)}"
        if self.op in _ORDERING and not (_is_number(value) and _is_number(self.expected)):
            return f"{self.path} is {_shown(value)}, not a number"
        try:
            met = _OPERATORS[self.op](value, self.expected)
        except TypeError:
            met = False
        return None if met else f"{self.path} is {_shown(value)}"

    @property
    def path(self) -> str:
        return self.text.split()[0] if self.op is None else _path_text(self.steps)

    def _find(self, body: Any) -> Any:
        node = body
        for step in self.steps:
            if isinstance(step, int) and isinstance(node, list) and -len(node) <= step < len(node):
                node = node[step]
            elif isinstance(step, str) and isinstance(node, dict) and step in node:
                node = node[step]
            else:
                return _MISSING
        return node


def parse_expectation(text: str) -> Expectation:
    text = text.strip()
    match = _COMPARISON.match(text)
    path_text, op, literal = (
        (match["path"], match["op"], match["literal"].strip()) if match else (text, None, None)
    )
    steps = _parse_path(path_text, text)
    if op is None or literal is None:
        return Expectation(text=text, steps=steps, op=None)
    try:
        expected = json.loads(literal)
    except ValueError:
        raise ExpectationError(
            f"{text!r}: {literal!r} is not a JSON value (quote strings with double quotes)"
        ) from None
    if isinstance(expected, dict | list):
        raise ExpectationError(f"{text!r}: compare with a string, a number, true, false or null")
    if op in _ORDERING and not _is_number(expected):
        raise ExpectationError(f"{text!r}: {op} compares numbers only")
    return Expectation(text=text, steps=steps, op=op, expected=expected)


def _parse_path(path: str, text: str) -> tuple[str | int, ...]:
    if not path.startswith("$"):
        raise ExpectationError(
            f"{text!r}: an expectation starts with a path from $, e.g. $.status == \"ok\""
        )
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        step = _STEP.match(path, position)
        if step is None:
            raise ExpectationError(f"{text!r}: cannot read the path from {path[position:]!r}")
        if step["name"] is not None:
            steps.append(step["name"])
        elif step["index"] is not None:
            steps.append(int(step["index"]))
        else:
            steps.append(json.loads(f'"{step["quoted"]}"'))
        position = step.end()
    return tuple(steps)


def _path_text(steps: tuple[str | int, ...]) -> str:
    parts = ["$"]
    for step in steps:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", step):
            parts.append(f".{step}")
        else:
            parts.append(f"[{json.dumps(step)}]")
    return "".join(parts)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "…"
