"""Forms in the domain's words: which fields, of which kind, with which choices.

The core decides what a form asks; each platform adapter draws it (Slack: a modal;
Teams: an Adaptive Card) and hands back the values by field id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.incidents.status import Status, incident_key
from bot.policy.diagnostics import DiagnosticsPolicy
from bot.policy.schema import Policy
from bot.storage.models import Incident
from bot.text.durations import format_duration

DECLARE_FORM = "incident.declare_form"
UPDATE_FORM = "incident.update_form"
TIMELINE_PICKER_FORM = "incident.add_to_timeline_form"
DIAGNOSTICS_PICKER_FORM = "incident.diagnostics_form"
NEXT_UPDATE_CHOICES = ("10m", "15m", "30m", "1h", "2h", "4h")
# Platforms show at most this many choices in one list (Slack: 100).
MAX_CHOICES = 100


class FieldKind(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    CHOICE = "choice"
    TOGGLE = "toggle"


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    description: str = ""


@dataclass(frozen=True)
class FormField:
    id: str
    label: str
    kind: FieldKind
    choices: tuple[Choice, ...] = ()
    initial: str | None = None  # a text's value or a choice's value
    optional: bool = False
    max_length: int | None = None
    placeholder: str = ""


@dataclass(frozen=True)
class Form:
    """`id` routes the submission back; `context` travels with the form, unseen."""

    id: str
    title: str
    submit: str
    fields: tuple[FormField, ...]
    context: Mapping[str, Any] = field(default_factory=dict)


def declare_form(policy: Policy, *, origin_channel: str | None) -> Form:
    severities = tuple(Choice(s.name, s.name, s.description) for s in policy.severities)
    return Form(
        id=DECLARE_FORM,
        title="Declare an incident",
        submit="Declare",
        context={"channel": origin_channel},
        fields=(
            FormField(
                "title", "Title", FieldKind.TEXT, max_length=200, placeholder="Checkout errors"
            ),
            FormField("severity", "Severity", FieldKind.CHOICE, choices=severities),
            FormField(
                "impact",
                "Impact",
                FieldKind.TEXT,
                optional=True,
                placeholder="Who or what is affected",
            ),
            FormField(
                "private",
                "Private incident",
                FieldKind.TOGGLE,
                optional=True,
                placeholder="A private channel, never announced",
            ),
        ),
    )


def update_form(incident: Incident, policy: Policy) -> Form:
    statuses = tuple(Choice(s.value, s.label) for s in (Status.INVESTIGATING, Status.MITIGATING))
    cadence = policy.severity(incident.severity).update_every
    default = format_duration(cadence) if cadence else None
    choices = [Choice(c, f"in {c}") for c in NEXT_UPDATE_CHOICES]
    if default and default not in NEXT_UPDATE_CHOICES:
        choices.insert(0, Choice(default, f"in {default}"))
    return Form(
        id=UPDATE_FORM,
        title=f"Update {incident_key(incident.number)}",
        submit="Post update",
        context={"number": incident.number},
        fields=(
            FormField(
                "status",
                "Status",
                FieldKind.CHOICE,
                choices=statuses,
                initial=incident.status.value,
            ),
            FormField(
                "impact", "Impact", FieldKind.TEXT, optional=True, initial=incident.impact or None
            ),
            FormField("text", "What is happening", FieldKind.LONG_TEXT, max_length=3000),
            FormField(
                "next",
                "Next update",
                FieldKind.CHOICE,
                choices=tuple(choices),
                initial=default,
                optional=cadence is None,
            ),
        ),
    )


def timeline_picker(incidents: Sequence[Incident], *, message: Mapping[str, Any]) -> Form:
    """Which incident a message from elsewhere goes to."""
    choices = tuple(
        Choice(str(i.number), f"{incident_key(i.number)} {i.title}") for i in incidents
    )[:MAX_CHOICES]
    return Form(
        id=TIMELINE_PICKER_FORM,
        title="Add to a timeline",
        submit="Add",
        context={"message": dict(message)},
        fields=(FormField("incident", "Incident", FieldKind.CHOICE, choices=choices),),
    )


def diagnostics_picker(
    incident: Incident, diagnostics: DiagnosticsPolicy, *, origin_channel: str | None
) -> Form:
    """Which runbook (or all checks) the card's Run diagnostics button runs."""
    choices = [
        Choice(runbook.name, runbook.label()[:75], runbook.description[:75])
        for runbook in diagnostics.runbooks
    ]
    choices.append(Choice("all", "All checks", f"{len(diagnostics.checks)} checks at once"))
    return Form(
        id=DIAGNOSTICS_PICKER_FORM,
        title="Run diagnostics",
        submit="Run",
        # Where the button was pressed: running is for the people in the incident's channel.
        context={"number": incident.number, "channel": origin_channel},
        fields=(
            FormField(
                "target",
                f"Runbook for {incident_key(incident.number)}",
                FieldKind.CHOICE,
                choices=tuple(choices[:MAX_CHOICES]),
                initial=choices[0].value,
            ),
        ),
    )
