"""What the postmortem document says, as the templates read it: every figure and line
already computed (bot/postmortem/document_build.py), so that a template only lays it out.

Text people typed is kept as typed (each template escapes it for its format), with
references to people made plain (`@U123`); only a timeline row's `what` is our Markdown,
from `timeline.describe`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from bot.incidents.status import incident_key

# What a header figure reads when the timeline has nothing to measure it from.
NO_FIGURE = "—"
NOT_RECORDED = "Not recorded"


class TimelineRow(NamedTuple):
    """A tuple, so that templates unpack it (`for time, who, what in day.rows`): one
    attribute lookup in the sandbox costs about as much as the rest of a row."""

    time: str  # "14:08 UTC"
    who: str  # plain text: "@U123", the alert source's name, or "warroom"
    what: str  # our Markdown line (`describe`); the HTML renderers get it as HTML


@dataclass(frozen=True)
class TimelineDay:
    date: str  # "2026-11-22", UTC
    rows: tuple[TimelineRow, ...]


@dataclass(frozen=True)
class Participant:
    name: str  # "@U123"
    roles: tuple[str, ...]  # the roles held, in the policy's order
    declarer: bool


@dataclass(frozen=True)
class Block:
    """One line of a section as typed (a paragraph), or consecutive lines typed as a list."""

    text: str = ""
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    blocks: tuple[Block, ...]  # none: not yet written

    @property
    def written(self) -> bool:
        return bool(self.blocks)


@dataclass(frozen=True)
class ActionLine:
    number: int
    text: str
    details: str  # "owner @U1, due 2026-12-09, done 2026-12-03", "" when none apply
    done: bool


@dataclass(frozen=True)
class DocumentData:
    """Everything the document templates print, already computed: they read nothing else."""

    number: int
    key: str  # "INC-7"
    title: str
    date: str  # the start, "2026-11-22" (UTC)
    severity: str  # the final one
    severity_line: str  # "SEV2 (declared SEV3; SEV3 → SEV2 at 14:20 UTC)"
    status: str  # "Resolved"
    duration: str  # "1 h 22 min (… → …)", or "ongoing (since …)"
    time_to_acknowledge: str  # "4 min", or NO_FIGURE
    time_to_mitigate: str
    time_to_resolve: str
    affected_users: str
    source: str  # "Declared by @U1 with /incident", "Opened by Alertmanager"
    postmortem_status: str  # "Required for SEV2; not yet completed"
    timeline: tuple[TimelineDay, ...]
    entries: int
    participants: tuple[Participant, ...]
    root_cause: Section
    impact: Section
    resolution: Section
    went_well: Section
    could_improve: Section
    action_items: tuple[ActionLine, ...]
    version: int
    filename: str
    written: str  # "2026-11-24 10:00 UTC by @U1"; "" until the form is submitted


def document_filename(number: int, version: int) -> str:
    """INC-7-postmortem.md for the first version, INC-7-postmortem-v2.md for the second…"""
    suffix = "" if version <= 1 else f"-v{version}"
    return f"{incident_key(number)}-postmortem{suffix}.md"
