"""What the status page shows, read from the database: the components and their state,
the active public incidents and those resolved lately, each with its public updates.

It reads the status page's own tables and, of an incident, only its status, severity
and times (never its title, impact, notes, people, channel, alerts or diagnostics), and
only for incidents that were made public and are not private. What it cannot read it
cannot show.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.clock import Clock
from bot.incidents.status import Status
from bot.policy.schema import Policy
from bot.policy.status_page import (
    ComponentState,
    ImpactState,
    StatusPagePolicy,
    worst,
)
from bot.status.publishing import public_title
from bot.storage.database import Database
from bot.storage.models import Incident
from bot.storage.status_models import IncidentComponent, PublicIncident, PublicUpdate

# Of one incident, the newest public updates shown (the page stays readable).
MAX_UPDATES_SHOWN = 50
# Characters XML 1.0 cannot carry, and that mean nothing on a page: dropped from the text.
_UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_OPEN = [status for status in Status if status.is_open]
# public id, public title, incident id, status, severity, started, resolved
_Published = tuple[int, str | None, int, Status, str, datetime, datetime | None]


def showable(text: str) -> str:
    return _UNSHOWABLE.sub("", text)


def public_status(status: Status | str) -> Status:
    """How the public sees a status: Closed (the postmortem done) is Resolved to them."""
    status = Status(status)
    return Status.RESOLVED if status is Status.CLOSED else status


@dataclass(frozen=True)
class PublicUpdateView:
    id: int
    at: datetime
    status: Status
    text: str


@dataclass(frozen=True)
class PublicIncidentView:
    id: int  # the public incident's own number, not the incident's
    title: str
    status: Status
    impact: ImpactState
    components: tuple[str, ...]
    started_at: datetime
    resolved_at: datetime | None
    updates: tuple[PublicUpdateView, ...]  # newest first

    @property
    def updated_at(self) -> datetime:
        moments = [self.started_at, *(update.at for update in self.updates[:1])]
        if self.resolved_at is not None:
            moments.append(self.resolved_at)
        return max(moments)


@dataclass(frozen=True)
class ComponentView:
    name: str
    description: str
    state: ComponentState


@dataclass(frozen=True)
class StatusSnapshot:
    title: str
    generated_at: datetime
    state: ComponentState  # the worst any active public incident causes
    components: tuple[ComponentView, ...]
    active: tuple[PublicIncidentView, ...]  # newest first
    resolved: tuple[PublicIncidentView, ...]  # most recently resolved first
    resolved_days: int  # how far back `resolved` goes

    @property
    def updated_at(self) -> datetime | None:
        """When anything shown last changed (None: nothing is shown)."""
        return max((i.updated_at for i in (*self.active, *self.resolved)), default=None)

    def updates(self) -> list[tuple[PublicIncidentView, PublicUpdateView]]:
        """Every public update shown, newest first (the feed's entries)."""
        pairs = [(i, update) for i in (*self.active, *self.resolved) for update in i.updates]
        return sorted(pairs, key=lambda pair: (pair[1].at, pair[1].id), reverse=True)


def read_snapshot(
    session: Session, page: StatusPagePolicy, ladder: list[str], now: datetime
) -> StatusSnapshot:
    cutoff = now - page.show_resolved_for
    found = session.execute(
        select(
            col(PublicIncident.id),
            col(PublicIncident.title),
            col(Incident.id),
            col(Incident.status),
            col(Incident.severity),
            col(Incident.started_at),
            col(Incident.resolved_at),
        )
        .join(Incident, col(Incident.id) == col(PublicIncident.incident_id))
        .where(
            col(Incident.private).is_(False),
            or_(col(Incident.status).in_(_OPEN), col(Incident.resolved_at) >= cutoff),
        )
    )
    rows = cast(list[_Published], found.all())  # ids of stored rows are never None
    ids = [row[2] for row in rows]
    components = _components(session, ids, page)
    updates = _updates(session, ids)
    incidents = [
        PublicIncidentView(
            id=public_id,
            title=showable(public_title(title, components[incident_id])),
            status=public_status(status),
            impact=page.state_of(severity, ladder),
            components=components[incident_id],
            started_at=started_at,
            resolved_at=None if Status(status).is_open else resolved_at,
            updates=tuple(updates[incident_id]),
        )
        for public_id, title, incident_id, status, severity, started_at, resolved_at in rows
    ]
    active = sorted(
        (i for i in incidents if i.status.is_open), key=lambda i: i.started_at, reverse=True
    )
    resolved = sorted(
        (i for i in incidents if not i.status.is_open),
        key=lambda i: i.resolved_at or i.started_at,
        reverse=True,
    )
    return StatusSnapshot(
        title=showable(page.title),
        generated_at=now,
        state=worst([incident.impact for incident in active]),
        components=tuple(
            ComponentView(
                name=component.name,
                description=component.description,
                state=worst([i.impact for i in active if component.name in i.components]),
            )
            for component in page.components
        ),
        active=tuple(active),
        resolved=tuple(resolved),
        resolved_days=max(1, round(page.show_resolved_for.total_seconds() / 86400)),
    )


def _components(
    session: Session, ids: list[int], page: StatusPagePolicy
) -> defaultdict[int, tuple[str, ...]]:
    """Each incident's components still in the policy, as the policy spells them."""
    named: defaultdict[int, tuple[str, ...]] = defaultdict(tuple)
    if not ids:
        return named
    rows = session.execute(
        select(col(IncidentComponent.incident_id), col(IncidentComponent.name))
        .where(col(IncidentComponent.incident_id).in_(ids))
        .order_by(col(IncidentComponent.id))
    )
    for incident_id, name in rows:
        component = page.component(name)
        if component is not None:
            named[incident_id] += (component.name,)
    return named


def _updates(session: Session, ids: list[int]) -> defaultdict[int, list[PublicUpdateView]]:
    updates: defaultdict[int, list[PublicUpdateView]] = defaultdict(list)
    if not ids:
        return updates
    rows = session.scalars(
        select(PublicUpdate)
        .where(col(PublicUpdate.incident_id).in_(ids))
        .order_by(col(PublicUpdate.at).desc(), col(PublicUpdate.id).desc())
    )
    for row in rows:
        shown = updates[row.incident_id]
        if len(shown) < MAX_UPDATES_SHOWN and row.id is not None:
            view = PublicUpdateView(
                id=row.id, at=row.at, status=public_status(row.status), text=showable(row.text)
            )
            shown.append(view)
    return updates


class StatusBoard:
    """Reads the snapshot for each request; requests that arrive while one is being read
    share it, so a crowd refreshing the page costs the database one read at a time."""

    def __init__(self, *, db: Database, policy: Policy, clock: Clock) -> None:
        assert policy.status_page is not None
        self._db = db
        self._page = policy.status_page
        self._ladder = policy.severity_names()
        self._clock = clock
        self._reading: asyncio.Future[StatusSnapshot] | None = None

    async def snapshot(self) -> StatusSnapshot:
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read())
            self._reading.add_done_callback(self._done)
        return await asyncio.shield(self._reading)

    def _done(self, reading: asyncio.Future[StatusSnapshot]) -> None:
        if self._reading is reading:
            self._reading = None
        if not reading.cancelled():
            reading.exception()  # retrieved here too: a failure is the waiters' to report

    async def _read(self) -> StatusSnapshot:
        now = self._clock()
        return await self._db.transaction(
            lambda session: read_snapshot(session, self._page, self._ladder, now)
        )
