"""One alert delivery applied to the stored state, inside the intake's transaction
(bot.alerts.ingest): its group found or created and routed, the alerts that changed
written, and what follows decided on the stored state: an incident opened, joined,
reopened or resolved, or a triage card owed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.alerts import store
from bot.alerts.model import AlertBatch, AlertStatus
from bot.alerts.routing import route_alert_group
from bot.alerts.state import AlertChange, ChangeKind, changes
from bot.delivery.outbox import DeliveryKind, enqueue
from bot.incidents.access import refreshes_waiting
from bot.incidents.declare import Declaration, IncidentService
from bot.incidents.lifecycle import IncidentLifecycle
from bot.incidents.status import Status, incident_key
from bot.incidents.timeline import record_entries
from bot.incidents.transitions import reopening, resolving
from bot.policy.alerts import AlertRoute
from bot.policy.schema import Policy
from bot.status.components import name_route_components_in
from bot.storage.models import AlertGroup, Delivery, DeliveryState, Incident
from bot.text.markdown import alert_actor

log = logging.getLogger(__name__)

_NUMBER_OF = select(col(Incident.number)).where(col(Incident.id) == bindparam("incident_id"))
ALL_RESOLVED = "All alerts resolved"


@dataclass(frozen=True)
class Receipt:
    """What a delivery did, as the webhook answers it."""

    group_id: int
    action: str
    incident: str | None  # INC-N the group is attached to
    new: int = 0
    resolved: int = 0
    firing_again: int = 0
    changed: bool = True

    def as_json(self) -> dict[str, object]:
        return {
            "ok": True,
            "group": self.group_id,
            "action": self.action,
            "incident": self.incident,
            "new": self.new,
            "resolved": self.resolved,
            "firing_again": self.firing_again,
            "changed": self.changed,
        }


class AlertGrouping:
    def __init__(
        self,
        *,
        policy: Policy,
        service: IncidentService,
        lifecycle: IncidentLifecycle,
        announce_channel: str | None,
    ) -> None:
        self._policy = policy
        self._service = service
        self._lifecycle = lifecycle
        self._announce_channel = announce_channel

    # the group and its alerts -------------------------------------------------------------

    def apply(self, session: Session, batch: AlertBatch, now: datetime) -> Receipt:
        key_hash = store.group_key_hash(batch.source, batch.group_key)
        group = store.find_group(session, batch.source, key_hash)
        created = group is None
        if group is None:
            group = self._new_group(session, batch, key_hash, now)
        assert group.id is not None
        known = {} if created else store.known_alerts(session, group.id)
        found = changes(known, batch.alerts)
        truncated_moved = group.truncated != batch.truncated
        if not found and not truncated_moved and not created:
            return self._receipt(session, group, [], None, changed=False)
        store.write_changes(session, group.id, found, now=now)
        group.truncated, group.last_seen_at = batch.truncated, now
        was_firing = group.status == AlertStatus.FIRING.value
        fires = store.statuses_after(known, found)
        group.status = (AlertStatus.FIRING if fires else AlertStatus.RESOLVED).value
        told = [change for change in found if change.tells]
        route = self._route(group.route_index)
        incident = self._incident_of(session, group)
        if incident is not None and not incident.status.is_open and fires and told:
            incident = self._reopen_or_leave(session, group, incident, route, now)
        opened = False
        if incident is None and fires:
            if group.action == "declare":
                incident, opened = self._open(session, group, route, now)
            elif group.action == "notify":
                self._triage(session, group, refired=not was_firing, now=now)
        if incident is not None:
            self._attach(session, group, incident, told, route, fires=fires, opened=opened, now=now)
        store.save_group(session, group)
        return self._receipt(session, group, found, incident)

    def _new_group(
        self, session: Session, batch: AlertBatch, key_hash: str, now: datetime
    ) -> AlertGroup:
        decision = route_alert_group(
            self._policy,
            labels=batch.route_labels(),
            annotations=batch.route_annotations(),
            source_title=batch.title,
            announce_channel=self._announce_channel,
        )
        group = store.insert_group(
            session,
            source=batch.source.value,
            key_hash=key_hash,
            group_key=batch.group_key[:4000],
            group_labels=dict(batch.group_labels),
            labels=batch.route_labels(),
            title=decision.title,
            severity=decision.severity,
            route_index=decision.route_index,
            action=decision.action,
            status=AlertStatus.RESOLVED.value,
            truncated=batch.truncated,
            external_url=(batch.external_url or "")[:500] or None,
            first_seen_at=now,
            last_seen_at=now,
            triage_channel=decision.channel if decision.action == "notify" else None,
        )
        log.info(
            "alert group %s from %s routed to %s (route %s): %s",
            group.id, batch.source.value, decision.action, decision.route_index, decision.title,
        )  # fmt: skip
        return group

    def _route(self, index: int) -> AlertRoute:
        routes = self._policy.alerts.routes
        # A policy changed since the group was routed: its index may be gone.
        return routes[index] if 0 <= index < len(routes) else AlertRoute(action="notify")

    def _incident_of(self, session: Session, group: AlertGroup) -> Incident | None:
        if group.incident_id is None:
            return None
        return session.get(Incident, group.incident_id, with_for_update=True)

    def _receipt(
        self,
        session: Session,
        group: AlertGroup,
        found: list[AlertChange],
        incident: Incident | None,
        *,
        changed: bool = True,
    ) -> Receipt:
        number = incident.number if incident is not None else None
        if number is None and group.incident_id is not None:
            number = session.connection().scalar(_NUMBER_OF, {"incident_id": group.incident_id})
        kinds = [change.kind for change in found]
        return Receipt(
            group_id=group.id or 0,
            action=group.action,
            incident=incident_key(number) if number is not None else None,
            new=sum(1 for change in found if change.is_new),
            resolved=kinds.count(ChangeKind.RESOLVED),
            firing_again=kinds.count(ChangeKind.FIRING_AGAIN),
            changed=changed,
        )

    # incidents ----------------------------------------------------------------------------

    def _open(
        self, session: Session, group: AlertGroup, route: AlertRoute, now: datetime
    ) -> tuple[Incident, bool]:
        """The group's own incident, or past the route's limit its storm incident.
        Returns the incident and whether this delivery opened it."""
        store.lock_route(session, group.route_index)
        actor = alert_actor(group.source)
        if store.opened_recently(session, group.route_index, now=now) >= (
            route.max_new_incidents_per_minute
        ):
            storm = self._storm_incident(session, group.route_index)
            if storm is not None:
                group.incident_id = storm.id
                return storm, False
            declaration = Declaration(
                title=f"Alert storm: more than {route.max_new_incidents_per_minute} new alert "
                "groups a minute",
                severity=group.severity,
                declared_by=actor,
                source=group.source,
                storm_route=group.route_index,
                impact="Many alerts at once; see the alerts on this card",
            )
            log.warning("alert storm on route %s: gathering new groups", group.route_index)
        else:
            declaration = Declaration(
                title=group.title,
                severity=group.severity,
                declared_by=actor,
                source=group.source,
                runbook=route.runbook,
                auto_run=route.auto_run,
            )
            group.declared_at = now
        incident = self._service.open_in(session, declaration, now=now)
        # The route's status page components (a storm's too: its groups share the route).
        name_route_components_in(session, incident, route, self._policy, actor=actor, now=now)
        group.incident_id = incident.id
        if group.triage_state == "open":
            group.triage_state, group.triaged_by = "declared", actor
        return incident, True

    def _storm_incident(self, session: Session, route_index: int) -> Incident | None:
        return session.scalars(
            select(Incident)
            .where(
                col(Incident.storm_route) == route_index,
                col(Incident.status).in_([status for status in Status if status.is_open]),
            )
            .order_by(col(Incident.id).desc())
            .with_for_update()
        ).first()

    def _reopen_or_leave(
        self,
        session: Session,
        group: AlertGroup,
        incident: Incident,
        route: AlertRoute,
        now: datetime,
    ) -> Incident | None:
        """A resolved incident's group fires again: within `reopen_within` it is the same
        incident; later it is a new one (the group leaves the old incident)."""
        recent = (
            incident.status is Status.RESOLVED
            and incident.resolved_at is not None
            and now - incident.resolved_at <= route.reopen_within
        )
        if not recent:
            log.info("group %s fires again after %s ended: a new incident", group.id, incident.id)
            group.incident_id, group.declared_at = None, None
            return None
        change = reopening(
            actor=alert_actor(group.source), policy=self._policy, reason="its alerts fire again"
        )
        summary = self._lifecycle.apply_in(session, incident, change, now=now)
        log.info("%s", summary)
        return incident

    def _attach(
        self,
        session: Session,
        group: AlertGroup,
        incident: Incident,
        told: list[AlertChange],
        route: AlertRoute,
        *,
        fires: bool,
        opened: bool,
        now: datetime,
    ) -> None:
        """The alert changes on the incident's timeline; the digest and card owed."""
        assert incident.id is not None
        actor = alert_actor(group.source)
        record_entries(
            session,
            [
                store.alert_entry(
                    incident_id=incident.id,
                    group=group,
                    kind=str(change.kind),
                    fingerprint=change.alert.fingerprint,
                    labels=change.alert.labels,
                    annotations=change.alert.annotations,
                    link=change.alert.links[0].url if change.alert.links else None,
                    opened=opened,
                    now=now,
                )
                for change in told
            ],
        )
        all_resolved = not fires and not store.others_firing(
            session, incident_id=incident.id, group_id=group.id or 0
        )
        newly_resolved = all_resolved and incident.alerts_resolved_at is None
        incident.alerts_resolved_at = (incident.alerts_resolved_at or now) if all_resolved else None
        if newly_resolved and route.auto_resolve and incident.status.is_open:
            resolve = resolving(actor=actor, resolution=ALL_RESOLVED)
            self._lifecycle.apply_in(session, incident, resolve, now=now)
            return
        if opened or not told:
            return  # the card being posted shows them; nothing to tell
        waiting = refreshes_waiting(
            session, incident.id, (DeliveryKind.UPDATE_CARD, DeliveryKind.POST_ALERT_DIGEST)
        )
        if DeliveryKind.UPDATE_CARD not in waiting:
            enqueue(
                session, incident_id=incident.id, owed=[(DeliveryKind.UPDATE_CARD, {})], now=now
            )
        if DeliveryKind.POST_ALERT_DIGEST not in waiting:
            # Gathered for a few seconds: a burst of alerts is one message, not fifty.
            enqueue(
                session,
                incident_id=incident.id,
                owed=[(DeliveryKind.POST_ALERT_DIGEST, {})],
                now=now,
                due=now + self._policy.alerts.coalesce,
            )
        incident.version += 1

    # triage -------------------------------------------------------------------------------

    def _triage(self, session: Session, group: AlertGroup, *, refired: bool, now: datetime) -> None:
        """A `notify` group's card in the triage channel: posted once, edited as it moves."""
        if group.triage_channel is None:
            log.warning("alert group %s is to be notified, but no channel is set", group.id)
            return
        if group.triage_state == "ignored" and not refired:
            return
        payload = {"group": group.id}
        if group.triage_state is None or group.triage_state == "ignored":
            # First seen, or ignored and firing again after it resolved: a new card.
            group.triage_state, group.triage_ref, group.triaged_by = "open", None, None
            enqueue(session, incident_id=None, owed=[(DeliveryKind.POST_TRIAGE, payload)], now=now)
        elif not _triage_edit_waiting(session, group.id or 0):
            enqueue(
                session, incident_id=None, owed=[(DeliveryKind.UPDATE_TRIAGE, payload)], now=now
            )


def _triage_edit_waiting(session: Session, group_id: int) -> bool:
    """An edit of this group's triage card not started yet shows this change too."""
    waiting = session.scalars(
        select(Delivery).where(
            col(Delivery.incident_id).is_(None),
            col(Delivery.kind) == DeliveryKind.UPDATE_TRIAGE.value,
            col(Delivery.state) == DeliveryState.PENDING,
            col(Delivery.lease_owner).is_(None),
        )
    )
    return any(row.payload.get("group") == group_id for row in waiting)
