"""What an effect learned, written when its delivery is recorded done."""

from __future__ import annotations

from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from bot.delivery.outbox import Landed

_INCIDENT = SQLModel.metadata.tables["incident"]


def saving(incident_id: int, **values: object) -> Landed:
    """The incident's new values, written when its delivery is recorded done (a Core
    UPDATE: the ORM's would cost several times as much, on the way to the card)."""

    def write(session: Session) -> None:
        session.connection().execute(
            _INCIDENT.update()
            .where(_INCIDENT.c.id == incident_id)
            .values(version=_INCIDENT.c.version + 1, **values)
        )

    return write
