"""What `/incident` commands mean once parsed: one small value per command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot.incidents.status import Status


@dataclass(frozen=True)
class HelpCommand:
    pass


@dataclass(frozen=True)
class DeclareCommand:
    severity: str
    title: str
    private: bool = False


@dataclass(frozen=True)
class DeclareFormCommand:
    """`declare` alone: the declaration form opens."""


@dataclass(frozen=True)
class ListCommand:
    pass


@dataclass(frozen=True)
class IncidentCommand:
    """A command on one incident: `number` when typed as INC-N, else the channel's."""

    number: int | None


@dataclass(frozen=True)
class AcknowledgeCommand(IncidentCommand):
    pass


@dataclass(frozen=True)
class StatusCommand(IncidentCommand):
    status: Status
    note: str = ""


@dataclass(frozen=True)
class SeverityCommand(IncidentCommand):
    severity: str


@dataclass(frozen=True)
class NoteCommand(IncidentCommand):
    text: str


@dataclass(frozen=True)
class ResolveCommand(IncidentCommand):
    resolution: str = ""
    public: bool = False  # --public: the resolution on the status page too


@dataclass(frozen=True)
class ReopenCommand(IncidentCommand):
    pass


@dataclass(frozen=True)
class TimelineCommand(IncidentCommand):
    pass


@dataclass(frozen=True)
class UpdateCommand(IncidentCommand):
    """With no text, the update form opens instead."""

    text: str = ""
    next_in: timedelta | None = None
    # --public: on the status page too; --public-title: what the page calls the incident.
    public: bool = False
    public_title: str | None = None


@dataclass(frozen=True)
class EscalateCommand(IncidentCommand):
    reason: str = ""


@dataclass(frozen=True)
class RoleCommand(IncidentCommand):
    role: str
    user: str


@dataclass(frozen=True)
class RolesCommand(IncidentCommand):
    pass


@dataclass(frozen=True)
class ComponentsCommand(IncidentCommand):
    """`components` alone (None): show them; with names, replace them (empty: clear them)."""

    names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SilenceCommand(IncidentCommand):
    duration: timedelta


@dataclass(frozen=True)
class DiagnosticsListCommand:
    """`diag` alone: what can be run."""


@dataclass(frozen=True)
class DiagnosticsCommand(IncidentCommand):
    """`diag <name>`: a check, a runbook or `all`, by name only (never arguments)."""

    target: str


@dataclass(frozen=True)
class PostmortemCommand(IncidentCommand):
    """`postmortem`: the form; `postmortem export`: a new version of the document."""

    export: bool = False


@dataclass(frozen=True)
class CloseCommand(IncidentCommand):
    pass


@dataclass(frozen=True)
class ActionListCommand(IncidentCommand):
    pass


@dataclass(frozen=True)
class ActionAddCommand(IncidentCommand):
    text: str
    owner: str | None = None
    due: date | None = None


@dataclass(frozen=True)
class ActionDoneCommand(IncidentCommand):
    item: int


@dataclass(frozen=True)
class StatsCommand:
    days: int = 30


Command = (
    HelpCommand
    | DeclareCommand
    | DeclareFormCommand
    | AcknowledgeCommand
    | StatusCommand
    | SeverityCommand
    | NoteCommand
    | ResolveCommand
    | ReopenCommand
    | ListCommand
    | TimelineCommand
    | RoleCommand
    | RolesCommand
    | UpdateCommand
    | EscalateCommand
    | SilenceCommand
    | ComponentsCommand
    | DiagnosticsListCommand
    | DiagnosticsCommand
    | PostmortemCommand
    | CloseCommand
    | ActionListCommand
    | ActionAddCommand
    | ActionDoneCommand
    | StatsCommand
)
