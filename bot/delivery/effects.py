"""What each delivery does on the chat platform. Every effect is idempotent: it reads the
incident's stored state first, so a retry after a partial success does not repeat it.

What an effect learns (the channel it opened, the card it posted) is returned as a
`Landed` write, stored by the worker in the transaction that marks the delivery done: one
transaction per delivery after its call instead of two.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from bot.chat.port import ChatPlatform, Message
from bot.clock import Clock, utc_now
from bot.delivery.outbox import DeliveryKind, Effect, Landed
from bot.errors import ChannelNameTaken, DeliveryError
from bot.incidents.cards import all_clear, announcement, card_marker, incident_card
from bot.incidents.members import roles_of
from bot.incidents.timeline import entries_of
from bot.policy.schema import Policy
from bot.storage.database import Database
from bot.storage.models import Delivery, Incident, IncidentRole, TimelineEntry
from bot.text.templates import Renderer

log = logging.getLogger(__name__)

# Tries of other names within one delivery before giving up for this attempt.
NAME_TRIES = 12

_CardData = tuple[Incident, list[TimelineEntry], list[IncidentRole]]


_INCIDENT = SQLModel.metadata.tables["incident"]


def _saving(incident_id: int, **values: object) -> Landed:
    """The incident's new values, written when its delivery is recorded done (a Core
    UPDATE: the ORM's would cost several times as much, on the way to the card)."""

    def write(session: Session) -> None:
        session.connection().execute(
            _INCIDENT.update()
            .where(_INCIDENT.c.id == incident_id)
            .values(version=_INCIDENT.c.version + 1, **values)
        )

    return write


class ChatEffects:
    def __init__(
        self,
        *,
        db: Database,
        chat: ChatPlatform,
        policy: Policy,
        renderer: Renderer,
        clock: Clock = utc_now,
    ) -> None:
        self._clock = clock
        self._db = db
        self._chat = chat
        self._policy = policy
        self._renderer = renderer

    def registry(self) -> Mapping[str, Effect]:
        return {
            DeliveryKind.OPEN_CHANNEL.value: self.open_channel,
            DeliveryKind.INVITE.value: self.invite,
            DeliveryKind.POST_CARD.value: self.post_card,
            DeliveryKind.PIN_CARD.value: self.pin_card,
            DeliveryKind.ANNOUNCE.value: self.announce,
            DeliveryKind.UPDATE_CARD.value: self.update_card,
            DeliveryKind.POST_ALL_CLEAR.value: self.post_all_clear,
            DeliveryKind.POST_MESSAGE.value: self.post_message,
            DeliveryKind.INVITE_GROUPS.value: self.invite_groups,
        }

    async def _incident(self, incident_id: int) -> Incident:
        incident = await self._db.transaction(lambda session: session.get(Incident, incident_id))
        if incident is None:
            raise DeliveryError("incident_missing", retryable=False, detail=str(incident_id))
        return incident

    async def _card_data(self, incident_id: int) -> _CardData:
        """The incident with what its card shows, read in one transaction."""

        def load(session: Session) -> _CardData | None:
            incident = session.get(Incident, incident_id)
            if incident is None:
                return None
            return incident, entries_of(session, incident_id), roles_of(session, incident_id)

        data = await self._db.transaction(load)
        if data is None:
            raise DeliveryError("incident_missing", retryable=False, detail=str(incident_id))
        return data

    def _card(self, data: _CardData) -> Message:
        incident, entries, roles = data
        return incident_card(
            incident,
            entries,
            roles=roles,
            policy=self._policy,
            renderer=self._renderer,
            now=self._clock(),
        )

    @staticmethod
    def _channel_of(incident: Incident) -> str:
        if incident.channel_id is None:
            raise DeliveryError("channel_not_open_yet")
        return incident.channel_id

    async def open_channel(self, delivery: Delivery) -> Landed | None:
        incident = await self._incident(delivery.incident_id)
        if incident.channel_id is not None:
            return None
        # Named here, not when declared: the naming rules are the platform's.
        wanted = self._chat.channel_name(
            template=self._policy.channel_name,
            number=incident.number,
            title=incident.title,
            severity=incident.severity,
        )
        name = wanted
        for attempt in range(1, NAME_TRIES + 1):
            try:
                opened = await self._chat.open_channel(name=name, private=incident.private)
            except ChannelNameTaken:
                log.info("channel name %s is taken; trying another", name)
                name = self._chat.alternative_channel_name(wanted, attempt)
                continue
            return _saving(incident.id or 0, channel_id=opened.id, channel_name=opened.name)
        raise DeliveryError("no_free_channel_name", detail=wanted)

    async def invite(self, delivery: Delivery) -> None:
        incident = await self._incident(delivery.incident_id)
        users = [str(user) for user in delivery.payload.get("users", [])]
        if users:
            await self._chat.invite(channel_id=self._channel_of(incident), user_ids=users)

    async def invite_groups(self, delivery: Delivery) -> None:
        incident = await self._incident(delivery.incident_id)
        users: list[str] = []
        for group in delivery.payload.get("groups", []):
            users += await self._chat.group_members(group_id=str(group))
        if users:
            await self._chat.invite(
                channel_id=self._channel_of(incident), user_ids=sorted(set(users))
            )

    async def post_card(self, delivery: Delivery) -> Landed | None:
        data = await self._card_data(delivery.incident_id)
        incident = data[0]
        if incident.card_ref is not None:
            return None
        channel_id = self._channel_of(incident)
        # An earlier attempt may have posted before failing to hear back: look first.
        ref = None
        if delivery.attempts > 1:
            ref = await self._find_marked(channel_id, card_marker(incident))
        if ref is None:
            ref = await self._chat.post(channel_id=channel_id, message=self._card(data))
        return _saving(incident.id or 0, card_ref=ref)

    async def update_card(self, delivery: Delivery) -> None:
        """Edit the pinned card in place from the incident as stored now."""
        data = await self._card_data(delivery.incident_id)
        incident = data[0]
        if incident.card_ref is None:
            raise DeliveryError("card_not_posted_yet")
        await self._chat.update(
            channel_id=self._channel_of(incident),
            message_ref=incident.card_ref,
            message=self._card(data),
        )

    async def post_all_clear(self, delivery: Delivery) -> None:
        incident = await self._incident(delivery.incident_id)
        await self._post_once(
            self._channel_of(incident), all_clear(incident, renderer=self._renderer), delivery
        )

    async def post_message(self, delivery: Delivery) -> None:
        incident = await self._incident(delivery.incident_id)
        message = Message(
            markdown=str(delivery.payload["markdown"]),
            fallback=str(delivery.payload.get("fallback", "")),
            marker=f"delivery:{delivery.id}",
        )
        await self._post_once(self._channel_of(incident), message, delivery)

    async def pin_card(self, delivery: Delivery) -> None:
        incident = await self._incident(delivery.incident_id)
        if incident.card_ref is None:
            raise DeliveryError("card_not_posted_yet")
        await self._chat.pin(channel_id=self._channel_of(incident), message_ref=incident.card_ref)

    async def announce(self, delivery: Delivery) -> None:
        incident = await self._incident(delivery.incident_id)
        target = str(delivery.payload["channel"])
        self._channel_of(incident)  # the announcement links to the channel: it must exist
        message = announcement(incident, renderer=self._renderer)
        await self._post_once(target, message, delivery)

    async def _post_once(self, channel_id: str, message: Message, delivery: Delivery) -> None:
        """Post, unless an earlier attempt of this delivery already did."""
        already_posted = (
            delivery.attempts > 1
            and message.marker is not None
            and await self._find_marked(channel_id, message.marker) is not None
        )
        if not already_posted:
            await self._chat.post(channel_id=channel_id, message=message)

    async def _find_marked(self, channel_id: str, marker: str) -> str | None:
        try:
            return await self._chat.find_marked(channel_id=channel_id, marker=marker)
        except DeliveryError as error:
            # Not being able to look is no reason to withhold the message: a rare
            # duplicate beats a lost card.
            log.warning("could not look for %s in %s: %s", marker, channel_id, error)
            return None
