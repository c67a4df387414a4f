"""The postmortem form: the human sections of the RCA document, prefilled from what the
incident already knows (the resolve note, the impact, the last updates as a draft)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.inbound.forms import FieldKind, Form, FormField
from bot.incidents.status import incident_key
from bot.storage.models import Incident, Postmortem, TimelineEntry
from bot.storage.postmortem_models import SECTION_LENGTH
from bot.text.templates import format_hhmm

POSTMORTEM_FORM = "incident.postmortem_form"
# Field id -> label, in the order of the runbook's template.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("root_cause", "Root cause"),
    ("impact", "Impact"),
    ("resolution", "Resolution"),
    ("went_well", "What went well"),
    ("could_improve", "What could improve"),
)
SECTION_IDS = tuple(field_id for field_id, _ in SECTIONS)
DRAFT_UPDATES = 3
_PLACEHOLDERS = {
    "root_cause": "Why it happened: the cause, and why it was not caught earlier",
    "impact": "User impact: …  Business impact: …  Technical impact: …",
    "resolution": "What fixed it",
    "went_well": "What helped the response",
    "could_improve": "What slowed it down; what to change",
}


def prefilled(
    incident: Incident, written: Postmortem | None, updates: Sequence[TimelineEntry]
) -> dict[str, str]:
    """What each field starts with: what was written, else a draft from the incident."""
    if written is not None:
        return {field_id: str(getattr(written, field_id)) for field_id in SECTION_IDS}
    recent = list(updates)[-DRAFT_UPDATES:]
    draft = "\n".join(f"- {format_hhmm(entry.at)} UTC {entry.text}" for entry in recent)
    impact = "\n".join(
        (f"User impact: {incident.impact}".rstrip(), "Business impact:", "Technical impact:")
    )
    return {
        "root_cause": f"Draft from the last updates:\n{draft}" if draft else "",
        "impact": impact,
        "resolution": incident.resolution,
        "went_well": "",
        "could_improve": "",
    }


def postmortem_form(
    incident: Incident,
    written: Postmortem | None,
    updates: Sequence[TimelineEntry],
    *,
    origin_channel: str | None = None,
) -> Form:
    values = prefilled(incident, written, updates)
    key = incident_key(incident.number)
    return Form(
        id=POSTMORTEM_FORM,
        title=f"Postmortem of {key}",
        submit="Save and share",
        # Where it was opened from: writing is for the people in the incident's channel.
        context={"number": incident.number, "channel": origin_channel},
        fields=tuple(
            FormField(
                field_id,
                label,
                FieldKind.LONG_TEXT,
                initial=values[field_id][:SECTION_LENGTH] or None,
                optional=True,
                max_length=SECTION_LENGTH,
                placeholder=_PLACEHOLDERS[field_id],
            )
            for field_id, label in SECTIONS
        ),
    )
