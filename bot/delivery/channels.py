"""Opening an incident's channel, also after an attempt whose answer was lost.

A channel's names are fixed by the incident: the planned name, then its alternatives in a
fixed order. Finding a name taken, an attempt asks which of those names are channels the
bot opened itself, and adopts the one opened for this incident (created by the bot, after
the declaration, no other incident's) instead of opening another. A late create of a name
that is ours already is refused by the platform: no orphan.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.chat.port import ChatPlatform, OpenedChannel, OutcomeUnknown, OwnChannel
from bot.delivery.outbox import Landed
from bot.delivery.writes import saving
from bot.errors import ChannelNameTaken, DeliveryError
from bot.policy.schema import Policy
from bot.storage.database import Database
from bot.storage.models import Delivery, Incident, TimelineEntry, TimelineKind

log = logging.getLogger(__name__)

# Names tried within one delivery before giving up for this attempt.
NAME_TRIES = 12
# A channel created this long before its incident was declared cannot be the incident's
# (a number used again after the database was reset), whatever the clocks say.
CLOCK_SKEW = timedelta(minutes=5)


class ChannelOpener:
    def __init__(self, *, db: Database, chat: ChatPlatform, policy: Policy) -> None:
        self._db = db
        self._chat = chat
        self._policy = policy

    async def _incident(self, incident_id: int | None) -> Incident:
        incident = (
            await self._db.transaction(lambda session: session.get(Incident, incident_id))
            if incident_id is not None
            else None
        )
        if incident is None:
            raise DeliveryError("incident_missing", retryable=False, detail=str(incident_id))
        return incident

    async def open_channel(self, delivery: Delivery) -> Landed | None:
        incident = await self._incident(delivery.incident_id)
        if incident.channel_id is not None:
            return None
        planned = await self._planned_name(incident)
        # Every attempt walks the same names in the same order, so it meets whatever an
        # earlier attempt (or a crashed process) may have created.
        names = [planned] + [
            self._chat.alternative_channel_name(planned, attempt)
            for attempt in range(1, NAME_TRIES)
        ]
        own: dict[str, OwnChannel] | None = None
        for name in names:
            if own is not None and name in own:
                if await self._is_ours(incident, own[name]):
                    return self._adopting(incident, own[name])
                continue  # the bot's, but another incident's
            try:
                opened = await self._create(
                    name, private=incident.private, near=incident.declared_in
                )
            except ChannelNameTaken:
                # Maybe by this incident's own earlier attempt, whose answer was lost: look
                # again at every time a name is taken, as that attempt may land meanwhile.
                own = await self._chat.own_channels(names=names)
                if name in own and await self._is_ours(incident, own[name]):
                    return self._adopting(incident, own[name])
                log.info("channel name %s is taken; trying another", name)
                continue
            return saving(incident.id or 0, channel_id=opened.id, channel_name=opened.name)
        raise DeliveryError("no_free_channel_name", detail=planned)

    async def _create(self, name: str, *, private: bool, near: str | None) -> OpenedChannel:
        """Create `name`; once more at once after an unknown outcome that was no timeout
        (what slack_sdk's own retry used to do blindly). Asking for the same name again is
        safe: if the first call created it, this one is told the name is taken, and the
        caller adopts the channel."""
        try:
            return await self._chat.open_channel(name=name, private=private, near=near)
        except OutcomeUnknown as error:
            if error.timed_out:
                raise
            log.info("no clear answer opening %s (%s): asking again", name, error)
            return await self._chat.open_channel(name=name, private=private, near=near)

    async def _planned_name(self, incident: Incident) -> str:
        severity = incident.severity
        if "{severity}" in self._policy.channel_name:
            # The name an earlier attempt used, even if the severity has changed since.
            severity = await self._declared_severity(incident) or severity
        return self._chat.channel_name(
            template=self._policy.channel_name,
            number=incident.number,
            title=incident.title,
            severity=severity,
        )

    async def _declared_severity(self, incident: Incident) -> str | None:
        def read(session: Session) -> str | None:
            entry = session.scalars(
                select(TimelineEntry).where(
                    col(TimelineEntry.incident_id) == incident.id,
                    col(TimelineEntry.kind) == TimelineKind.DECLARED,
                )
            ).first()
            return str(entry.data.get("severity")) if entry and entry.data.get("severity") else None

        return await self._db.transaction(read)

    async def _is_ours(self, incident: Incident, channel: OwnChannel) -> bool:
        """Whether a channel the bot opened was opened for this incident."""
        if channel.created_at is not None and channel.created_at < incident.started_at - CLOCK_SKEW:
            return False

        def taken(session: Session) -> bool:
            other = session.scalar(
                select(col(Incident.id)).where(
                    col(Incident.channel_id) == channel.id, col(Incident.id) != incident.id
                )
            )
            return other is not None

        return not await self._db.transaction(taken)

    def _adopting(self, incident: Incident, channel: OwnChannel) -> Landed:
        log.warning(
            "adopting #%s (%s) for incident %s: an earlier attempt opened it, its answer lost",
            channel.name, channel.id, incident.number,
        )  # fmt: skip
        return saving(incident.id or 0, channel_id=channel.id, channel_name=channel.name)
