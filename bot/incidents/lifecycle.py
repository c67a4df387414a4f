"""Running an incident: acknowledge, status, severity, notes, resolve, reopen.

Each use case locks the incident row for its transaction (Postgres: SELECT … FOR UPDATE;
SQLite has one writer at a time), checks the change against the *current* state, bumps
the row version, writes its timeline entry and queues the card refresh, all in one
commit. Two people pressing Resolve at once therefore give one resolution and one
"already resolved" answer, never two resolutions or a lost update.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.delivery.outbox import DeliveryKind, enqueue
from bot.errors import UserError
from bot.incidents.access import (
    Change,
    IncidentRef,
    Outcome,
    card_refresh_waiting,
    find_incident,
    locked,
    write_entry,
)
from bot.incidents.escalation import Reacher, follow_up_pages, next_escalation_due
from bot.incidents.members import add_member, holder_of
from bot.incidents.permissions import check_access
from bot.incidents.status import Status, incident_key
from bot.incidents.transitions import (
    change_status,
    ensure_open_for_updates,
    reopening,
    resolving,
)
from bot.observability.metrics import Metrics
from bot.policy.schema import Action, Policy
from bot.postmortem.followup import schedule_followup
from bot.status.publishing import PublicPost, publish_in, publishing, tell_public_of_move
from bot.storage.database import Database
from bot.storage.models import (
    Incident,
    IncidentRole,
    TimelineKind,
    set_next_update,
)
from bot.text.durations import format_elapsed
from bot.text.markdown import excerpt, single_line, user_ref
from bot.text.templates import Renderer, format_utc

MAX_NOTE_LENGTH = 3000


class IncidentLifecycle:
    def __init__(
        self,
        *,
        db: Database,
        policy: Policy,
        clock: Clock,
        renderer: Renderer,
        on_commit: Callable[[], None] = lambda: None,
        metrics: Metrics | None = None,
    ) -> None:
        self._db = db
        self._policy = policy
        self._clock = clock
        self._renderer = renderer
        self._reacher = Reacher(renderer=renderer)
        self._on_commit = on_commit
        self._metrics = metrics or Metrics()

    async def apply(
        self, ref: IncidentRef, change: Change, *, action: Action, actor: str
    ) -> Outcome:
        """Run `change` on the locked incident if `actor` may take `action`; bump its
        version and refresh its card."""
        now = self._clock()

        def work(session: Session) -> Outcome:
            incident = locked(session, ref)
            check_access(session, incident, ref, actor=actor, action=action, policy=self._policy)
            return Outcome(incident, self.apply_in(session, incident, change, now=now))

        outcome = await self._db.transaction(work, urgent=True)
        self._on_commit()
        return outcome

    def apply_in(
        self, session: Session, incident: Incident, change: Change, *, now: datetime
    ) -> str:
        """Run `change` on an incident the caller has locked, within its transaction:
        the version bumped, the card and the announcement refreshed. For changes made by
        warroom itself (an alert resolving its incident), with no one's access to check."""
        announced = (incident.status, incident.severity)
        summary = change(session, incident, now)
        # Any change may move the next automatic escalation (ack, severity, resolve…),
        # and the postmortem's follow-through (resolve, reopen, close, severity).
        incident.next_escalation_at = next_escalation_due(incident, self._policy)
        schedule_followup(incident, self._policy, was=announced[0], was_severity=announced[1])
        self._metrics.incident_moved(session, incident, was=announced[0])  # once committed
        # A public incident resolved or reopened, by anyone or any alert: the page says so.
        tell_public_of_move(session, incident, was=announced[0], now=now)
        incident.version += 1
        assert incident.id is not None
        owed: list[tuple[DeliveryKind, dict[str, object]]] = []
        if not card_refresh_waiting(session, incident.id):
            owed.append((DeliveryKind.UPDATE_CARD, {}))
        # The announce channel's message says the status and severity: edited in place
        # when either moves (the effect does nothing for an incident never announced).
        if (
            (incident.status, incident.severity) != announced
            and not incident.private
            and not card_refresh_waiting(session, incident.id, DeliveryKind.UPDATE_ANNOUNCEMENT)
        ):
            owed.append((DeliveryKind.UPDATE_ANNOUNCEMENT, {}))
        if owed:
            enqueue(session, incident_id=incident.id, owed=owed, now=now)
        session.flush()
        return summary

    async def incident(self, ref: IncidentRef, *, viewer: str, action: Action) -> Incident:
        """The incident as stored now (read only), if `viewer` may take `action` on it."""

        def read(session: Session) -> Incident:
            incident = find_incident(session, ref)
            check_access(session, incident, ref, actor=viewer, action=action, policy=self._policy)
            return incident

        return await self._db.transaction(read, urgent=True)

    async def acknowledge(self, ref: IncidentRef, *, actor: str) -> Outcome:
        def change(session: Session, incident: Incident, now: datetime) -> str:
            key = incident_key(incident.number)
            if incident.acknowledged_at is not None:
                by = user_ref(incident.acknowledged_by or "")
                raise UserError(f"{key} was already acknowledged by {by}")
            if not incident.status.is_open:
                raise UserError(f"{key} is {incident.status.label}: nothing to acknowledge")
            incident.acknowledged_at, incident.acknowledged_by = now, actor
            self._metrics.incident_acknowledged(session, incident)  # once committed
            follow_up_pages(session, incident, "acknowledge", now)
            waited = now - incident.started_at
            write_entry(
                session,
                incident,
                TimelineKind.ACKNOWLEDGED,
                now,
                actor,
                data={"after_seconds": int(waited.total_seconds())},
            )
            return f"{key} acknowledged after {format_elapsed(waited)}"

        return await self.apply(ref, change, action="acknowledge", actor=actor)

    async def set_status(
        self, ref: IncidentRef, *, actor: str, status: Status, note: str = ""
    ) -> Outcome:
        if status is Status.RESOLVED:
            return await self.resolve(ref, actor=actor, resolution=note)

        def change(session: Session, incident: Incident, now: datetime) -> str:
            old = change_status(session, incident, status, now=now, actor=actor, note=note)
            if old is Status.RESOLVED:  # back to work: the resolution no longer stands
                incident.resolved_at, incident.resolution = None, ""
                self._reset_cadence(incident, now)
            return f"{incident_key(incident.number)} is now {status.label}"

        return await self.apply(ref, change, action="status", actor=actor)

    async def set_severity(self, ref: IncidentRef, *, actor: str, severity: str) -> Outcome:
        level = self._policy.severity(severity)

        def change(session: Session, incident: Incident, now: datetime) -> str:
            key = incident_key(incident.number)
            if incident.severity == level.name:
                raise UserError(f"{key} is already {level.name}")
            old, incident.severity = incident.severity, level.name
            if incident.status.is_open and level.update_every is not None:
                # A faster cadence brings the next update forward; a slower one never
                # pushes back a deadline people were already told.
                sooner = now + level.update_every
                if incident.next_update_at is None or sooner < incident.next_update_at:
                    set_next_update(incident, sooner)
            write_entry(
                session,
                incident,
                TimelineKind.SEVERITY_CHANGED,
                now,
                actor,
                data={"old": old, "new": level.name},
            )
            return f"{key} severity {old} → {level.name}"

        return await self.apply(ref, change, action="severity", actor=actor)

    async def add_note(self, ref: IncidentRef, *, actor: str, text: str) -> Outcome:
        text = text.strip()
        if not text:
            raise UserError("a note needs some text")
        if len(text) > MAX_NOTE_LENGTH:
            raise UserError(f"the note is {len(text)} characters; keep it under {MAX_NOTE_LENGTH}")

        def change(session: Session, incident: Incident, now: datetime) -> str:
            write_entry(session, incident, TimelineKind.NOTE, now, actor, text=text)
            return f"Note added to {incident_key(incident.number)}'s timeline"

        return await self.apply(ref, change, action="note", actor=actor)

    async def post_update(
        self,
        ref: IncidentRef,
        *,
        actor: str,
        text: str,
        next_in: timedelta | None = None,
        status: Status | None = None,
        impact: str | None = None,
        public: PublicPost | None = None,
    ) -> Outcome:
        """A status update: posted in the channel, logged, and the Next Update reset;
        with `public`, posted on the status page too."""
        text = text.strip()
        if not text:
            raise UserError("an update needs some text")
        if len(text) > MAX_NOTE_LENGTH:
            raise UserError(
                f"the update is {len(text)} characters; keep it under {MAX_NOTE_LENGTH}"
            )
        if status is Status.RESOLVED:
            raise UserError("to resolve, use resolve: it posts the all-clear")

        def change(session: Session, incident: Incident, now: datetime) -> str:
            key = incident_key(incident.number)
            ensure_open_for_updates(incident)
            if status is not None and status is not incident.status:
                change_status(session, incident, status, now=now, actor=actor)
            if impact is not None and impact.strip():
                incident.impact = single_line(impact)
            cadence = next_in or self._policy.severity(incident.severity).update_every
            set_next_update(incident, now + cadence if cadence else None)
            told = publish_in(session, incident, public, text=text, actor=actor, now=now)
            data: dict[str, object] = {"public": True} if public else {}
            write_entry(session, incident, TimelineKind.UPDATE, now, actor, text=text, data=data)
            next_line = (
                f"Next update by {format_utc(incident.next_update_at)}"
                if incident.next_update_at
                else "No further updates scheduled"
            )
            markdown = self._renderer.render(
                "status_update.md.j2",
                key=key,
                status=incident.status.label,
                who=user_ref(actor),
                text=text,
                next_update_at=incident.next_update_at,
            )
            assert incident.id is not None
            owed: list[tuple[DeliveryKind, dict[str, object]]] = [
                (DeliveryKind.POST_MESSAGE, {"markdown": markdown, "fallback": f"Update on {key}"})
            ]
            enqueue(session, incident_id=incident.id, owed=owed, now=now)
            posted = f"Update posted and {told}" if told else "Update posted"
            return f"{posted}; {next_line[0].lower()}{next_line[1:]}"

        return await self.apply(ref, change, action="update", actor=actor)

    async def resolve(
        self,
        ref: IncidentRef,
        *,
        actor: str,
        resolution: str = "",
        public: PublicPost | None = None,
    ) -> Outcome:
        change = resolving(actor=actor, resolution=resolution)
        if public is not None:  # the resolution is the public line too
            change = publishing(change, public, text=single_line(resolution), actor=actor)
        return await self.apply(ref, change, action="resolve", actor=actor)

    async def reopen(self, ref: IncidentRef, *, actor: str) -> Outcome:
        change = reopening(actor=actor, policy=self._policy)
        return await self.apply(ref, change, action="reopen", actor=actor)

    async def assign_role(self, ref: IncidentRef, *, actor: str, role: str, user: str) -> Outcome:
        role = role.lower()
        description = self._policy.roles.get(role)
        if description is None:
            known = ", ".join(sorted(self._policy.roles)) or "none configured"
            raise UserError(f"unknown role {excerpt(role)}; use one of {known}")
        who = user_ref(user)

        def change(session: Session, incident: Incident, now: datetime) -> str:
            key = incident_key(incident.number)
            assert incident.id is not None
            held = holder_of(session, incident_id=incident.id, role=role)
            if held is not None and held.user_id == user:
                raise UserError(f"{who} is already {role} of {key}")
            previous = held.user_id if held else None
            if held is None:
                session.add(
                    IncidentRole(
                        incident_id=incident.id,
                        role=role,
                        user_id=user,
                        assigned_at=now,
                        assigned_by=actor,
                    )
                )
            else:
                held.user_id, held.assigned_at, held.assigned_by = user, now, actor
            add_member(session, incident_id=incident.id, user_id=user, now=now)
            write_entry(
                session,
                incident,
                TimelineKind.ROLE_ASSIGNED,
                now,
                actor,
                data={"role": role, "user": user, "previous": previous},
            )
            told = self._renderer.render(
                "role_assigned.md.j2", who=who, role=role, key=key, description=description
            )
            owed: list[tuple[DeliveryKind, dict[str, object]]] = [
                (DeliveryKind.INVITE, {"users": [user]}),
                (DeliveryKind.POST_MESSAGE, {"markdown": told, "fallback": f"{role} of {key}"}),
            ]
            enqueue(session, incident_id=incident.id, owed=owed, now=now)
            return f"{who} is now {role} of {key}"

        return await self.apply(ref, change, action="role", actor=actor)

    async def escalate(self, ref: IncidentRef, *, actor: str, reason: str = "") -> Outcome:
        """One level up the escalation path at once; automatic steps continue from there."""
        reason = single_line(reason)
        path = self._policy.escalation

        def change(session: Session, incident: Incident, now: datetime) -> str:
            key = incident_key(incident.number)
            if not incident.status.is_open:
                raise UserError(f"{key} is {incident.status.label}: nothing to escalate")
            if incident.escalation_level >= len(path):
                top = path[-1].label() if path else "none configured"
                raise UserError(f"{key} is already at the top of the escalation path ({top})")
            level = path[incident.escalation_level]
            incident.escalation_level += 1
            self._reacher.reach(session, incident, level, actor=actor, reason=reason, now=now)
            contacts = level.contacts
            if not (contacts.users or contacts.usergroups or contacts.pager_targets()):
                return (
                    f"{key} escalated to {level.label()}, which calls nobody: "
                    "no contacts are set for this level in the policy"
                )
            return f"{key} escalated to {level.label()}"

        return await self.apply(ref, change, action="escalate", actor=actor)

    def _reset_cadence(self, incident: Incident, now: datetime) -> None:
        cadence = self._policy.severity(incident.severity).update_every
        set_next_update(incident, now + cadence if cadence else None)
