"""What each delivery does on the chat platform. Every effect is idempotent: it reads the
incident's stored state first, so a retry after a partial success does not repeat it.

What an effect learns (the channel it opened, the card it posted) is returned as a
`Landed` write, stored by the worker in the transaction that marks the delivery done: one
transaction per delivery after its call instead of two.

A call can also fail without saying whether it took effect (`OutcomeUnknown`: a timeout,
a connection lost after the request went out, a 5xx), and the platform may still carry it
out after we gave up on it (Slack applies a slow call late, after the retry even). Blind
retries would then open a second channel or post a second card, so every effect that is
not idempotent on the platform reconciles first:

- A channel is opened under names fixed by the incident, adopting one an earlier attempt
  opened (bot/delivery/channels.py).
- A post carries a marker. A retry first looks for the copy an earlier attempt delivered
  and adopts it. An attempt whose outcome is unknown also owes a recheck (a delivery of
  its own, due when a late copy would have landed) that deletes every copy but the one
  recorded, so a late duplicate with live buttons does not stay.
- An edit whose outcome is unknown owes a recheck that makes it again from the stored
  state, so a late, older edit does not stay on the card.
- Invitations, pins and deletions are idempotent on the platform already.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col

from bot.alerts.messages import on_card, silenced_line
from bot.alerts.silences import can_silence
from bot.alerts.store import IncidentAlerts, incident_alerts
from bot.chat.port import ChatPlatform, Message, OutcomeUnknown
from bot.clock import Clock, utc_now
from bot.delivery.channels import ChannelOpener
from bot.delivery.outbox import DeliveryKind, Effect, Landed
from bot.delivery.pacing import ChannelPacer
from bot.delivery.rechecks import (
    KEEP_ANNOUNCEMENT,
    KEEP_CARD,
    KEEP_FIRST,
    owe_recheck,
    settle_time,
    sweep_copies,
)
from bot.delivery.writes import saving
from bot.errors import DeliveryError
from bot.incidents.cards import all_clear, announcement, channel_ready, incident_card
from bot.incidents.members import roles_of
from bot.incidents.timeline import entries_of
from bot.policy.schema import Policy
from bot.storage.database import Database
from bot.storage.models import (
    Delivery,
    Incident,
    IncidentRole,
    TimelineEntry,
)
from bot.text.templates import Renderer

log = logging.getLogger(__name__)

_CardData = tuple[Incident, list[TimelineEntry], list[IncidentRole], IncidentAlerts | None]
_INCIDENT = SQLModel.metadata.tables["incident"]


class ChatEffects:
    def __init__(
        self,
        *,
        db: Database,
        chat: ChatPlatform,
        policy: Policy,
        renderer: Renderer,
        clock: Clock = utc_now,
        pacer: ChannelPacer | None = None,
    ) -> None:
        self._clock = clock
        self._pacer = pacer or ChannelPacer()
        self._channels = ChannelOpener(db=db, chat=chat, policy=policy)
        self._db = db
        self._chat = chat
        self._policy = policy
        self._renderer = renderer

    def registry(self) -> Mapping[str, Effect]:
        return {
            DeliveryKind.OPEN_CHANNEL.value: self._channels.open_channel,
            DeliveryKind.INVITE.value: self.invite,
            DeliveryKind.POST_CARD.value: self.post_card,
            DeliveryKind.PIN_CARD.value: self.pin_card,
            DeliveryKind.ANNOUNCE.value: self.announce,
            DeliveryKind.UPDATE_CARD.value: self.update_card,
            DeliveryKind.UPDATE_ANNOUNCEMENT.value: self.update_announcement,
            DeliveryKind.POST_ALL_CLEAR.value: self.post_all_clear,
            DeliveryKind.POST_MESSAGE.value: self.post_message,
            DeliveryKind.INVITE_GROUPS.value: self.invite_groups,
            DeliveryKind.RECHECK.value: self.recheck,
        }

    # reading the incident ---------------------------------------------------------------

    async def _incident(self, incident_id: int | None) -> Incident:
        if incident_id is None:
            raise DeliveryError("incident_missing", retryable=False, detail="none named")
        incident = await self._db.transaction(lambda session: session.get(Incident, incident_id))
        if incident is None:
            raise DeliveryError("incident_missing", retryable=False, detail=str(incident_id))
        return incident

    async def _card_data(self, incident_id: int | None) -> _CardData:
        """The incident with what its card shows, read in one transaction."""
        if incident_id is None:
            raise DeliveryError("incident_missing", retryable=False, detail="none named")

        def load(session: Session) -> _CardData | None:
            incident = session.get(Incident, incident_id)
            if incident is None:
                return None
            return (
                incident,
                entries_of(session, incident_id),
                roles_of(session, incident_id),
                incident_alerts(session, incident_id),
            )

        data = await self._db.transaction(load)
        if data is None:
            raise DeliveryError("incident_missing", retryable=False, detail=str(incident_id))
        return data

    async def current_card(self, number: int) -> Message | None:
        """The card of incident `number` as stored now (a platform that answers a button
        with the refreshed card, as Teams does); None if there is no such incident.
        Only for someone whose press was just accepted: it checks nobody's access."""
        incident_id = await self._db.transaction(
            lambda session: session.scalar(
                select(col(Incident.id)).where(col(Incident.number) == number)
            )
        )
        return self._card(await self._card_data(incident_id)) if incident_id is not None else None

    def _card(self, data: _CardData) -> Message:
        incident, entries, roles, alerts = data
        now = self._clock()
        return incident_card(
            incident,
            entries,
            roles=roles,
            policy=self._policy,
            renderer=self._renderer,
            now=now,
            alerts=on_card(alerts, silenced=silenced_line(entries, now=now)) if alerts else None,
            silenceable=alerts is not None and can_silence(self._policy, alerts),
        )

    @staticmethod
    def _channel_of(incident: Incident) -> str:
        if incident.channel_id is None:
            raise DeliveryError("channel_not_open_yet")
        return incident.channel_id

    # people -----------------------------------------------------------------------------

    async def invite(self, delivery: Delivery) -> None:
        incident = await self._incident(delivery.incident_id)
        users = [str(user) for user in delivery.payload.get("users", [])]
        if not users:
            return
        channel_id = self._channel_of(incident)
        await self._chat.invite(channel_id=channel_id, user_ids=users)
        if incident.declared_by in users and await self._declarations_invite(delivery):
            await self._tell_declarer(incident, channel_id, delivery)

    async def _declarations_invite(self, delivery: Delivery) -> bool:
        """Whether this is the declaration's invitation: the incident's first. Asked
        after the call, which then goes out as fast as any other invitation."""

        def first(session: Session) -> bool:
            earliest = session.scalar(
                select(func.min(col(Delivery.id))).where(
                    col(Delivery.incident_id) == delivery.incident_id,
                    col(Delivery.kind) == DeliveryKind.INVITE.value,
                )
            )
            return bool(earliest == delivery.id)

        return await self._db.transaction(first)

    async def _tell_declarer(self, incident: Incident, channel_id: str, delivery: Delivery) -> None:
        """The declarer was told "opening its channel" when they declared; now it is open
        and they are in it, point them to it where they declared. Sent after their
        invitation, in the same delivery, so it is sent once they can open the channel."""
        if incident.declared_in is None or incident.declared_in == channel_id:
            return  # nowhere else to say it: the channel itself is where they are
        try:
            # A private note may become a direct message: paced per person like a channel,
            # the turn held until Slack answered (a note slow to leave a busy process
            # must not arrive just before the next one).
            done = await self._pacer.take_turn(
                f"person:{incident.declared_by}", key=f"delivery:{delivery.id}"
            )
            try:
                await self._chat.reply_privately(
                    channel_id=incident.declared_in,
                    user_id=incident.declared_by,
                    message=channel_ready(incident, renderer=self._renderer),
                )
            finally:
                done()
        except OutcomeUnknown as error:
            # Likely delivered; a private note cannot be looked up, and a second one is
            # worse than none: the channel is in their sidebar since the invitation.
            log.warning("pointing the declarer to %s may have failed: %s", channel_id, error)
        except DeliveryError as error:
            if error.retryable:
                raise  # the invitation is idempotent: both are tried again
            log.warning("cannot point the declarer to %s: %s", channel_id, error)

    async def invite_groups(self, delivery: Delivery) -> None:
        incident = await self._incident(delivery.incident_id)
        users: list[str] = []
        for group in delivery.payload.get("groups", []):
            users += await self._chat.group_members(group_id=str(group))
        if users:
            await self._chat.invite(
                channel_id=self._channel_of(incident), user_ids=sorted(set(users))
            )

    # messages ---------------------------------------------------------------------------

    async def post_card(self, delivery: Delivery) -> Landed | None:
        data = await self._card_data(delivery.incident_id)
        incident = data[0]
        if incident.card_ref is not None:
            return None
        channel_id = self._channel_of(incident)
        ref = await self.post_once(channel_id, self._card(data), delivery, keep=KEEP_CARD)
        return saving(incident.id or 0, card_ref=ref)

    async def update_card(self, delivery: Delivery) -> None:
        """Edit the pinned card in place from the incident as stored now."""
        data = await self._card_data(delivery.incident_id)
        incident = data[0]
        if incident.card_ref is None:
            raise DeliveryError("card_not_posted_yet")
        await self.edit(
            incident, self._channel_of(incident), incident.card_ref, self._card(data), KEEP_CARD
        )

    async def post_all_clear(self, delivery: Delivery) -> None:
        incident = await self._incident(delivery.incident_id)
        message = all_clear(incident, renderer=self._renderer, policy=self._policy)
        await self.post_once(self._channel_of(incident), message, delivery, keep=KEEP_FIRST)

    async def post_message(self, delivery: Delivery) -> None:
        incident = await self._incident(delivery.incident_id)
        message = Message(
            markdown=str(delivery.payload["markdown"]),
            fallback=str(delivery.payload.get("fallback", "")),
            marker=f"delivery:{delivery.id}",
        )
        await self.post_once(self._channel_of(incident), message, delivery, keep=KEEP_FIRST)

    async def pin_card(self, delivery: Delivery) -> None:
        incident = await self._incident(delivery.incident_id)
        if incident.card_ref is None:
            raise DeliveryError("card_not_posted_yet")
        await self._chat.pin(channel_id=self._channel_of(incident), message_ref=incident.card_ref)

    async def announce(self, delivery: Delivery) -> Landed | None:
        incident = await self._incident(delivery.incident_id)
        if incident.announcement_ref is not None:
            return None
        target = str(delivery.payload["channel"])
        self._channel_of(incident)  # the announcement links to the channel: it must exist
        message = announcement(incident, renderer=self._renderer)
        ref = await self.post_once(target, message, delivery, keep=KEEP_ANNOUNCEMENT)
        return saving(incident.id or 0, announced_in=target, announcement_ref=ref)

    async def update_announcement(self, delivery: Delivery) -> None:
        """Edit the announcement in place as the incident moves: one message per incident
        in the announce channel, never a second."""
        incident = await self._incident(delivery.incident_id)
        if incident.announcement_ref is None or incident.announced_in is None:
            return  # never announced: private, no announce channel, or refused
        message = announcement(incident, renderer=self._renderer)
        await self.edit(
            incident, incident.announced_in, incident.announcement_ref, message, KEEP_ANNOUNCEMENT
        )

    async def post_once(
        self, channel_id: str, message: Message, delivery: Delivery, *, keep: str = KEEP_FIRST
    ) -> str:
        """Post, unless an earlier attempt of this delivery already did; the message's ref.

        An unknown outcome that was not a timeout is tried once more at once (what
        slack_sdk's own retry used to do blindly), after looking for what the first call
        may have posted."""
        try:
            return await self._post_looking(
                channel_id, message, delivery, keep=keep, look=delivery.attempts > 1
            )
        except OutcomeUnknown as error:
            if error.timed_out or message.marker is None:
                raise
            log.info("no clear answer posting %s (%s): looking, then again", message.marker, error)
            return await self._post_looking(channel_id, message, delivery, keep=keep, look=True)

    async def _post_looking(
        self, channel_id: str, message: Message, delivery: Delivery, *, keep: str, look: bool
    ) -> str:
        """One post, `look`ing first for a copy an earlier call delivered. An unknown
        outcome owes a sweep for when a late copy would have landed."""
        if look and message.marker is not None:
            found = await self._find_marked(channel_id, message.marker, message.thread_ref)
            if found is not None:
                return found
        done = await self._pacer.take_turn(channel_id, key=f"delivery:{delivery.id}")
        started = self._clock()
        try:
            return await self._chat.post(channel_id=channel_id, message=message)
        except OutcomeUnknown:
            if message.marker is not None:
                sweep: dict[str, Any] = {
                    "sweep": message.marker,
                    "channel": channel_id,
                    "keep": keep,
                    "after": delivery.id,  # the post: the sweep waits until it settled
                }
                if message.thread_ref:
                    sweep["thread"] = message.thread_ref
                await self._recheck_later(delivery.incident_id, sweep, started)
            raise
        finally:
            done()

    async def turn_in(self, channel_id: str, delivery: Delivery) -> Callable[[], None]:
        """This delivery's turn to add something to the channel (one thing a second, as
        Slack asks): `NotNow` if it must wait; call what it returns once done."""
        return await self._pacer.take_turn(channel_id, key=f"delivery:{delivery.id}")

    async def edit(
        self, incident: Incident, channel_id: str, ref: str, message: Message, what: str
    ) -> None:
        """Edit a message in place. An unknown outcome owes the same edit again later, from
        the state stored then: a late, older edit must not be the one that stays."""
        started = self._clock()
        try:
            await self._chat.update(channel_id=channel_id, message_ref=ref, message=message)
        except OutcomeUnknown:
            await self._recheck_later(incident.id or 0, {"refresh": what}, started)
            raise

    async def _recheck_later(
        self, incident_id: int | None, payload: Mapping[str, Any], started: datetime
    ) -> None:
        now = self._clock()
        due = now + settle_time(now - started)
        try:
            await self._db.transaction(
                lambda session: owe_recheck(
                    session, incident_id=incident_id, payload=payload, due=due, now=now
                )
            )
        except Exception:  # the retry still reconciles; only a late duplicate may stay
            log.exception("could not owe a recheck of %s for incident %s", payload, incident_id)

    async def _find_marked(
        self, channel_id: str, marker: str, thread_ref: str | None = None
    ) -> str | None:
        try:
            return await self._chat.find_marked(
                channel_id=channel_id, marker=marker, thread_ref=thread_ref
            )
        except DeliveryError as error:
            # Not being able to look is no reason to withhold the message: a rare
            # duplicate beats a lost card.
            log.warning("could not look for %s in %s: %s", marker, channel_id, error)
            return None

    # rechecks ---------------------------------------------------------------------------

    async def recheck(self, delivery: Delivery) -> None:
        """A later look after an unknown outcome: delete late duplicates of a post, or make
        an edit again from the stored state."""
        payload = delivery.payload
        if "sweep" in payload:
            await sweep_copies(
                self._db,
                self._chat,
                delivery.incident_id,
                channel_id=str(payload["channel"]),
                marker=str(payload["sweep"]),
                keep=str(payload.get("keep", KEEP_FIRST)),
                after=int(payload.get("after") or 0),
                thread_ref=str(payload["thread"]) if payload.get("thread") else None,
            )
        elif payload.get("refresh") == KEEP_CARD:
            data = await self._card_data(delivery.incident_id)
            incident = data[0]
            if incident.card_ref is not None and incident.channel_id is not None:
                await self._chat.update(
                    channel_id=incident.channel_id,
                    message_ref=incident.card_ref,
                    message=self._card(data),
                )
        elif payload.get("refresh") == KEEP_ANNOUNCEMENT:
            incident = await self._incident(delivery.incident_id)
            if incident.announcement_ref is not None and incident.announced_in is not None:
                await self._chat.update(
                    channel_id=incident.announced_in,
                    message_ref=incident.announcement_ref,
                    message=announcement(incident, renderer=self._renderer),
                )
        else:
            raise DeliveryError("unknown_recheck", retryable=False, detail=repr(payload))
