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
        if self.op in ("==", "!=") and isinstance(value, bool) != isinstance(self.expected, bool):
            met = self.op == "!="  # JSON's true is not the number 1
        else:
            try:
                met = _OPERATORS[self.op](value, self.expected)
            except TypeError:
                met = False
        return None if met else f"{self.path} is {_shown(value)}"

    @property
    def path(self) -> str:
        return _path_text(self.steps)

    def _find(self, body: Any) -> Any:
        node = body
        for step in self.steps:
            if isinstance(step, int):
                if not (isinstance(node, list) and -len(node) <= step < len(node)):
                    return _MISSING
                node = node[step]
            elif isinstance(node, dict) and step in node:
                node = node[step]
            else:
                return _MISSING
        return node


_OPERATOR = re.compile(r"(==|!=|<=|>=|<|>)\s*(.+)$", re.S)


def parse_expectation(text: str) -> Expectation:
    text = text.strip()
    if not text.startswith("$"):
        raise ExpectationError(
            f'{text!r}: an expectation starts with a path from $, e.g. $.status == "ok"'
        )
    steps, position = _parse_path(text)
    rest = text[position:].strip()
    if not rest:
        return Expectation(text=text, steps=steps, op=None)
    comparison = _OPERATOR.match(rest)
    if comparison is None:
        raise ExpectationError(f"{text!r}: cannot read the path from {rest!r}")
    op, literal = comparison.group(1), comparison.group(2).strip()
    try:
        expected = json.loads(literal, parse_constant=_no_constant)
    except ValueError:
        raise ExpectationError(
            f"{text!r}: {literal!r} is not a JSON value (quote strings with double quotes)"
        ) from None
    if isinstance(expected, dict | list):
        raise ExpectationError(f"{text!r}: compare with a string, a number, true, false or null")
    if op in _ORDERING and not _is_number(expected):
        raise ExpectationError(f"{text!r}: {op} compares numbers only")
    return Expectation(text=text, steps=steps, op=op, expected=expected)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")  # NaN, Infinity: nothing compares


def _parse_path(text: str) -> tuple[tuple[str | int, ...], int]:
    """The steps after `$`, and where the path ends (an operator, a space, or the end)."""
    steps: list[str | int] = []
    position = 1
    while position < len(text) and (step := _STEP.match(text, position)) is not None:
        if step["name"] is not None:
            steps.append(step["name"])
        elif step["index"] is not None:
            steps.append(int(step["index"]))
        else:
            try:
                steps.append(json.loads(f'"{step["quoted"]}"'))
            except ValueError:
                raise ExpectationError(
                    f"{text!r}: {step.group(0)!r} is not a valid quoted name"
                ) from None
        position = step.end()
    return tuple(steps), position


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
