"""The `/incident` command language: one table drives both the parser and the help text."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from bot.policy import Policy

COMMAND = "/incident"


@dataclass(frozen=True)
class Subcommand:
    name: str
    arguments: str
    summary: str

    @property
    def usage(self) -> str:
        return f"{COMMAND} {self.name} {self.arguments}".rstrip()


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "declare",
        "[--private] <severity> <title>",
        "open an incident: its own channel, the pinned status card, an announcement",
    ),
    Subcommand("help", "", "show this help"),
)
_BY_NAME = {sub.name: sub for sub in SUBCOMMANDS}


@dataclass(frozen=True)
class HelpCommand:
    pass


@dataclass(frozen=True)
class DeclareCommand:
    severity: str
    title: str
    private: bool = False


Command = HelpCommand | DeclareCommand


class CommandError(ValueError):
    """A command that cannot be run as typed; `subcommand` picks the usage line to show."""

    def __init__(self, message: str, *, subcommand: str | None = None) -> None:
        super().__init__(message)
        self.subcommand = subcommand


def parse_command(text: str) -> Command:
    words = text.strip().split(maxsplit=1)
    if not words or words[0].lower() == "help":
        return HelpCommand()
    name, rest = words[0].lower(), (words[1] if len(words) > 1 else "")
    if name == "declare":
        return _parse_declare(rest)
    raise CommandError(f"unknown command {words[0]!r}")


def _parse_declare(rest: str) -> DeclareCommand:
    private = False
    words = rest.split(maxsplit=1)
    while words and words[0].lower() in ("--private", "-p"):
        private = True
        words = words[1].split(maxsplit=1) if len(words) > 1 else []
    if not words:
        raise CommandError("declare needs a severity and a title", subcommand="declare")
    severity = words[0]
    title = words[1].strip() if len(words) > 1 else ""
    if not title:
        raise CommandError(
            f"declare needs a title after the severity, e.g. {COMMAND} declare {severity} "
            "Checkout errors",
            subcommand="declare",
        )
    return DeclareCommand(severity=severity, title=_unquote(title), private=private)


def _unquote(title: str) -> str:
    """People often quote the title; drop one pair of matching quotes."""
    if len(title) >= 2 and title[0] == title[-1] and title[0] in "\"'":
        try:
            parts = shlex.split(title)
        except ValueError:
            return title
        return parts[0] if len(parts) == 1 else title
    return title


def usage(policy: Policy, *, subcommand: str | None = None) -> str:
    """Help text; with `subcommand`, just that command's line."""
    if subcommand in _BY_NAME:
        return f"Usage: `{_BY_NAME[subcommand].usage}`\n{_severity_line(policy)}"
    lines = [f"*{COMMAND}* runs incidents from chat:"]
    lines += [f"• `{sub.usage}`: {sub.summary}" for sub in SUBCOMMANDS]
    lines.append(_severity_line(policy))
    return "\n".join(lines)


def _severity_line(policy: Policy) -> str:
    described = [
        f"{level.name} ({level.description})" if level.description else level.name
        for level in policy.severities
    ]
    return "Severities: " + ", ".join(described)
