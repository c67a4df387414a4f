"""Finding and locking the incident a request means, and the small steps every change
takes: a legal status move, a timeline entry, one pending card refresh."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col

from bot.delivery.outbox import DeliveryKind
from bot.errors import IncidentNotFound, NotAnIncidentChannel, UserError
from bot.incidents.status import IllegalTransition, Status, incident_key, transition
from bot.incidents.timeline import record
from bot.storage.models import DeliveryState, Incident, TimelineKind

# Incident numbers are 32-bit in every database we run on.
MAX_INCIDENT_NUMBER = 2**31 - 1


@dataclass(frozen=True)
class IncidentRef:
    """Which incident a command means: a number typed (INC-7), else the channel it came from."""

    number: int | None = None
    channel_id: str | None = None
    # Where the request came from, when the incident was named by number.
    via: str | None = None

    def describe(self) -> str:
        return incident_key(self.number) if self.number is not None else "this channel"

    @property
    def origin(self) -> str | None:
        return self.via or self.channel_id


@dataclass(frozen=True)
class Outcome:
    incident: Incident
    summary: str  # what happened, for the person who asked


Change = Callable[[Session, Incident, datetime], str]


def locked(session: Session, ref: IncidentRef) -> Incident:
    return find_incident(session, ref, lock=True)


def find_incident(session: Session, ref: IncidentRef, *, lock: bool = False) -> Incident:
    """The incident `ref` names; UserError saying what is wrong if there is none."""
    query = select(Incident).with_for_update() if lock else select(Incident)
    if ref.number is not None and not 0 < ref.number <= MAX_INCIDENT_NUMBER:
        raise not_found(ref)  # a number no database column holds was never handed out
    if ref.number is not None:
        query = query.where(col(Incident.number) == ref.number)
    elif ref.channel_id is not None:
        query = query.where(col(Incident.channel_id) == ref.channel_id)
    else:
        raise UserError("name the incident, e.g. INC-7")
    incident = session.scalars(query).first()
    if incident is None:
        raise not_found(ref)
    return incident


def not_found(ref: IncidentRef) -> IncidentNotFound:
    """What a missing incident reads like; a private one hidden from its viewer reads the same."""
    if ref.number is not None:
        key = incident_key(ref.number)
        shown = key if len(key) <= 20 else key[:17] + "…"  # never echo a long input back
        return IncidentNotFound(f"there is no {shown}")
    return NotAnIncidentChannel(
        "this is not an incident channel: run the command in one, or name the incident (e.g. INC-7)"
    )


_D = SQLModel.metadata.tables["delivery"].c
# Refreshes owed and not started yet, locked (SKIP LOCKED) so that no worker starts one
# before the caller's commit; one a worker holds already is skipped.
_WAITING = (
    select(_D.kind)
    .where(
        _D.incident_id == bindparam("incident_id"),
        _D.kind.in_(bindparam("kinds", expanding=True)),
        _D.state == DeliveryState.PENDING,
        _D.lease_owner.is_(None),
    )
    .with_for_update(skip_locked=True)
)


def refreshes_waiting(
    session: Session, incident_id: int, kinds: Sequence[DeliveryKind]
) -> set[DeliveryKind]:
    """Of `kinds`, those owed to the incident and not started yet: each will render this
    change too, so none needs owing again. One statement for all of them."""
    found = session.connection().scalars(
        _WAITING, {"incident_id": incident_id, "kinds": [kind.value for kind in kinds]}
    )
    return {DeliveryKind(kind) for kind in found}


def card_refresh_waiting(
    session: Session, incident_id: int, kind: DeliveryKind = DeliveryKind.UPDATE_CARD
) -> bool:
    """A refresh of the card (or of another message rendered from stored state, such as
    the announcement: `kind`) that has not started yet will render this change too."""
    return kind in refreshes_waiting(session, incident_id, (kind,))


def move(incident: Incident, target: Status) -> Status:
    try:
        return transition(incident.status, target)
    except IllegalTransition as error:
        raise UserError(f"{incident_key(incident.number)}: {error}") from error


def write_entry(
    session: Session,
    incident: Incident,
    kind: TimelineKind,
    now: datetime,
    actor: str | None,
    *,
    text: str = "",
    data: dict[str, object] | None = None,
) -> None:
    assert incident.id is not None
    record(session, incident_id=incident.id, kind=kind, at=now, actor=actor, text=text, data=data)
