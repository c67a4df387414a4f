"""The use cases. Each commits its change, its timeline entry and the chat effects it owes
in one transaction, then wakes the delivery worker; chat never comes first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.chat.slack.channel_names import build_channel_name
from bot.clock import Clock
from bot.delivery.outbox import DeliveryKind, enqueue
from bot.errors import UserError
from bot.incidents.escalation import next_escalation_due
from bot.incidents.members import add_member
from bot.incidents.status import Status
from bot.incidents.timeline import record
from bot.policy.schema import Policy
from bot.storage.database import Database, next_incident_number
from bot.storage.models import Incident, TimelineKind, insert_incident
from bot.text.markdown import single_line

MAX_TITLE_LENGTH = 200


@dataclass(frozen=True)
class Declaration:
    title: str
    severity: str
    declared_by: str
    declared_in: str | None = None
    private: bool = False
    impact: str = ""


class IncidentService:
    def __init__(
        self,
        *,
        db: Database,
        policy: Policy,
        clock: Clock,
        announce_channel: str | None = None,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._policy = policy
        self._clock = clock
        self._announce_channel = announce_channel or policy.announce_channel
        self._on_commit = on_commit

    @property
    def policy(self) -> Policy:
        return self._policy

    def channel_name_for(self, *, number: int, title: str, severity: str) -> str:
        return build_channel_name(
            self._policy.channel_name, number=number, title=title, severity=severity
        )

    async def declare(self, declaration: Declaration) -> Incident:
        """Open an incident: stored with its `declared` entry and its chat set-up queued."""
        level = self._policy.severity(declaration.severity)
        title = single_line(declaration.title)
        if not title:
            raise UserError("the incident needs a title")
        if len(title) > MAX_TITLE_LENGTH:
            raise UserError(
                f"the title is {len(title)} characters; keep it under {MAX_TITLE_LENGTH}"
            )
        now = self._clock()

        first_escalation = next_escalation_due(
            Incident(
                number=0,
                title=title,
                severity=level.name,
                status=Status.INVESTIGATING,
                declared_by=declaration.declared_by,
                started_at=now,
            ),
            self._policy,
        )

        def store(session: Session) -> Incident:
            incident = insert_incident(
                session,
                number=next_incident_number(session),
                title=title,
                severity=level.name,
                impact=single_line(declaration.impact),
                status=Status.INVESTIGATING,
                private=declaration.private,
                declared_by=declaration.declared_by,
                declared_in=declaration.declared_in,
                started_at=now,
                next_update_at=now + level.update_every if level.update_every else None,
                next_escalation_at=first_escalation,
            )
            assert incident.id is not None
            add_member(session, incident_id=incident.id, user_id=declaration.declared_by, now=now)
            record(
                session,
                incident_id=incident.id,
                kind=TimelineKind.DECLARED,
                at=now,
                actor=declaration.declared_by,
                data={"severity": level.name, "private": declaration.private},
            )
            name = self.channel_name_for(number=incident.number, title=title, severity=level.name)
            owed: list[tuple[DeliveryKind, dict[str, object]]] = [
                (DeliveryKind.OPEN_CHANNEL, {"name": name}),
                (DeliveryKind.INVITE, {"users": [declaration.declared_by]}),
                (DeliveryKind.POST_CARD, {}),
                (DeliveryKind.PIN_CARD, {}),
            ]
            if self._announce_channel and not declaration.private:
                owed.append((DeliveryKind.ANNOUNCE, {"channel": self._announce_channel}))
            enqueue(session, incident_id=incident.id, owed=owed, now=now)
            return incident

        # Urgent: someone is waiting for the answer, ahead of background deliveries.
        incident = await self._db.transaction(store, urgent=True)
        self._on_commit()
        return incident
