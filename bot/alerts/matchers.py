r"""Alertmanager's label matchers, one per string: `team="payments"`, `env!="staging"`,
`severity=~"critical|error"`, `service!~"canary-.*"`.

Parsed as Alertmanager's classic parser does: the value may be quoted (with `\"`, `\\`
and `\n` escapes) or bare (`severity=critical`), and a backslash before anything else
stays a backslash, so `"\d+"` is the regex `\d+`. Regexes are anchored at both ends,
and a label an alert does not carry is matched as the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

__all__ = ["MATCH_OPERATORS", "MatchOp", "Matcher", "parse_matcher"]

MatchOp = Literal["=", "!=", "=~", "!~"]
MATCH_OPERATORS: tuple[MatchOp, ...] = ("=", "!=", "=~", "!~")

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Longest operators first, so that `=~` is not read as `=` followed by a value `~…`.
_MATCHER = re.compile(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*", re.DOTALL)
_ESCAPED = {"n": "\n", '"': '"', "\\": "\\"}
_LEADING_FLAGS = re.compile(r"(?:\(\?[aiLmsux]+\))+")
_SHOWN_MAX = 80


@dataclass(frozen=True)
class Matcher:
    """One condition on one label. `value` is the plain value (or regex), unescaped."""

    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if not _LABEL_NAME.fullmatch(self.name):
            raise ValueError(
                f"invalid label name {self.name!r}: letters, digits and _, not starting "
                "with a digit"
            )
        if self.op not in MATCH_OPERATORS:
            raise ValueError(f"unknown operator {self.op!r}: use {', '.join(MATCH_OPERATORS)}")
        if self.op in ("=~", "!~"):
            try:
                regex = re.compile(_anchorable(self.value))
            except re.error as exc:
                raise ValueError(f"invalid regex {self.value!r}: {exc}") from None
            # Frozen: the compiled form is set once here, never compared or shown.
            object.__setattr__(self, "_regex", regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self._regex is not None:
            # fullmatch: Alertmanager's `^(?:re)$`, without `$` accepting a final newline.
            found = self._regex.fullmatch(actual) is not None
            return found if self.op == "=~" else not found
        return (actual == self.value) if self.op == "=" else (actual != self.value)

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    """`name="value"` (or `!=`, `=~`, `!~`; quotes optional) as a Matcher.

    Raises ValueError naming the text, and why it is not a matcher."""
    if not isinstance(text, str):
        raise ValueError(f'a matcher is written as text, like severity="critical" (got {text!r})')
    found = _MATCHER.fullmatch(text)
    if found is None:
        raise ValueError(
            f'bad matcher {_shown(text)}: write name="value", name!="value", '
            'name=~"regex" or name!~"regex"'
        )
    name, op, raw = found.group(1), cast(MatchOp, found.group(2)), found.group(3)
    try:
        return Matcher(name, op, _unquote(raw))
    except ValueError as exc:
        raise ValueError(f"bad matcher {_shown(text)}: {exc}") from None


def _unquote(raw: str) -> str:
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    if quoted:
        if len(body) == 0 or not body.endswith('"') or _escapes_last_quote(body):
            raise ValueError("the value's closing double quote is missing")
        body = body[:-1]
    value: list[str] = []
    chars = iter(body)
    for char in chars:
        if char == '"':
            raise ValueError('a double quote inside the value must be escaped as \\"')
        if char != "\\":
            value.append(char)
            continue
        following = next(chars, None)
        if following is None:
            value.append("\\")  # a final backslash stays itself, as in Alertmanager
        else:
            # Only \" \\ \n are escapes; `\d` in a regex stays `\d`.
            value.append(_ESCAPED.get(following, "\\" + following))
    return "".join(value)


def _anchorable(regex: str) -> str:
    """The regex as one group, its leading flags (`(?i)critical`) kept in front: Python
    refuses global flags anywhere but at the very start."""
    flags = _LEADING_FLAGS.match(regex)
    if flags is None:
        return f"(?:{regex})"
    return f"{flags.group()}(?:{regex[flags.end() :]})"


def _escapes_last_quote(body: str) -> bool:
    """Whether the body's final `"` is itself escaped (an odd run of backslashes before it)."""
    backslashes = len(body[:-1]) - len(body[:-1].rstrip("\\"))
    return backslashes % 2 == 1


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…")
