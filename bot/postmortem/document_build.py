"""The postmortem document computed from what is stored: the runbook's RCA header, the
whole timeline, who took part, the sections people wrote, the action items.

Nothing here reads the clock: the same rows give the same document, byte for byte.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.clock import ensure_utc
from bot.incidents.members import roles_of
from bot.incidents.status import Status, incident_key
from bot.incidents.timeline import describe, entries_of
from bot.policy.schema import Policy
from bot.postmortem.document_data import (
    NO_FIGURE,
    NOT_RECORDED,
    ActionLine,
    Block,
    DocumentData,
    Participant,
    Section,
    TimelineDay,
    TimelineRow,
    document_filename,
)
from bot.postmortem.document_inline import markdown_to_plain, plain_references
from bot.storage.models import Incident, IncidentMember, IncidentRole, TimelineEntry, TimelineKind
from bot.storage.postmortem_models import ActionItem, Postmortem
from bot.text.durations import format_elapsed
from bot.text.markdown import (
    ALERT_ACTOR_PREFIX,
    Trusted,
    actor_ref,
    escape_markdown,
    single_line,
    user_ref,
)
from bot.text.templates import format_utc

# Line starts people type to make a list in a plain text field.
_BULLETS = ("- ", "* ", "• ", "+ ")


def load_document(
    session: Session, incident: Incident, *, policy: Policy, version: int | None = None
) -> DocumentData:
    """Read what the document is made of: the timeline (by time, then id), roles, members,
    the postmortem (None until the form is submitted) and the action items.

    `version`: the export this document is (the delivery knows it); by default the last
    one shared, or 1 for a draft."""
    incident_id = incident.id or 0
    with _collector_paused():
        members = session.scalars(
            select(IncidentMember)
            .where(col(IncidentMember.incident_id) == incident_id)
            .order_by(col(IncidentMember.added_at), col(IncidentMember.id))
        ).all()
        items = session.scalars(
            select(ActionItem)
            .where(col(ActionItem.incident_id) == incident_id)
            .order_by(col(ActionItem.number))
        ).all()
        return build_document(
            incident,
            entries=entries_of(session, incident_id),
            roles=roles_of(session, incident_id),
            members=members,
            written=session.scalar(
                select(Postmortem).where(col(Postmortem.incident_id) == incident_id)
            ),
            action_items=items,
            policy=policy,
            version=version,
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A long timeline loads as tens of thousands of new objects, none of them garbage:
    each pass of the cycle collector meanwhile walks the whole heap for nothing, and
    would take as long as the load itself. Paused (not collected after: nothing to
    find), unless someone else paused it already."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()


def build_document(
    incident: Incident,
    *,
    entries: Sequence[TimelineEntry],
    roles: Sequence[IncidentRole],
    members: Sequence[IncidentMember],
    written: Postmortem | None,
    action_items: Sequence[ActionItem],
    policy: Policy,
    version: int | None = None,
) -> DocumentData:
    """The document of rows already read; `entries` in timeline order."""
    started = ensure_utc(incident.started_at)
    acknowledged = _first(entries, TimelineKind.ACKNOWLEDGED)
    mitigating = next(
        (
            entry
            for entry in entries
            if entry.kind is TimelineKind.STATUS_CHANGED
            and str(entry.data.get("new", "")).casefold() == Status.MITIGATING.value
        ),
        None,
    )
    resolved = _resolved_at(incident, entries)
    if version is None:
        version = max(written.exports, 1) if written else 1
    return DocumentData(
        number=incident.number,
        key=incident_key(incident.number),
        title=plain_references(single_line(incident.title)),
        date=started.strftime("%Y-%m-%d"),
        severity=incident.severity,
        severity_line=_severity_line(incident, entries),
        status=incident.status.label,
        duration=_duration(started, resolved),
        time_to_acknowledge=_since(started, acknowledged.at if acknowledged else None),
        time_to_mitigate=_since(started, mitigating.at if mitigating else None),
        time_to_resolve=_since(started, resolved),
        affected_users=_affected_users(incident, written),
        source=_source(incident),
        postmortem_status=_postmortem_status(incident, written, policy),
        timeline=_timeline(entries),
        entries=len(entries),
        participants=_participants(incident, roles, members, policy),
        root_cause=_section(written.root_cause if written else ""),
        impact=_impact(written.impact if written else ""),
        resolution=_section((written.resolution if written else "") or incident.resolution),
        went_well=_section(written.went_well if written else ""),
        could_improve=_section(written.could_improve if written else ""),
        action_items=tuple(_action_line(item) for item in action_items),
        version=version,
        filename=document_filename(incident.number, version),
        written=(
            f"{format_utc(written.written_at)} by {_person(written.written_by)}" if written else ""
        ),
    )


# The header ---------------------------------------------------------------------------


def _first(entries: Sequence[TimelineEntry], kind: TimelineKind) -> TimelineEntry | None:
    return next((entry for entry in entries if entry.kind is kind), None)


def _resolved_at(incident: Incident, entries: Sequence[TimelineEntry]) -> datetime | None:
    """The last resolution that still holds: none while the incident is open again."""
    if incident.status.is_open:
        return None
    for entry in reversed(entries):
        if entry.kind is TimelineKind.REOPENED:
            break
        if entry.kind is TimelineKind.RESOLVED:
            return ensure_utc(entry.at)
    return ensure_utc(incident.resolved_at) if incident.resolved_at else None


def _since(started: datetime, moment: datetime | None) -> str:
    return format_elapsed(ensure_utc(moment) - started) if moment else NO_FIGURE


def _duration(started: datetime, resolved: datetime | None) -> str:
    if resolved is None:
        return f"ongoing (since {format_utc(started)})"
    return f"{format_elapsed(resolved - started)} ({format_utc(started)} → {format_utc(resolved)})"


def _severity_line(incident: Incident, entries: Sequence[TimelineEntry]) -> str:
    """SEV2 (declared SEV3; SEV3 → SEV2 at 14:20 UTC): each change, with the day too when
    it is not the day the incident started."""
    changes = [entry for entry in entries if entry.kind is TimelineKind.SEVERITY_CHANGED]
    if not changes:
        return incident.severity
    declared_entry = _first(entries, TimelineKind.DECLARED)
    declared = (
        str(declared_entry.data.get("severity"))
        if declared_entry and declared_entry.data.get("severity")
        else str(changes[0].data.get("old", "?"))
    )
    start_day = ensure_utc(incident.started_at).date()
    moves = []
    for change in changes:
        at = ensure_utc(change.at)
        when = at.strftime("%H:%M UTC") if at.date() == start_day else format_utc(at)
        moves.append(f"{change.data.get('old', '?')} → {change.data.get('new', '?')} at {when}")
    return f"{incident.severity} (declared {declared}; {'; '.join(moves)})"


def _affected_users(incident: Incident, written: Postmortem | None) -> str:
    if incident.impact.strip():
        return plain_references(single_line(incident.impact))
    lines = _lines(written.impact if written else "")
    return _unbulleted(lines[0]) if lines else NOT_RECORDED


def _source(incident: Incident) -> str:
    declarer = _person(incident.declared_by)
    if incident.source == "command":
        return f"Declared by {declarer} with /incident"
    opened_by = markdown_to_plain(actor_ref(f"{ALERT_ACTOR_PREFIX}{incident.source}"))
    if incident.declared_by.startswith(ALERT_ACTOR_PREFIX):
        return f"Opened by {opened_by}"
    return f"Opened by {opened_by}, declared by {declarer}"


def _postmortem_status(incident: Incident, written: Postmortem | None, policy: Policy) -> str:
    need = "Required" if policy.postmortem_required(incident.severity) else "Optional"
    if written is not None and written.completed_at is not None:
        by = f" by {_person(written.completed_by)}" if written.completed_by else ""
        state = f"completed {format_utc(written.completed_at)}{by}"
    else:
        state = "not yet completed"
    return f"{need} for {incident.severity}; {state}"


def _person(actor: str) -> str:
    """Who acted, as the document shows them (an alert source by its name)."""
    return markdown_to_plain(actor_ref(actor))


# The timeline and the people ----------------------------------------------------------


def _timeline(entries: Sequence[TimelineEntry]) -> tuple[TimelineDay, ...]:
    """Every entry, grouped by UTC day. An incident can have tens of thousands of entries
    (an alert storm), so the per-entry work is kept small: times and names are made once
    and shared, and marked as needing no escaping when they need none (the Markdown
    renderer would otherwise escape each of them again on every row)."""
    days: list[TimelineDay] = []
    rows: list[TimelineRow] = []
    day: date | None = None
    times: dict[int, str] = {}
    names: dict[str | None, str] = {None: Trusted("warroom")}
    for entry in entries:
        at = entry.at if entry.at.tzinfo is UTC else ensure_utc(entry.at)
        if at.date() != day:
            if day is not None:
                days.append(TimelineDay(day.isoformat(), tuple(rows)))
            day, rows = at.date(), []
        minute = at.hour * 60 + at.minute
        time = times.get(minute)
        if time is None:
            time = times[minute] = Trusted(f"{at.hour:02d}:{at.minute:02d} UTC")
        actor = entry.actor or None
        who = names.get(actor)
        if who is None:
            who = names[actor] = _as_safe_as_it_is(_person(entry.actor or ""))
        rows.append(TimelineRow(time, who, describe(entry)))
    if day is not None:
        days.append(TimelineDay(day.isoformat(), tuple(rows)))
    return tuple(days)


def _as_safe_as_it_is(text: str) -> str:
    """Text that Markdown escaping leaves as it is, marked so (HTML still escapes it)."""
    return Trusted(text) if escape_markdown(text) == text else text


def _participants(
    incident: Incident,
    roles: Sequence[IncidentRole],
    members: Sequence[IncidentMember],
    policy: Policy,
) -> tuple[Participant, ...]:
    """Role holders first (by the policy's order of roles), then the declarer, then
    everyone else who was in the incident, by when they joined."""
    ranked = {name: rank for rank, name in enumerate(policy.roles)}
    held: dict[str, list[str]] = {}
    for role in sorted(roles, key=lambda role: (ranked.get(role.role, len(ranked)), role.role)):
        held.setdefault(role.user_id, []).append(role.role)
    people = list(held)
    declarer = incident.declared_by
    by_person = not declarer.startswith(ALERT_ACTOR_PREFIX)
    if by_person and declarer not in held:
        people.append(declarer)
    people += [m.user_id for m in members if m.user_id not in held and m.user_id != declarer]
    return tuple(
        Participant(
            name=markdown_to_plain(user_ref(user)),
            roles=tuple(held.get(user, ())),
            declarer=by_person and user == declarer,
        )
        for user in people
    )


# The sections people write ------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [plain_references(line.strip()) for line in text.splitlines() if line.strip()]


def _unbulleted(line: str) -> str:
    for bullet in _BULLETS:
        if line.startswith(bullet):
            return line.removeprefix(bullet).strip()
    return line


def _section(text: str) -> Section:
    """Each line a paragraph, so that line breaks survive every Markdown reader; lines
    typed as a list (`- `, `* `, `• `) stay one."""
    blocks: list[Block] = []
    for line in _lines(text):
        item = _unbulleted(line)
        if item == line:
            blocks.append(Block(text=line))
        elif blocks and blocks[-1].items:
            blocks[-1] = Block(items=(*blocks[-1].items, item))
        else:
            blocks.append(Block(items=(item,)))
    return Section(tuple(blocks))


def _impact(text: str) -> Section:
    """The runbook's form: every line a bullet ("- User impact: …")."""
    items = tuple(_unbulleted(line) for line in _lines(text))
    return Section((Block(items=items),) if items else ())


def _action_line(item: ActionItem) -> ActionLine:
    details = []
    if item.owner:
        details.append(f"owner {_person(item.owner)}")
    if item.due:
        details.append(f"due {item.due.isoformat()}")
    if item.done_at:
        details.append(f"done {ensure_utc(item.done_at).strftime('%Y-%m-%d')}")
    return ActionLine(
        number=item.number,
        text=plain_references(single_line(item.text)),
        details=", ".join(details),
        done=item.done_at is not None,
    )
