"""Diagnostics on request: asking for a run, and the run itself.

Asking stores the run and owes, in the same transaction, its message in the channel (a
chat delivery) and the run (a delivery in a lane of its own, see bot/delivery/leases.py):
the person gets their answer at once, the checks start as soon as the transaction has
committed, and a run is never lost nor done twice. Under the incident's row lock, a check
that is queued or running for the incident is not asked for again: a double click runs
it once.

The run marks itself running before its checks start. If warroom stops while they run,
the delivery's lease lapses and it is claimed again (here after a restart, or by another
process); finding the run already running, that attempt ends it as interrupted instead of
running its checks a second time, and the message says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.clock import Clock
from bot.delivery.outbox import DeliveryKind, Handoff, claiming, enqueue
from bot.diagnostics.results import CheckOutcome, CheckResult, Tally
from bot.diagnostics.runner import CheckRunner, Plan, execute, plan_for
from bot.errors import UserError
from bot.incidents.access import IncidentRef, locked, write_entry
from bot.incidents.declare import Declaration
from bot.incidents.lifecycle import IncidentLifecycle
from bot.incidents.permissions import check_access
from bot.incidents.status import incident_key
from bot.observability.metrics import Metrics
from bot.policy.schema import Policy
from bot.storage.database import Database
from bot.storage.models import Delivery, DiagnosticRun, Incident, RunState, TimelineKind
from bot.text.markdown import escape_markdown, user_ref

log = logging.getLogger(__name__)

_BUSY = (RunState.QUEUED, RunState.RUNNING)


class Diagnostics:
    def __init__(
        self,
        *,
        db: Database,
        policy: Policy,
        clock: Clock,
        lifecycle: IncidentLifecycle,
        run_check: CheckRunner,
        handoff: Handoff | None = None,
        on_commit: Callable[[], None] = lambda: None,
        metrics: Metrics | None = None,
    ) -> None:
        self._db = db
        self._policy = policy
        self._clock = clock
        self._lifecycle = lifecycle
        self._metrics = metrics or Metrics()
        self._run_check = run_check
        self._handoff = handoff
        self._on_commit = on_commit

    @property
    def configured(self) -> bool:
        return bool(self._policy.diagnostics.checks)

    async def request(self, ref: IncidentRef, *, actor: str, target: str) -> str:
        """Run `target` (a check, a runbook, or all checks) on the incident: what the
        person who asked is told."""
        plan = plan_for(self._policy.diagnostics, target)
        now = self._clock()

        def work(session: Session) -> tuple[Incident, list[Delivery]]:
            with claiming(session, self._handoff, now=now) as claim:
                incident = locked(session, ref)
                check_access(
                    session, incident, ref, actor=actor, action="diagnose", policy=self._policy
                )
                self.start_in(session, incident, plan, actor=actor, now=now)
            return incident, claim.claimed

        incident, claimed = await self._db.transaction(work, urgent=True)
        if self._handoff is not None:
            self._handoff.take(claimed)
        self._on_commit()
        count = len(plan.steps)
        return (
            f"Running {escape_markdown(plan.label)} on {incident_key(incident.number)} "
            f"({count} check{'s' if count != 1 else ''}): the results will be posted in "
            "its channel."
        )

    def start_in(
        self, session: Session, incident: Incident, plan: Plan, *, actor: str, now: datetime
    ) -> int:
        """Store a run of `plan` on a locked incident and owe its message and its checks,
        in the caller's transaction. UserError if any of its checks is already under way."""
        assert incident.id is not None
        busy = session.scalars(
            select(DiagnosticRun).where(
                col(DiagnosticRun.incident_id) == incident.id,
                col(DiagnosticRun.state).in_(_BUSY),
            )
        ).all()
        wanted = set(plan.check_names)
        for run in busy:
            overlap = [name for name in run.checks if name in wanted]
            if overlap:
                shown = ", ".join(overlap[:3]) + (" …" if len(overlap) > 3 else "")
                raise UserError(
                    f"{escape_markdown(shown)} {'is' if len(overlap) == 1 else 'are'} already "
                    f"running on {incident_key(incident.number)} (asked by "
                    f"{user_ref(run.requested_by)}): the results will be posted in its channel"
                )
        run = DiagnosticRun(
            incident_id=incident.id,
            target=plan.target,
            label=plan.label,
            checks=plan.check_names,
            stop_on_failure=plan.stop_on_failure,
            requested_by=actor,
            requested_at=now,
        )
        session.add(run)
        session.flush()
        assert run.id is not None
        owed: list[tuple[DeliveryKind, dict[str, Any]]] = [
            (DeliveryKind.POST_DIAGNOSTICS, {"run": run.id}),
            (DeliveryKind.RUN_DIAGNOSTICS, {"run": run.id}),
        ]
        enqueue(session, incident_id=incident.id, owed=owed, now=now)
        return run.id

    def run_when_opened(
        self, session: Session, incident: Incident, declaration: Declaration, now: datetime
    ) -> None:
        """An incident opened from an alert whose route runs its runbook at once
        (`auto_run`): the run is owed in the declaring transaction."""
        if not (declaration.auto_run and declaration.runbook):
            return
        try:
            plan = plan_for(self._policy.diagnostics, declaration.runbook)
        except UserError as error:  # check-config refuses this; never lose the incident
            log.error("cannot run runbook %s on a new incident: %s", declaration.runbook, error)
            return
        self.start_in(session, incident, plan, actor=declaration.declared_by, now=now)

    # the run ----------------------------------------------------------------------------

    async def run(self, delivery: Delivery) -> None:
        """The RUN_DIAGNOSTICS effect: run the checks once, store what they found."""
        run_id = int(delivery.payload["run"])
        started = self._clock()
        plan = await self._db.transaction(lambda session: self._begin(session, run_id, started))
        if plan is None:
            self._on_commit()  # an interrupted run owes its edit
            return
        results = await execute(self._policy.diagnostics, plan, self._run_check)
        finished = self._clock()
        await self._db.transaction(
            lambda session: self._finish(session, run_id, results, RunState.DONE, finished)
        )
        self._on_commit()

    def _begin(self, session: Session, run_id: int, now: datetime) -> Plan | None:
        """Mark the run running; None if there is nothing to run (done, or interrupted by
        a stop of warroom while an earlier attempt ran it: ended here as interrupted)."""
        run = session.get(DiagnosticRun, run_id, with_for_update=True)
        if run is None or run.state in (RunState.DONE, RunState.INTERRUPTED):
            return None
        if run.state is RunState.RUNNING:
            log.warning("diagnostics run %s was interrupted: warroom stopped while it ran", run_id)
            self._finish(session, run_id, [], RunState.INTERRUPTED, now)
            return None
        try:
            plan = plan_for(self._policy.diagnostics, run.target)
        except UserError as error:  # the policy changed since it was asked for
            results = [CheckResult(name, CheckOutcome.FAILED, str(error)) for name in run.checks]
            self._finish(session, run_id, results, RunState.DONE, now)
            return None
        run.state, run.started_at = RunState.RUNNING, now
        return plan

    def _finish(
        self,
        session: Session,
        run_id: int,
        results: list[CheckResult],
        state: RunState,
        now: datetime,
    ) -> None:
        """Store the results; log them on the timeline, refresh the card, edit the run's
        message and post the detail in its thread."""
        run = session.get(DiagnosticRun, run_id, with_for_update=True)
        if run is None or run.state in (RunState.DONE, RunState.INTERRUPTED):
            return
        incident = session.get(Incident, run.incident_id, with_for_update=True)
        if incident is None:
            return
        run.state, run.finished_at = state, now
        run.results = [result.as_json() for result in results]
        shown = {result.name: result for result in results}
        outcomes = [
            shown.get(name) or CheckResult(name, CheckOutcome.INTERRUPTED, "")
            for name in run.checks
        ]
        tally = Tally.of(outcomes)
        ended = state is RunState.INTERRUPTED
        self._metrics.diagnostics_finished(session, tally, interrupted=ended)  # once committed

        def change(session: Session, incident: Incident, now: datetime) -> str:
            write_entry(
                session,
                incident,
                TimelineKind.DIAGNOSTICS,
                now,
                run.requested_by,
                data={
                    "run": run_id,
                    "target": run.target,
                    "label": run.label,
                    "state": state.value,
                    "tally": tally.as_json(),
                    "checks": [
                        {
                            "name": result.name,
                            "outcome": result.outcome.value,
                            "summary": result.summary,
                            "latency_ms": result.latency_ms,
                        }
                        for result in outcomes
                    ],
                },
            )
            return tally.words()

        self._lifecycle.apply_in(session, incident, change, now=now)
        owed: list[tuple[DeliveryKind, dict[str, Any]]] = [
            (DeliveryKind.UPDATE_DIAGNOSTICS, {"run": run_id}),
        ]
        if state is RunState.DONE:
            owed.append((DeliveryKind.POST_DIAGNOSTICS_DETAIL, {"run": run_id}))
        enqueue(session, incident_id=incident.id, owed=owed, now=now)
