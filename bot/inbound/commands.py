"""The `/incident` command language: one table drives both the parser and the help text.

Commands that act on an incident take an optional `INC-N` first; without it they act on
the incident whose channel they are typed in.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.errors import UsageError
from bot.inbound.command_types import (
    AcknowledgeCommand,
    Command,
    ComponentsCommand,
    DeclareCommand,
    DeclareFormCommand,
    DiagnosticsCommand,
    DiagnosticsListCommand,
    EscalateCommand,
    HelpCommand,
    IncidentCommand,
    ListCommand,
    NoteCommand,
    ReopenCommand,
    ResolveCommand,
    RoleCommand,
    RolesCommand,
    SeverityCommand,
    SilenceCommand,
    StatusCommand,
    TimelineCommand,
    UpdateCommand,
)
from bot.inbound.postmortem_commands import (
    parse_action,
    parse_close,
    parse_postmortem,
    parse_stats,
)
from bot.inbound.update_commands import parse_components, parse_resolve, parse_update
from bot.incidents.status import Status
from bot.policy.schema import Policy
from bot.text.durations import format_duration, parse_duration
from bot.text.markdown import escape_markdown, excerpt
from bot.text.templates import Renderer

__all__ = [  # the parsed commands are defined in bot.inbound.command_types
    "SUBCOMMANDS",
    "AcknowledgeCommand",
    "Command",
    "ComponentsCommand",
    "DeclareCommand",
    "DeclareFormCommand",
    "DiagnosticsCommand",
    "DiagnosticsListCommand",
    "EscalateCommand",
    "HelpCommand",
    "IncidentCommand",
    "ListCommand",
    "NoteCommand",
    "ReopenCommand",
    "ResolveCommand",
    "RoleCommand",
    "RolesCommand",
    "SeverityCommand",
    "SilenceCommand",
    "StatusCommand",
    "TimelineCommand",
    "UpdateCommand",
    "parse_command",
    "parse_silence_duration",
    "usage",
]

COMMAND = "/incident"
_INCIDENT_KEY = re.compile(r"^INC-(\d+)$", re.IGNORECASE)
# A person, as our Markdown references them (the platform adapter translated its mention).
_USER = re.compile(r"^<user:([A-Za-z0-9._:@-]{1,120})>$")


@dataclass(frozen=True)
class Subcommand:
    name: str
    arguments: str
    summary: str
    parse: Callable[[str], Command]

    @property
    def usage(self) -> str:
        return f"{COMMAND} {self.name} {self.arguments}".rstrip()


_OPTION = re.compile(r"^--?[A-Za-z]")
# After the title only a whole `--word` reads as an option: "errors -EU" is a title.
_TRAILING_OPTION = re.compile(r"^(--[A-Za-z][A-Za-z-]*|-p)$", re.IGNORECASE)


def _shown(typed: str) -> str:
    return excerpt(typed)


def _split_key(rest: str) -> tuple[int | None, str]:
    """`INC-7 the rest` -> (7, "the rest"); no key -> (None, rest)."""
    words = rest.split(maxsplit=1)
    if words and (match := _INCIDENT_KEY.match(words[0])):
        return int(match.group(1)), (words[1] if len(words) > 1 else "")
    return None, rest


def _parse_declare(rest: str) -> DeclareCommand | DeclareFormCommand:
    """`[options] <severity> [options] <title> [--private]`: options in any order."""
    if not rest.strip():
        return DeclareFormCommand()
    private = False
    # Words with their places, so the title keeps its spacing and quotes as typed.
    words = list(re.finditer(r"\S+", rest))
    severity: str | None = None
    while words and (severity is None or _OPTION.match(words[0].group())):
        word = words.pop(0).group()
        if word.lower() in ("--private", "-p"):
            private = True
        elif _OPTION.match(word):
            raise UsageError(f"unknown option {_shown(word)}", usage="declare")
        else:
            severity = word
    # A flag typed after the title still means it: never open in public what was meant private.
    while words and _TRAILING_OPTION.match(words[-1].group()):
        word = words.pop().group()
        if word.lower() not in ("--private", "-p"):
            raise UsageError(f"unknown option {_shown(word)}", usage="declare")
        private = True
    if severity is None:
        raise UsageError("declare needs a severity and a title", usage="declare")
    title = rest[words[0].start() : words[-1].end()] if words else ""
    if not title:
        raise UsageError(
            "declare needs a title after the severity, e.g. "
            f"{COMMAND} declare {_shown(severity)} Checkout errors",
            usage="declare",
        )
    return DeclareCommand(severity=severity, title=_unquote(title), private=private)


def _parse_ack(rest: str) -> AcknowledgeCommand:
    return AcknowledgeCommand(_only_key(rest, "ack"))


def _parse_status(rest: str) -> StatusCommand:
    number, rest = _split_key(rest)
    words = rest.split(maxsplit=1)
    choices = ", ".join(s.value for s in Status if s is not Status.CLOSED)
    if not words:
        raise UsageError(f"status needs one of {choices}", usage="status")
    try:
        status = Status(words[0].lower())
    except ValueError:
        raise UsageError(
            f"unknown status {_shown(words[0])}; use one of {choices}", usage="status"
        ) from None
    if status is Status.CLOSED:
        raise UsageError(
            "an incident is closed once its postmortem is complete: use close",
            usage="status",
        )
    return StatusCommand(number, status, words[1].strip() if len(words) > 1 else "")


def _parse_severity(rest: str) -> SeverityCommand:
    number, rest = _split_key(rest)
    words = rest.split()
    if len(words) != 1:
        raise UsageError("severity needs exactly one severity, e.g. sev1", usage="severity")
    return SeverityCommand(number, words[0])


def _parse_note(rest: str) -> NoteCommand:
    number, text = _split_key(rest)
    if not text.strip():
        raise UsageError("note needs some text", usage="note")
    return NoteCommand(number, text.strip())


def _parse_escalate(rest: str) -> EscalateCommand:
    number, reason = _split_key(rest)
    return EscalateCommand(number, reason.strip())


def _parse_reopen(rest: str) -> ReopenCommand:
    return ReopenCommand(_only_key(rest, "reopen"))


def _parse_timeline(rest: str) -> TimelineCommand:
    return TimelineCommand(_only_key(rest, "timeline"))


def _parse_role(rest: str) -> RoleCommand:
    number, rest = _split_key(rest)
    words = rest.split()
    if not words:
        raise UsageError("role needs a role and a person, e.g. role commander @alex", usage="role")
    if len(words) == 1:
        raise UsageError(f"role {_shown(words[0])} needs a person, e.g. @alex", usage="role")
    if len(words) > 2:
        raise UsageError("role takes one role and one person", usage="role")
    match = _USER.match(words[1])
    if match is None:
        raise UsageError(
            f"{_shown(words[1])} is not a person: mention them, e.g. @alex", usage="role"
        )
    return RoleCommand(number, words[0].lower(), match.group(1))


# Long enough for a night, short enough that a forgotten silence does not hide next week.
MAX_SILENCE = timedelta(days=7)


def parse_silence_duration(text: str) -> timedelta:
    """A silence's length: 1h, 4h, 24h… from a minute to a week."""
    try:
        duration = parse_duration(text)
    except ValueError as error:
        raise UsageError(escape_markdown(str(error)), usage="silence") from None
    if not timedelta(minutes=1) <= duration <= MAX_SILENCE:
        raise UsageError(
            f"a silence lasts from 1m to {format_duration(MAX_SILENCE)}", usage="silence"
        )
    return duration


def _parse_silence(rest: str) -> SilenceCommand:
    number, rest = _split_key(rest)
    words = rest.split()
    if len(words) > 1:
        raise UsageError(f"silence takes one duration (got {_shown(rest)})", usage="silence")
    return SilenceCommand(number, parse_silence_duration(words[0] if words else "1h"))


def _parse_diag(rest: str) -> DiagnosticsListCommand | DiagnosticsCommand:
    """`diag [INC-N] [name]`: the name is taken whole, so nothing typed after it can ever
    reach a check as an argument (`health; rm -rf /` is just a name no check has)."""
    number, target = _split_key(rest)
    target = target.strip()
    if not target:
        return DiagnosticsListCommand()
    return DiagnosticsCommand(number, target)


def _parse_roles(rest: str) -> RolesCommand:
    return RolesCommand(_only_key(rest, "roles"))


def _parse_list(rest: str) -> ListCommand:
    if rest.strip():
        raise UsageError(f"list takes no text (got {_shown(rest)})", usage="list")
    return ListCommand()


def _only_key(rest: str, name: str) -> int | None:
    number, extra = _split_key(rest)
    if extra.strip():
        raise UsageError(f"{name} takes no text (got {_shown(extra)})", usage=name)
    return number


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "declare",
        "[--private] <severity> <title>",
        "open an incident: its own channel, the pinned status card, an announcement "
        "(no arguments: a form)",
        _parse_declare,
    ),
    Subcommand("ack", "[INC-N]", "acknowledge the incident", _parse_ack),
    Subcommand(
        "status",
        "[INC-N] investigating|mitigating|resolved [note]",
        "move the incident to another status",
        _parse_status,
    ),
    Subcommand(
        "update",
        '[INC-N] [--next 20m] [--public] [--public-title "…"] [text]',
        "post a status update and reset Next Update (no text: a form); "
        "--public posts it on the status page too",
        parse_update,
    ),
    Subcommand("severity", "[INC-N] <severity>", "change the severity", _parse_severity),
    Subcommand("note", "[INC-N] <text>", "add a line to the timeline", _parse_note),
    Subcommand(
        "escalate",
        "[INC-N] [reason]",
        "call the next level of the escalation path (on-call, tech lead, manager)",
        _parse_escalate,
    ),
    Subcommand(
        "resolve",
        "[INC-N] [--public] [resolution]",
        "resolve it and post the all-clear (--public: the resolution on the status page too)",
        parse_resolve,
    ),
    Subcommand(
        "components",
        "[INC-N] [name, name…|none]",
        "the status page components it affects (no names: show them)",
        parse_components,
    ),
    Subcommand("reopen", "[INC-N]", "back to Investigating after a resolution", _parse_reopen),
    Subcommand(
        "role", "[INC-N] <role> @person", "give someone a role (they are invited)", _parse_role
    ),
    Subcommand("roles", "[INC-N]", "who holds which role", _parse_roles),
    Subcommand(
        "silence",
        "[INC-N] [1h|4h|24h]",
        "silence the incident's alerts at Alertmanager (default 1h)",
        _parse_silence,
    ),
    Subcommand(
        "diag",
        "[INC-N] [name|all]",
        "run a diagnostics check or runbook on the incident (no name: list them)",
        _parse_diag,
    ),
    Subcommand(
        "postmortem",
        "[INC-N] [export]",
        "write the postmortem in a form; `export` shares a new version of the document",
        parse_postmortem,
    ),
    Subcommand(
        "action",
        "[INC-N] add [@owner] [due YYYY-MM-DD] <text> | list | done <n>",
        "the incident's action items",
        parse_action,
    ),
    Subcommand(
        "close", "[INC-N]", "mark the postmortem complete and close the incident", parse_close
    ),
    Subcommand("list", "", "open incidents, newest first", _parse_list),
    Subcommand("timeline", "[INC-N]", "the whole timeline, only for you", _parse_timeline),
    Subcommand(
        "stats", "[days]", "response times and follow-through (default 30 days)", parse_stats
    ),
    Subcommand("help", "", "show this help", lambda rest: HelpCommand()),
)
_BY_NAME = {sub.name: sub for sub in SUBCOMMANDS}
_ALIASES = {
    "acknowledge": "ack",
    "sev": "severity",
    "diagnostics": "diag",
    "diagnose": "diag",
    "pm": "postmortem",
    "actions": "action",
}


def parse_command(text: str) -> Command:
    words = text.strip().split(maxsplit=1)
    if not words:
        return HelpCommand()
    name = _ALIASES.get(words[0].lower(), words[0].lower())
    sub = _BY_NAME.get(name)
    if sub is None:
        raise UsageError(f"unknown command {_shown(words[0])}")
    return sub.parse(words[1] if len(words) > 1 else "")


def _unquote(title: str) -> str:
    """People often quote the title; drop one pair of matching quotes."""
    if len(title) >= 2 and title[0] == title[-1] and title[0] in "\"'":
        try:
            parts = shlex.split(title)
        except ValueError:
            return title
        return parts[0] if len(parts) == 1 else title
    return title


def usage(policy: Policy, renderer: Renderer, *, subcommand: str | None = None) -> str:
    """Help text in Markdown; with `subcommand`, just that command's usage line."""
    severities = [(level.name, level.description) for level in policy.severities]
    if subcommand in _BY_NAME:
        return renderer.render(
            "usage_line.md.j2", usage=_BY_NAME[subcommand].usage, severities=severities
        )
    return renderer.render(
        "help.md.j2",
        command=COMMAND,
        subcommands=[(sub.usage, sub.summary) for sub in SUBCOMMANDS],
        severities=severities,
        roles=sorted(policy.roles),
        status_page=policy.status_page.title if policy.status_page else None,
    )
