"""The gauges read from the database at scrape time: open incidents and the outbox.

Read from the stored state, not counted in memory, so that every replica reports the same
truth and a restart loses nothing. A read that fails (or takes too long) still lets the
scrape answer: `warroom_database_read_ok` says 0 and the stored gauges are left out, rather
than reporting zeros that look like good news.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.clock import Clock
from bot.incidents.status import Status
from bot.storage.database import Database
from bot.storage.models import Delivery, DeliveryState, Incident

log = logging.getLogger(__name__)

# Well inside Prometheus' default scrape timeout (10 s).
READ_TIMEOUT_SECONDS = 5.0
_OPEN = [status for status in Status if status.is_open]
_OPEN_BY_SEVERITY = (
    select(col(Incident.severity), func.count())
    .where(col(Incident.status).in_(_OPEN))
    .group_by(col(Incident.severity))
)
_PENDING = select(func.count(), func.min(col(Delivery.created_at))).where(
    col(Delivery.state) == DeliveryState.PENDING
)
_FAILED = (
    select(func.count()).select_from(Delivery).where(col(Delivery.state) == DeliveryState.FAILED)
)


@dataclass(frozen=True)
class StoredState:
    open_by_severity: dict[str, int]
    pending: int
    oldest_pending_at: datetime | None
    failed: int


def read_stored_state(session: Session) -> StoredState:
    rows = session.execute(_OPEN_BY_SEVERITY)
    open_by_severity = {str(severity): int(count) for severity, count in rows}
    pending, oldest = session.execute(_PENDING).one()
    return StoredState(
        open_by_severity=open_by_severity,
        pending=int(pending or 0),
        oldest_pending_at=oldest,
        failed=int(session.scalar(_FAILED) or 0),
    )


async def read_stored(db: Database, *, within: float = READ_TIMEOUT_SECONDS) -> StoredState | None:
    """The stored state now; None if the database cannot say `within` seconds."""
    try:
        # Urgent: the scrape has a deadline of its own, and the read is one short query.
        async with asyncio.timeout(within):
            return await db.transaction(read_stored_state, urgent=True)
    except Exception as error:
        log.warning("metrics: the database could not be read: %s", type(error).__name__)
        return None


class StoredGauges:
    """A collector for one scrape, over the state read for it (None: the read failed)."""

    def __init__(
        self, state: StoredState | None, *, severities: Sequence[str], clock: Clock
    ) -> None:
        self._state, self._severities, self._now = state, severities, clock()

    def collect(self) -> Iterator[Metric]:
        read_ok = GaugeMetricFamily(
            "warroom_database_read_ok",
            "1 when this scrape read the stored gauges (open incidents, outbox) from the "
            "database; 0 when it could not, and they are left out",
            value=0 if self._state is None else 1,
        )
        yield read_ok
        if self._state is None:
            return
        state = self._state
        open_incidents = GaugeMetricFamily(
            "warroom_open_incidents",
            "Incidents Investigating or Mitigating, by severity (read from the database)",
            labels=["severity"],
        )
        for severity, count in _every_severity(self._severities, state.open_by_severity):
            open_incidents.add_metric([severity], count)
        yield open_incidents
        yield GaugeMetricFamily(
            "warroom_outbox_pending",
            "Deliveries (chat effects, pages) owed and not yet landed",
            value=state.pending,
        )
        oldest = state.oldest_pending_at
        yield GaugeMetricFamily(
            "warroom_outbox_oldest_pending_age_seconds",
            "Age of the oldest delivery still owed (0 when none is)",
            value=max((self._now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        )
        yield GaugeMetricFamily(
            "warroom_outbox_failed",
            "Deliveries the receiver refused for good (each noted on its incident's timeline)",
            value=state.failed,
        )


def _every_severity(known: Iterable[str], found: dict[str, int]) -> Iterator[tuple[str, int]]:
    """The policy's severities (0 when none is open), then any other still stored (an
    incident of a severity the policy no longer has)."""
    seen = set()
    for severity in known:
        seen.add(severity)
        yield severity, found.get(severity, 0)
    for severity, count in sorted(found.items()):
        if severity not in seen:
            yield severity, count
