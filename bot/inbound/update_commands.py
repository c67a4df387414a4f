"""Parsing the commands that say what people are told: `update`, `resolve` (each with
`--public`, for the status page too) and `components`; and the `--options` they take
before their text, read in one place."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.errors import UsageError
from bot.inbound.command_types import ComponentsCommand, ResolveCommand, UpdateCommand
from bot.inbound.postmortem_commands import split_key
from bot.text.durations import format_duration, parse_duration
from bot.text.markdown import escape_markdown, excerpt

# The longest "Next Update" a person may ask for: beyond it, nobody is being told anything.
MAX_NEXT_UPDATE = timedelta(days=7)


# What each option that takes a value needs, as a refusal says it.
_OPTION_VALUES = {
    "--next": "a duration, e.g. --next 20m",
    "--public-title": 'the title, e.g. --public-title "Payments failing"',
}
# An option's value: quoted (straight or curly quotes, as phones type them) or one word.
_OPTION_VALUE = re.compile(r'"([^"]*)"|“([^”]*)”|\'([^\']*)\'|(\S+)')


def _leading_options(
    rest: str, *, command: str, switches: tuple[str, ...] = (), valued: tuple[str, ...] = ()
) -> tuple[dict[str, str], str]:
    """The `--options` before a command's text, and the text after them as typed. Every
    `--word` there must be one of the command's: a typo is refused, never posted."""
    options: dict[str, str] = {}
    rest = rest.lstrip()
    while rest.startswith("--"):
        word, *tail = rest.split(maxsplit=1)
        name, after = word.lower(), tail[0] if tail else ""
        if name in switches:
            options[name] = ""
        elif name in valued:
            value = _OPTION_VALUE.match(after)
            if value is None or (value.group(4) or " ")[0] in "\"“'":
                raise UsageError(f"{name} needs {_OPTION_VALUES[name]}", usage=command)
            options[name] = next(group for group in value.groups() if group is not None)
            after = after[value.end() :].lstrip()
        else:
            raise UsageError(f"unknown option {excerpt(word)}", usage=command)
        rest = after
    return options, rest


def _next_update(typed: str) -> timedelta:
    try:
        next_in = parse_duration(typed)
    except ValueError as error:
        raise UsageError(escape_markdown(str(error)), usage="update") from None
    if not timedelta(0) < next_in <= MAX_NEXT_UPDATE:
        raise UsageError(
            f"--next takes a time from 1s to {format_duration(MAX_NEXT_UPDATE)}", usage="update"
        )
    return next_in


def parse_update(rest: str) -> UpdateCommand:
    """`update [INC-N] [--next 20m] [--public] [--public-title "…"] [text]`"""
    number, rest = split_key(rest)
    options, text = _leading_options(
        rest, command="update", switches=("--public",), valued=tuple(_OPTION_VALUES)
    )
    next_in = _next_update(options["--next"]) if "--next" in options else None
    public = "--public" in options or "--public-title" in options
    if public and not text.strip():
        # The update form has no place for it: a public update is typed whole.
        raise UsageError(
            "--public needs the update's text, e.g. update --public We are investigating",
            usage="update",
        )
    title = options.get("--public-title")
    return UpdateCommand(number, text.strip(), next_in, public=public, public_title=title)


def parse_resolve(rest: str) -> ResolveCommand:
    number, rest = split_key(rest)
    options, resolution = _leading_options(rest, command="resolve", switches=("--public",))
    return ResolveCommand(number, resolution.strip(), public="--public" in options)


def parse_components(rest: str) -> ComponentsCommand:
    """`components [INC-N] [Checkout, API | none]`: names as typed; the policy decides."""
    number, rest = split_key(rest)
    rest = rest.strip()
    if not rest:
        return ComponentsCommand(number)
    if rest.casefold() == "none":
        return ComponentsCommand(number, ())
    names = tuple(name.strip() for name in rest.split(",") if name.strip())
    if not names:
        raise UsageError("components takes names separated by commas", usage="components")
    return ComponentsCommand(number, names)
