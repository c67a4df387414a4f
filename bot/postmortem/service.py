"""Writing, sharing and completing an incident's postmortem.

Every step runs under the incident's row lock (`IncidentLifecycle.apply`), checked like
any other change (private incidents stay invisible to outsiders; the policy's
`permissions` may name who writes postmortems). Sharing a version owes its upload (and
its Confluence page) to the outbox in the same commit, so a version is delivered exactly
once, whatever fails in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.delivery.outbox import DeliveryKind, enqueue
from bot.errors import UserError
from bot.inbound.forms import Form
from bot.incidents.access import IncidentRef, Outcome, move, refreshes_waiting, write_entry
from bot.incidents.lifecycle import IncidentLifecycle
from bot.incidents.status import Status, incident_key
from bot.policy.schema import Policy
from bot.postmortem.form import SECTION_IDS, postmortem_form
from bot.storage.database import Database
from bot.storage.models import Incident, Postmortem, TimelineEntry, TimelineKind
from bot.storage.postmortem_models import SECTION_LENGTH


def postmortem_of(session: Session, incident_id: int) -> Postmortem | None:
    return session.scalar(select(Postmortem).where(col(Postmortem.incident_id) == incident_id))


def _refuse_closed(incident: Incident) -> None:
    if incident.status is Status.CLOSED:
        raise UserError(
            f"{incident_key(incident.number)} is closed: its postmortem is complete "
            "(`/incident postmortem export` shares it again)"
        )


class Postmortems:
    def __init__(self, *, db: Database, policy: Policy, lifecycle: IncidentLifecycle) -> None:
        self._db = db
        self._policy = policy
        self._lifecycle = lifecycle

    async def form(self, ref: IncidentRef, *, viewer: str) -> Form:
        """The form, prefilled: what was written, else a draft from the incident."""
        incident = await self._lifecycle.incident(ref, viewer=viewer, action="postmortem")
        _refuse_closed(incident)
        incident_id = incident.id or 0

        def read(session: Session) -> tuple[Postmortem | None, list[TimelineEntry]]:
            updates = session.scalars(
                select(TimelineEntry)
                .where(
                    col(TimelineEntry.incident_id) == incident_id,
                    col(TimelineEntry.kind) == TimelineKind.UPDATE,
                )
                .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
            )
            return postmortem_of(session, incident_id), list(updates)

        written, updates = await self._db.transaction(read, urgent=True)
        return postmortem_form(incident, written, updates, origin_channel=ref.origin)

    async def submit(self, ref: IncidentRef, *, actor: str, sections: Mapping[str, str]) -> Outcome:
        """Store the sections and share the document's next version in the channel."""
        cleaned = {
            field_id: sections.get(field_id, "").strip()[:SECTION_LENGTH]
            for field_id in SECTION_IDS
        }

        def change(session: Session, incident: Incident, now: datetime) -> str:
            _refuse_closed(incident)
            assert incident.id is not None
            written = postmortem_of(session, incident.id)
            op = "written" if written is None else "edited"
            if written is None:
                written = Postmortem(incident_id=incident.id, written_by=actor, written_at=now)
                session.add(written)
            for field_id, text in cleaned.items():
                setattr(written, field_id, text)
            written.written_by, written.written_at = actor, now
            write_entry(session, incident, TimelineKind.POSTMORTEM, now, actor, data={"op": op})
            version = self._owe_export(session, incident, written, actor=actor, now=now)
            return (
                f"Postmortem of {incident_key(incident.number)} saved: "
                f"version {version} of the document is being shared in its channel"
            )

        return await self._lifecycle.apply(ref, change, action="postmortem", actor=actor)

    async def export(self, ref: IncidentRef, *, actor: str) -> Outcome:
        """Share the document again, as a new version (nothing is replaced)."""

        def change(session: Session, incident: Incident, now: datetime) -> str:
            key = incident_key(incident.number)
            written = postmortem_of(session, incident.id or 0)
            if written is None:
                raise UserError(
                    f"{key} has no postmortem yet: write it with `/incident postmortem` "
                    f"(`warroom postmortem {key}` prints the draft)"
                )
            version = self._owe_export(session, incident, written, actor=actor, now=now)
            return f"Version {version} of {key}'s postmortem is being shared in its channel"

        return await self._lifecycle.apply(ref, change, action="postmortem", actor=actor)

    async def close(self, ref: IncidentRef, *, actor: str) -> Outcome:
        """The postmortem complete: Resolved → Closed, and no more follow-through."""

        def change(session: Session, incident: Incident, now: datetime) -> str:
            key = incident_key(incident.number)
            if incident.status is Status.CLOSED:
                raise UserError(f"{key} is already closed")
            if incident.status is not Status.RESOLVED:
                raise UserError(
                    f"{key} is {incident.status.label}: resolve it first, then close it "
                    "once its postmortem is complete"
                )
            old, incident.status = incident.status, move(incident, Status.CLOSED)
            incident.closed_at = now
            write_entry(
                session,
                incident,
                TimelineKind.STATUS_CHANGED,
                now,
                actor,
                data={"old": old.label, "new": Status.CLOSED.label},
            )
            written = postmortem_of(session, incident.id or 0)
            if written is None:
                return f"{key} closed, without a postmortem"
            written.completed_at, written.completed_by = now, actor
            write_entry(
                session, incident, TimelineKind.POSTMORTEM, now, actor, data={"op": "completed"}
            )
            return f"{key} closed: its postmortem is complete"

        return await self._lifecycle.apply(ref, change, action="close", actor=actor)

    def _owe_export(
        self,
        session: Session,
        incident: Incident,
        written: Postmortem,
        *,
        actor: str,
        now: datetime,
    ) -> int:
        """The next version's upload, and the Confluence page's refresh (one pending
        refresh renders whatever is stored when it runs, so one is enough)."""
        assert incident.id is not None
        written.exports += 1
        owed: list[tuple[DeliveryKind, dict[str, object]]] = [
            (DeliveryKind.EXPORT_POSTMORTEM, {"version": written.exports, "by": actor})
        ]
        if self._policy.postmortem.confluence is not None and not refreshes_waiting(
            session, incident.id, (DeliveryKind.PUBLISH_POSTMORTEM,)
        ):
            owed.append((DeliveryKind.PUBLISH_POSTMORTEM, {"by": actor}))
        session.flush()
        enqueue(session, incident_id=incident.id, owed=owed, now=now)
        return written.exports
