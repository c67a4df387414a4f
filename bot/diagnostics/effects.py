"""The chat side of a diagnostics run: its message, posted once and edited in place as the
run ends, and the full detail in the message's thread. Each renders the run as stored
when it goes out, so a message posted after the run ended already shows its results."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from bot.chat.port import ChatPlatform
from bot.delivery.effects import ChatEffects
from bot.delivery.outbox import DeliveryKind, Effect, Landed
from bot.delivery.rechecks import KEEP_FIRST
from bot.diagnostics.messages import detail_message, run_message
from bot.errors import DeliveryError
from bot.policy.diagnostics import DiagnosticsPolicy
from bot.storage.database import Database
from bot.storage.models import Delivery, DiagnosticRun, Incident
from bot.text.templates import Renderer


class DiagnosticsEffects:
    def __init__(
        self,
        *,
        db: Database,
        chat: ChatPlatform,
        effects: ChatEffects,
        policy: DiagnosticsPolicy,
        renderer: Renderer,
    ) -> None:
        self._db = db
        self._chat = chat
        self._effects = effects
        self._policy = policy
        self._renderer = renderer

    def registry(self) -> Mapping[str, Effect]:
        return {
            DeliveryKind.POST_DIAGNOSTICS.value: self.post_run,
            DeliveryKind.UPDATE_DIAGNOSTICS.value: self.update_run,
            DeliveryKind.POST_DIAGNOSTICS_DETAIL.value: self.post_detail,
        }

    async def _load(self, delivery: Delivery) -> tuple[DiagnosticRun, Incident, str]:
        run_id = int(delivery.payload["run"])

        def load(session: Session) -> tuple[DiagnosticRun | None, Incident | None]:
            run = session.get(DiagnosticRun, run_id)
            return run, session.get(Incident, run.incident_id) if run is not None else None

        run, incident = await self._db.transaction(load)
        if run is None or incident is None:
            raise DeliveryError("diagnostics_run_missing", retryable=False, detail=str(run_id))
        if incident.channel_id is None:
            raise DeliveryError("channel_not_open_yet")
        return run, incident, incident.channel_id

    async def post_run(self, delivery: Delivery) -> Landed | None:
        run, incident, channel_id = await self._load(delivery)
        if run.message_ref is not None:
            return None
        message = run_message(run, number=incident.number, renderer=self._renderer)
        ref = await self._effects.post_once(channel_id, message, delivery, keep=KEEP_FIRST)
        run_id = run.id

        def landed(session: Session) -> None:
            stored = session.get(DiagnosticRun, run_id)
            if stored is not None:
                stored.message_ref = ref

        return landed

    async def update_run(self, delivery: Delivery) -> None:
        run, incident, channel_id = await self._load(delivery)
        if run.message_ref is None:
            return  # never posted (refused for good): the detail still goes to the channel
        message = run_message(run, number=incident.number, renderer=self._renderer)
        # Only ever edited once, to the results: a retry (or a late copy of an edit whose
        # answer was lost) writes the same, so no recheck is needed.
        await self._chat.update(channel_id=channel_id, message_ref=run.message_ref, message=message)

    async def post_detail(self, delivery: Delivery) -> None:
        run, incident, channel_id = await self._load(delivery)
        message = detail_message(
            run, number=incident.number, renderer=self._renderer, policy=self._policy
        )
        await self._effects.post_once(channel_id, message, delivery, keep=KEEP_FIRST)
