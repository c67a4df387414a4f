"""The use cases. Each commits its change, its timeline entry and the chat effects it owes
in one transaction, then wakes the delivery worker; chat never comes first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.channel_names import build_channel_name
from bot.clock import Clock
from bot.incident import Status
from bot.markdown import single_line
from bot.models import Incident, IncidentCounter, TimelineKind
from bot.outbox import DeliveryKind, enqueue
from bot.policy import Policy
from bot.storage import Database
from bot.timeline import new_entry

MAX_TITLE_LENGTH = 200


class InvalidRequest(ValueError):
    """Input a person can fix; the message says how."""


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
            raise InvalidRequest("the incident needs a title")
        if len(title) > MAX_TITLE_LENGTH:
            raise InvalidRequest(
                f"the title is {len(title)} characters; keep it under {MAX_TITLE_LENGTH}"
            )
        now = self._clock()
        async with self._db.session() as session:
            number = await _next_number(session)
            incident = Incident(
                number=number,
                title=title,
                severity=level.name,
                impact=single_line(declaration.impact),
                status=Status.INVESTIGATING,
                private=declaration.private,
                declared_by=declaration.declared_by,
                declared_in=declaration.declared_in,
                started_at=now,
                next_update_at=now + level.update_every if level.update_every else None,
            )
            session.add(incident)
            await session.flush()
            assert incident.id is not None
            session.add(
                new_entry(
                    incident_id=incident.id,
                    kind=TimelineKind.DECLARED,
                    at=now,
                    actor=declaration.declared_by,
                    data={"severity": level.name, "private": declaration.private},
                )
            )
            channel_name = self.channel_name_for(number=number, title=title, severity=level.name)
            owed: list[tuple[DeliveryKind, dict[str, object]]] = [
                (DeliveryKind.OPEN_CHANNEL, {"name": channel_name}),
                (DeliveryKind.INVITE, {"users": [declaration.declared_by]}),
                (DeliveryKind.POST_CARD, {}),
                (DeliveryKind.PIN_CARD, {}),
            ]
            if self._announce_channel and not declaration.private:
                owed.append((DeliveryKind.ANNOUNCE, {"channel": self._announce_channel}))
            for kind, payload in owed:
                enqueue(session, incident_id=incident.id, kind=kind, payload=payload, now=now)
            await session.commit()
        self._on_commit()
        return incident


async def _next_number(session: AsyncSession) -> int:
    """Hand out the next incident number.

    The counter row is locked by the UPDATE until this transaction ends, so concurrent
    declarations (and several processes on Postgres) queue for it instead of racing; a
    transaction that rolls back returns its number, and gaps are harmless anyway.
    """
    statement = (
        update(IncidentCounter)
        .where(col(IncidentCounter.scope) == "incident")
        .values(last_number=col(IncidentCounter.last_number) + 1)
        .returning(col(IncidentCounter.last_number))
    )
    number = (await session.execute(statement)).scalar_one_or_none()
    if number is None:  # a database created without the migration's seed row
        session.add(IncidentCounter(scope="incident", last_number=1))
        await session.flush()
        return 1
    return int(number)
