"""Reading a policy file (YAML), and saying what is wrong with one in its own words."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.errors import ConfigurationError

_INT = "tag:yaml.org,2002:int"


class _PolicyLoader(yaml.SafeLoader):
    """YAML 1.1 reads `end: 18:00` as the base-60 number 1080 (and `9:00` as 540). In a
    policy, digits around a colon are a time of day: they stay text, as in YAML 1.2."""


_PolicyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _INT]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PolicyLoader.add_implicit_resolver(
    _INT,
    # PyYAML's own pattern without its last, base-60 alternative.
    re.compile(
        r"""^(?:[-+]?0b[0-1_]+
        |[-+]?0[0-7_]+
        |[-+]?(?:0|[1-9][0-9_]*)
        |[-+]?0x[0-9a-fA-F_]+)$""",
        re.X,
    ),
    list("-+0123456789"),
)


def read_policy_file(path: Path) -> Mapping[str, Any]:
    """The mapping a policy file holds (empty for an empty file)."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_PolicyLoader)  # a SafeLoader
    except OSError as exc:
        raise ConfigurationError(f"cannot read policy file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"policy file {path} is not valid YAML: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            f"policy file {path} must be a mapping of keys, not {type(raw).__name__}"
        )
    return raw


def describe_invalid(path: Path, exc: ValidationError, data: Mapping[str, Any]) -> str:
    """One line per problem, each naming the field as the file spells it."""
    lines = [f"policy file {path} is invalid:"]
    reported: set[str] = set()
    for error in exc.errors():
        location = _location(error["loc"], data)
        if location in reported:
            continue  # a union field fails once per branch; the first says it best
        reported.add(location)
        message = error["msg"].removeprefix("Value error, ")
        if not error["loc"]:
            # Checks across fields (see bot.policy.checks) name their fields themselves.
            lines.extend(f"  - {line}" for line in message.splitlines())
            continue
        value = error.get("input")
        # A message that quotes the text itself (a bad matcher, a bad template) says enough.
        quoted = isinstance(value, str) and repr(value) in message
        shown = "" if quoted or isinstance(value, dict | list) else f" (got {value!r})"
        lines.append(f"  - {location}: {message}{shown}")
    return "\n".join(lines)


def _location(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            name = node.get("name") if isinstance(node, Mapping) else None
            parts.append(f"[{part}]" + (f" ({name})" if isinstance(name, str) else ""))
        elif not isinstance(node, Mapping):
            continue  # inside a value: union branch names mean nothing to the person editing
        else:
            parts.append(("." if parts else "") + str(part))
            node = node.get(part) if isinstance(node, Mapping) else None
    return "".join(parts) or "(top level)"
