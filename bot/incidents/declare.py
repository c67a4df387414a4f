"""Declaring an incident: stored with its `declared` entry, the escalation steps already
due, and its chat set-up owed, in one transaction; chat never comes first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, configure_mappers
from sqlalchemy.orm.instrumentation import manager_of_class

from bot.chat.platforms import platform_of
from bot.clock import Clock
from bot.delivery.outbox import DeliveryKind, Handoff, claiming, current_claim, enqueue
from bot.errors import UserError
from bot.incidents.escalation import Reacher, due_path_steps, next_escalation_due
from bot.incidents.members import add_member
from bot.incidents.status import Status
from bot.incidents.timeline import record
from bot.observability.metrics import Metrics
from bot.policy.schema import EscalationLevel, Policy
from bot.storage.database import Database, next_incident_number
from bot.storage.models import Delivery, Incident, TimelineKind, insert_incident
from bot.text.markdown import ALERT_ACTOR_PREFIX, single_line
from bot.text.templates import Renderer

MAX_TITLE_LENGTH = 200


@dataclass(frozen=True)
class Declaration:
    title: str
    severity: str
    declared_by: str
    declared_in: str | None = None
    private: bool = False
    impact: str = ""
    # What opened it: "command" (a person, `declared_by`), or an alert source, shown as
    # the declarer (`declared_by` is then "alert:<source>", no one to invite).
    source: str = "command"
    storm_route: int | None = None  # the storm incident of this alert route
    # The diagnostics runbook its alert route attached, and whether it runs at once.
    runbook: str | None = None
    auto_run: bool = False

    @property
    def by_person(self) -> bool:
        """Declared by someone to invite (a person pressing Declare on an alert too)."""
        return not self.declared_by.startswith(ALERT_ACTOR_PREFIX)


# What else a declaration does in its transaction: (session, incident, declaration, now).
OpenedHook = Callable[[Session, Incident, Declaration, datetime], None]
_NEW_INCIDENT = manager_of_class(Incident).new_instance


def _planned(*, severity: str, started_at: datetime) -> Incident:
    """The incident about to be declared, as the escalation path sees it. Built like the
    rows the ORM loads, without the model's __init__: its checks cost a tenth of a
    millisecond per declaration, on the path of someone waiting for the answer."""
    configure_mappers()  # done once, at the first ORM use; building needs it done
    incident = _NEW_INCIDENT()
    incident.__dict__.update(
        severity=severity,
        started_at=started_at,
        status=Status.INVESTIGATING,
        escalation_level=0,
        acknowledged_at=None,
        sla_breached=False,
    )
    return incident


class IncidentService:
    """Declares incidents.

    `handoff`: the local delivery worker. The declaration's deliveries are then leased to
    it in the declaring transaction and handed over after the commit, so the channel is
    opened at once; without it the worker finds them on its next poll. `on_commit` runs
    after every declaration's commit (wake the worker, the timers).
    """

    def __init__(
        self,
        *,
        db: Database,
        policy: Policy,
        clock: Clock,
        renderer: Renderer | None = None,  # default: the templates of WARROOM_TEMPLATES_DIR
        announce_channel: str | None = None,
        on_commit: Callable[[], None] = lambda: None,
        handoff: Handoff | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._db = db
        self._metrics = metrics or Metrics()
        self._policy = policy
        self._clock = clock
        self._reacher = Reacher(renderer=renderer or Renderer())
        self._announce_channel = announce_channel or policy.announce_channel
        self._on_commit = on_commit
        self._handoff = handoff
        self._when_opened: list[OpenedHook] = []

    @property
    def policy(self) -> Policy:
        return self._policy

    async def declare(self, declaration: Declaration) -> Incident:
        """Open an incident: stored with its `declared` entry and its chat set-up queued."""
        self.check(declaration)
        now = self._clock()

        def store(session: Session) -> tuple[Incident, list[Delivery]]:
            with claiming(session, self._handoff, now=now) as claim:
                incident = self.open_in(session, declaration, now=now)
            return incident, claim.claimed

        # Urgent: someone is waiting for the answer, ahead of background deliveries.
        incident, claimed = await self._db.transaction(store, urgent=True)
        if self._handoff is not None:
            self._handoff.take(claimed)
        self._on_commit()
        return incident

    @property
    def handoff(self) -> Handoff | None:
        return self._handoff

    def after_commit(self, claimed: list[Delivery]) -> None:
        """What a caller of `open_in` does once its transaction has committed."""
        if self._handoff is not None:
            self._handoff.take(claimed)
        self._on_commit()

    def check(self, declaration: Declaration) -> None:
        """UserError if the declaration cannot be opened as it is."""
        self._policy.severity(declaration.severity)
        title = single_line(declaration.title)
        if not title:
            raise UserError("the incident needs a title")
        if len(title) > MAX_TITLE_LENGTH:
            raise UserError(
                f"the title is {len(title)} characters; keep it under {MAX_TITLE_LENGTH}"
            )
        if declaration.private and platform_of(declaration.declared_in) == "teams":
            # Its thread would be seen by everyone in the channel: never open in public
            # what was meant private.
            raise UserError(
                "a private incident cannot open in Teams yet (its thread would be seen by the "
                "whole channel): declare it in Slack, or without --private"
            )

    def open_in(self, session: Session, declaration: Declaration, *, now: datetime) -> Incident:
        """Store a checked declaration within the caller's transaction (an alert opens
        its incident in the transaction that stores the alert). Deliveries are claimed
        if the caller runs it under `claiming`."""
        level = self._policy.severity(declaration.severity)
        # What the escalation path makes of it at once (L1 `after: 0s`): reached in this
        # transaction, so the first card already shows it and the timer has nothing to do
        # until the step after.
        planned = _planned(severity=level.name, started_at=now)
        steps = due_path_steps(planned, self._policy, now)
        planned.escalation_level = steps[-1][0] + 1 if steps else 0
        incident = insert_incident(
            session,
            number=next_incident_number(session),
            title=single_line(declaration.title),
            severity=level.name,
            impact=single_line(declaration.impact),
            status=Status.INVESTIGATING,
            private=declaration.private,
            declared_by=declaration.declared_by,
            declared_in=declaration.declared_in,
            started_at=now,
            next_update_at=now + level.update_every if level.update_every else None,
            escalation_level=planned.escalation_level,
            next_escalation_at=next_escalation_due(planned, self._policy),
            source=declaration.source,
            storm_route=declaration.storm_route,
            runbook=declaration.runbook,
        )
        assert incident.id is not None
        claim = current_claim(session)
        if claim is not None:
            claim.created(incident.id)
        if declaration.by_person:
            add_member(session, incident_id=incident.id, user_id=declaration.declared_by, now=now)
        record(
            session,
            incident_id=incident.id,
            kind=TimelineKind.DECLARED,
            at=now,
            actor=declaration.declared_by,
            data={"severity": level.name, "private": declaration.private},
        )
        self._metrics.incident_declared(session, incident)  # once committed
        enqueue(session, incident_id=incident.id, owed=self._set_up(declaration), now=now)
        for _, step in steps:
            self._reach(session, incident, step)
        for opened in self._when_opened:
            opened(session, incident, declaration, now)
        return incident

    def when_opened(self, hook: OpenedHook) -> None:
        """Also run `hook` in the transaction of every declaration, after the incident's own
        set-up (a runbook to run as soon as an alert's incident opens)."""
        self._when_opened.append(hook)

    def _set_up(self, declaration: Declaration) -> list[tuple[DeliveryKind, dict[str, object]]]:
        """The channel with its card first, for the responders reading it, then the rest."""
        owed: list[tuple[DeliveryKind, dict[str, object]]] = [
            (DeliveryKind.OPEN_CHANNEL, {}),  # named when opened: the naming rules are chat's
            (DeliveryKind.POST_CARD, {}),
            (DeliveryKind.PIN_CARD, {}),
        ]
        if declaration.by_person:
            owed.append((DeliveryKind.INVITE, {"users": [declaration.declared_by]}))
        # Each platform announces in its own channel: a Teams incident never in Slack's.
        announce = (
            self._policy.teams.announce_channel
            if platform_of(declaration.declared_in) == "teams"
            else self._announce_channel
        )
        if announce and not declaration.private:
            owed.append((DeliveryKind.ANNOUNCE, {"channel": announce}))
        return owed

    def _reach(self, session: Session, incident: Incident, level: EscalationLevel) -> None:
        # Steps due at declaration have `after: 0s`: their reason is the declaration.
        self._reacher.reach(
            session, incident, level, actor=None, reason="declared", now=incident.started_at
        )
