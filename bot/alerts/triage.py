"""An alert routed to `notify`, decided on from its triage card: Declare incident (the
group is linked to the new incident, its alerts on the timeline) or Ignore."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.alerts import store
from bot.clock import Clock
from bot.delivery.outbox import DeliveryKind, claiming, enqueue
from bot.errors import UserError
from bot.incidents.declare import Declaration, IncidentService
from bot.incidents.status import incident_key
from bot.incidents.timeline import record_entries
from bot.storage.database import Database
from bot.storage.models import Alert, AlertGroup, Delivery, Incident
from bot.text.markdown import escape_markdown, user_ref


class AlertTriage:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        service: IncidentService,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._service = service
        self._on_commit = on_commit

    async def declare(self, group_id: int, *, actor: str, channel_id: str | None) -> str:
        now = self._clock()

        def work(session: Session) -> tuple[str, list[Delivery]]:
            with claiming(session, self._service.handoff, now=now) as claim:
                group = _undecided(session, group_id)
                routes = self._service.policy.alerts.routes
                route = routes[group.route_index] if 0 <= group.route_index < len(routes) else None
                incident = self._service.open_in(
                    session,
                    Declaration(
                        title=group.title,
                        severity=group.severity,
                        declared_by=actor,
                        declared_in=channel_id,
                        source=group.source,
                        runbook=route.runbook if route else None,
                        auto_run=route.auto_run if route else False,
                    ),
                    now=now,
                )
                group.incident_id = incident.id
                group.triage_state, group.triaged_by = "declared", actor
                _copy_alerts(session, group, incident, now=now)
                _owe_card_edit(session, group, now=now)
                summary = (
                    f"Declaring {incident_key(incident.number)} ({incident.severity}) "
                    f"{escape_markdown(incident.title)}: opening its channel and inviting you; "
                    "the alert is linked to it."
                )
            return summary, claim.claimed

        summary, claimed = await self._db.transaction(work, urgent=True)
        self._service.after_commit(claimed)
        self._on_commit()
        return summary

    async def ignore(self, group_id: int, *, actor: str) -> str:
        now = self._clock()

        def work(session: Session) -> str:
            group = _undecided(session, group_id)
            group.triage_state, group.triaged_by = "ignored", actor
            _owe_card_edit(session, group, now=now)
            return f"Ignored: {escape_markdown(group.title)}. It posts again if it fires anew."

        summary = await self._db.transaction(work, urgent=True)
        self._on_commit()
        return summary


def _undecided(session: Session, group_id: int) -> AlertGroup:
    """The group, locked, if nobody has decided on it yet."""
    group = session.get(AlertGroup, group_id, with_for_update=True)
    if group is None or group.action != "notify":
        raise UserError("that alert is not known here any more")
    if group.incident_id is not None:
        incident = session.get(Incident, group.incident_id)
        key = incident_key(incident.number) if incident is not None else "an incident"
        raise UserError(f"that alert is already part of {key}")
    if group.triage_state == "ignored":
        by = user_ref(group.triaged_by) if group.triaged_by else "someone"
        raise UserError(f"that alert was ignored by {by}")
    return group


def _copy_alerts(session: Session, group: AlertGroup, incident: Incident, *, now: datetime) -> None:
    """The group's firing alerts as the new incident's first alert entries."""
    assert incident.id is not None
    firing = session.scalars(
        select(Alert)
        .where(col(Alert.group_id) == group.id, col(Alert.status) == "firing")
        .order_by(col(Alert.id))
    )
    record_entries(
        session,
        [
            store.alert_entry(
                incident_id=incident.id,
                group=group,
                kind="firing",
                fingerprint=alert.fingerprint,
                labels=alert.labels,
                annotations=alert.annotations,
                link=alert.links[0][1] if alert.links else None,
                opened=True,
                now=now,
            )
            for alert in firing
        ],
    )


def _owe_card_edit(session: Session, group: AlertGroup, *, now: datetime) -> None:
    enqueue(
        session,
        incident_id=None,
        owed=[(DeliveryKind.UPDATE_TRIAGE, {"group": group.id})],
        now=now,
    )
