"""What alerts owe the chat platform: the incident's alert digest, and triage cards.

Both read the stored state when they run, like every effect: a digest covers every alert
change recorded since the last one (however many deliveries brought them), and a triage
card shows its group as it is now.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col

from bot.alerts.messages import alert_digest, triage_card
from bot.alerts.silences import can_silence
from bot.alerts.store import IncidentAlerts, group_alerts, incident_alerts
from bot.chat.port import ChatPlatform, Message
from bot.delivery.effects import ChatEffects
from bot.delivery.outbox import DeliveryKind, Effect, Landed
from bot.delivery.writes import saving
from bot.errors import DeliveryError
from bot.policy.schema import Policy
from bot.storage.database import Database
from bot.storage.models import AlertGroup, Delivery, Incident, TimelineEntry, TimelineKind
from bot.text.markdown import actor_ref, alert_actor
from bot.text.templates import Renderer

_ALERT_GROUP = SQLModel.metadata.tables["alert_group"]


class AlertEffects:
    def __init__(
        self,
        *,
        db: Database,
        chat: ChatPlatform,
        effects: ChatEffects,
        policy: Policy,
        renderer: Renderer,
    ) -> None:
        self._db = db
        self._chat = chat
        self._effects = effects
        self._policy = policy
        self._renderer = renderer

    def registry(self) -> Mapping[str, Effect]:
        return {
            DeliveryKind.POST_ALERT_DIGEST.value: self.post_digest,
            DeliveryKind.POST_TRIAGE.value: self.post_triage,
            DeliveryKind.UPDATE_TRIAGE.value: self.update_triage,
        }

    # the digest ---------------------------------------------------------------------------

    async def post_digest(self, delivery: Delivery) -> Landed | None:
        incident_id = delivery.incident_id
        if incident_id is None:
            raise DeliveryError("incident_missing", retryable=False)

        def load(
            session: Session,
        ) -> tuple[Incident | None, list[TimelineEntry], IncidentAlerts | None]:
            incident = session.get(Incident, incident_id)
            if incident is None:
                return None, [], None
            entries = session.scalars(
                select(TimelineEntry)
                .where(
                    col(TimelineEntry.incident_id) == incident_id,
                    col(TimelineEntry.kind) == TimelineKind.ALERT,
                    col(TimelineEntry.id) > incident.alert_digest_through,
                )
                .order_by(col(TimelineEntry.id))
            )
            return incident, list(entries), incident_alerts(session, incident_id)

        incident, entries, alerts = await self._db.transaction(load)
        if incident is None:
            raise DeliveryError("incident_missing", retryable=False, detail=str(incident_id))
        if not entries or alerts is None:
            return None
        through = entries[-1].id or 0
        told = [entry for entry in entries if not entry.data.get("opened")]
        # A resolved incident's all-clear says it all; its timeline keeps the alerts.
        if told and incident.status.is_open:
            if incident.channel_id is None:
                raise DeliveryError("channel_not_open_yet")
            message = alert_digest(
                incident,
                told,
                alerts,
                renderer=self._renderer,
                silenceable=can_silence(self._policy, alerts),
                through=through,
            )
            await self._effects.post_once(incident.channel_id, message, delivery)
        return saving(incident_id, alert_digest_through=through)

    # triage cards -------------------------------------------------------------------------

    async def _triage_data(
        self, delivery: Delivery
    ) -> tuple[AlertGroup, IncidentAlerts, Incident | None]:
        group_id = int(delivery.payload.get("group") or 0)

        def load(session: Session) -> tuple[AlertGroup, IncidentAlerts, Incident | None] | None:
            group = session.get(AlertGroup, group_id)
            if group is None:
                return None
            incident = session.get(Incident, group.incident_id) if group.incident_id else None
            return group, group_alerts(session, group), incident

        data = await self._db.transaction(load)
        if data is None:
            raise DeliveryError("alert_group_missing", retryable=False, detail=str(group_id))
        return data

    def _card(
        self, group: AlertGroup, alerts: IncidentAlerts, incident: Incident | None
    ) -> Message:
        return triage_card(
            group,
            alerts,
            renderer=self._renderer,
            incident=incident,
            source_name=str(actor_ref(alert_actor(group.source))),
        )

    async def post_triage(self, delivery: Delivery) -> Landed | None:
        group, alerts, incident = await self._triage_data(delivery)
        if group.triage_ref is not None or group.triage_channel is None:
            return None
        ref = await self._effects.post_once(
            group.triage_channel, self._card(group, alerts, incident), delivery
        )
        group_id = group.id

        def write(session: Session) -> None:
            session.connection().execute(
                _ALERT_GROUP.update().where(_ALERT_GROUP.c.id == group_id).values(triage_ref=ref)
            )

        return write

    async def update_triage(self, delivery: Delivery) -> None:
        group, alerts, incident = await self._triage_data(delivery)
        if group.triage_channel is None:
            return
        if group.triage_ref is None:
            if group.triage_state == "open":
                raise DeliveryError("triage_card_not_posted_yet")
            return  # declared or ignored before its card was posted: nothing to edit
        await self._chat.update(
            channel_id=group.triage_channel,
            message_ref=group.triage_ref,
            message=self._card(group, alerts, incident),
        )
