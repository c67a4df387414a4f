"""The metrics move as incidents move: declared, acknowledged, resolved, reminded,
diagnosed; each counted once its transaction has committed, and a refused change counts
nothing. The stored gauges (open incidents, the outbox) are read from the database at
each scrape."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.app import Warroom, build
from bot.chat.fake import FakeChat
from bot.delivery.outbox import DeliveryKind, lane_of
from bot.diagnostics.results import CheckOutcome, CheckResult, Tally
from bot.errors import UserError
from bot.incidents.access import IncidentRef, locked
from bot.incidents.declare import Declaration
from bot.incidents.status import Status
from bot.incidents.transitions import resolving
from bot.observability.metrics import diagnostics_result
from bot.observability.metrics_route import scrape
from bot.policy.schema import Policy, default_policy
from bot.storage.models import Delivery, DeliveryState, DiagnosticRun, Incident, RunState
from tests.conftest import SteppingClock
from tests.unit.alerts.conftest import alert, batch, with_alerts
from tests.unit.conftest import Harness, sev2, unit_settings
from tests.unit.diagnostics_flow.conftest import closed, diag_policy, wired

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


# reading metrics as Prometheus does ---------------------------------------------------


def parsed(exposition: str) -> Samples:
    """Every sample of a text exposition, by (name, labels)."""
    found: Samples = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[_key(sample)] = sample.value
    return found


def _key(sample: Sample) -> tuple[str, frozenset[tuple[str, str]]]:
    return sample.name, frozenset(sample.labels.items())


async def scraped(warroom: Warroom) -> Samples:
    body, _ = await scrape(warroom)
    return parsed(body.decode())


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def counted(warroom: Warroom, name: str, **labels: str) -> float:
    """A counter's or histogram's sample as it stands in the process's registry."""
    found = warroom.metrics.registry.get_sample_value(name, labels)
    assert found is not None, f"no sample {name}{labels}"
    return found


def declared(warroom: Warroom, severity: str = "SEV2", source: str = "command") -> float:
    return counted(warroom, "warroom_incidents_declared_total", severity=severity, source=source)


def resolved(warroom: Warroom, severity: str = "SEV2", source: str = "command") -> float:
    return counted(warroom, "warroom_incidents_resolved_total", severity=severity, source=source)


async def open_now(warroom: Warroom, severity: str = "SEV2") -> float | None:
    return value(await scraped(warroom), "warroom_open_incidents", severity=severity)


async def declare_and_deliver(harness: Harness, **kwargs: object) -> tuple[Incident, IncidentRef]:
    incident = await harness.service.declare(sev2(**kwargs))  # type: ignore[arg-type]
    await harness.worker.drain()
    (stored,) = [i for i in await harness.incidents() if i.number == incident.number]
    assert stored.channel_id is not None
    return stored, IncidentRef(channel_id=stored.channel_id)


@pytest.fixture
async def make(
    database_url: str, clock: SteppingClock
) -> AsyncIterator[Callable[[Policy], Warroom]]:
    """Warroom with a policy of the test's own, on FakeChat."""
    built: list[Warroom] = []

    def make(policy: Policy) -> Warroom:
        chat = FakeChat()
        chat.add_channel("C0ANNOUNCE", "incidents")
        warroom = build(unit_settings(database_url), chat=chat, clock=clock, policy=policy)
        built.append(warroom)
        return warroom

    yield make
    for warroom in built:
        await warroom.http.aclose()
        warroom.db.dispose()


# incidents ----------------------------------------------------------------------------


async def test_every_severity_and_source_shows_from_the_first_scrape(harness: Harness) -> None:
    samples = await scraped(harness.warroom)
    for severity in ("SEV1", "SEV2", "SEV3", "SEV4"):
        assert value(samples, "warroom_open_incidents", severity=severity) == 0
        for source in ("command", "alert", "teams"):
            labels = {"severity": severity, "source": source}
            assert value(samples, "warroom_incidents_declared_total", **labels) == 0
            assert value(samples, "warroom_incidents_resolved_total", **labels) == 0
        assert value(samples, "warroom_time_to_acknowledge_seconds_count", severity=severity) == 0
    assert value(samples, "warroom_outbox_pending") == 0
    assert value(samples, "warroom_database_read_ok") == 1


async def test_a_declaration_counts_once_and_opens_an_incident(harness: Harness) -> None:
    warroom = harness.warroom
    await harness.service.declare(sev2())
    assert declared(warroom) == 1
    assert declared(warroom, "SEV1") == 0 and declared(warroom, source="alert") == 0
    assert await open_now(warroom) == 1
    assert await open_now(warroom, "SEV1") == 0

    with pytest.raises(UserError):  # refused: nothing stored, nothing counted
        await harness.service.declare(sev2(title=""))
    assert declared(warroom) == 1


async def test_acknowledge_observes_the_time_to_acknowledge_once(harness: Harness) -> None:
    warroom = harness.warroom
    _, here = await declare_and_deliver(harness)
    harness.clock.advance(seconds=90)
    await harness.lifecycle.acknowledge(here, actor="U0ONCALL")

    mtta = "warroom_time_to_acknowledge_seconds"
    assert counted(warroom, f"{mtta}_count", severity="SEV2") == 1
    assert counted(warroom, f"{mtta}_sum", severity="SEV2") == 90
    assert counted(warroom, f"{mtta}_bucket", severity="SEV2", le="60.0") == 0
    assert counted(warroom, f"{mtta}_bucket", severity="SEV2", le="120.0") == 1

    harness.clock.advance(seconds=30)
    with pytest.raises(UserError, match="already acknowledged"):  # rolled back: not counted
        await harness.lifecycle.acknowledge(here, actor="U0OTHER")
    assert counted(warroom, f"{mtta}_count", severity="SEV2") == 1


async def test_resolve_counts_closes_the_gauge_and_observes_the_time_to_resolve(
    harness: Harness,
) -> None:
    warroom = harness.warroom
    _, here = await declare_and_deliver(harness)
    await harness.service.declare(sev2(title="Second one"))
    assert await open_now(warroom) == 2
    harness.clock.advance(minutes=45)
    await harness.lifecycle.resolve(here, actor="U0ONCALL", resolution="Rolled back")

    assert resolved(warroom) == 1
    assert await open_now(warroom) == 1
    mttr = "warroom_time_to_resolve_seconds"
    assert counted(warroom, f"{mttr}_count", severity="SEV2") == 1
    assert counted(warroom, f"{mttr}_sum", severity="SEV2") == 45 * 60
    assert counted(warroom, f"{mttr}_bucket", severity="SEV2", le="1800.0") == 0
    assert counted(warroom, f"{mttr}_bucket", severity="SEV2", le="3600.0") == 1

    with pytest.raises(UserError):  # already resolved: refused, counts nothing
        await harness.lifecycle.resolve(here, actor="U0ONCALL")
    assert resolved(warroom) == 1

    # Reopened and resolved again: a second resolution, measured from the start.
    await harness.lifecycle.reopen(here, actor="U0ONCALL")
    assert await open_now(warroom) == 2
    harness.clock.advance(minutes=15)
    await harness.lifecycle.set_status(here, actor="U0ONCALL", status=Status.RESOLVED)
    assert resolved(warroom) == 2
    assert counted(warroom, f"{mttr}_sum", severity="SEV2") == 45 * 60 + 60 * 60


async def test_a_transaction_rolled_back_after_the_change_counts_nothing(
    harness: Harness,
) -> None:
    """A declaration or a resolution made inside a larger transaction (as an alert's) that
    then fails is not counted: nothing of it was stored."""
    warroom = harness.warroom
    _, here = await declare_and_deliver(harness)
    now = harness.clock()

    def declare_then_fail(session: Session) -> None:
        harness.service.open_in(session, sev2(title="Never stored"), now=now)
        raise RuntimeError("the transaction fails after the declaration")

    def resolve_then_fail(session: Session) -> None:
        incident = locked(session, here)
        harness.lifecycle.apply_in(session, incident, resolving(actor="U0ONCALL"), now=now)
        raise RuntimeError("the transaction fails after the resolution")

    for work in (declare_then_fail, resolve_then_fail):
        with pytest.raises(RuntimeError):
            await warroom.db.transaction(work)
    assert declared(warroom) == 1
    assert resolved(warroom) == 0
    assert counted(warroom, "warroom_time_to_resolve_seconds_count", severity="SEV2") == 0
    assert await open_now(warroom) == 1


async def test_a_metric_that_fails_never_fails_the_use_case(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(incident: Incident) -> str:
        raise RuntimeError("the metric broke")

    monkeypatch.setattr("bot.observability.metrics.incident_source", broken)
    _, here = await declare_and_deliver(harness)  # declared and delivered all the same
    await harness.lifecycle.resolve(here, actor="U0ONCALL")
    (stored,) = await harness.incidents()
    assert stored.status is Status.RESOLVED
    assert "a metric could not be recorded" in caplog.text
    assert declared(harness.warroom) == 0


async def test_an_incident_counts_under_its_severity_at_resolution(harness: Harness) -> None:
    warroom = harness.warroom
    _, here = await declare_and_deliver(harness)
    await harness.lifecycle.set_severity(here, actor="U0ONCALL", severity="sev1")
    assert await open_now(warroom) == 0 and await open_now(warroom, "SEV1") == 1
    await harness.lifecycle.resolve(here, actor="U0ONCALL")
    assert resolved(warroom, "SEV1") == 1 and resolved(warroom) == 0
    assert declared(warroom) == 1  # declared as SEV2: that stays as it was counted


async def test_a_declaration_from_teams_counts_as_teams(harness: Harness) -> None:
    await harness.service.declare(
        Declaration(
            title="Checkout errors", severity="sev2", declared_by="29:teams-user",
            declared_in="teams:1",
        )
    )  # fmt: skip
    await harness.worker.drain()
    assert declared(harness.warroom, source="teams") == 1
    assert declared(harness.warroom) == 0


async def test_an_alert_opens_and_auto_resolves_as_source_alert(
    make: Callable[[Policy], Warroom], clock: SteppingClock
) -> None:
    policy = with_alerts(
        routes=[{"matchers": ['severity="critical"'], "action": "declare", "auto_resolve": True}]
    )
    warroom = make(policy)
    await warroom.alerts.receive(batch([alert("a1")]))
    assert declared(warroom, "SEV1", "alert") == 1
    assert declared(warroom, "SEV1", "command") == 0
    assert await open_now(warroom, "SEV1") == 1

    await warroom.alerts.receive(batch([alert("a1")]))  # the same again: nothing new
    assert declared(warroom, "SEV1", "alert") == 1

    clock.advance(minutes=12)
    await warroom.alerts.receive(batch([alert("a1", "resolved")]))
    assert resolved(warroom, "SEV1", "alert") == 1
    assert counted(warroom, "warroom_time_to_resolve_seconds_sum", severity="SEV1") == 12 * 60
    assert await open_now(warroom, "SEV1") == 0
    await warroom.worker.drain()


async def test_alert_deliveries_stored_together_count_only_what_committed(
    make: Callable[[Policy], Warroom],
) -> None:
    """Deliveries that arrive together share a transaction, each in a savepoint: each
    incident they open is counted once."""
    warroom = make(default_policy())
    receipts = await asyncio.gather(
        *(warroom.alerts.receive(batch([alert(f"a{n}")], group=f"svc{n}")) for n in range(5))
    )
    assert len({receipt.incident for receipt in receipts}) == 5
    assert declared(warroom, "SEV1", "alert") == 5
    assert await open_now(warroom, "SEV1") == 5
    await warroom.worker.drain()


# timers -------------------------------------------------------------------------------


async def test_a_late_timer_observes_how_late_it_ran(harness: Harness) -> None:
    warroom = harness.warroom
    incident, _ = await declare_and_deliver(harness)  # SEV2: an update every 30 min
    assert incident.next_reminder_at is not None
    harness.clock.now = incident.next_reminder_at + timedelta(seconds=7)
    escalation_due = incident.next_escalation_at
    fired = await harness.timers.tick()
    assert fired.reminders == 1

    lateness = "warroom_timer_lateness_seconds"
    assert counted(warroom, f"{lateness}_count", timer="reminder") == 1
    assert counted(warroom, f"{lateness}_sum", timer="reminder") == 7
    assert counted(warroom, f"{lateness}_bucket", timer="reminder", le="5.0") == 0
    assert counted(warroom, f"{lateness}_bucket", timer="reminder", le="10.0") == 1
    if fired.escalations:  # the escalation path's step came due before the reminder did
        assert escalation_due is not None
        late = (harness.clock.now - escalation_due).total_seconds()
        assert counted(warroom, f"{lateness}_sum", timer="escalation") == late

    assert (await harness.timers.tick()).reminders == 0  # nothing fired: nothing observed
    assert counted(warroom, f"{lateness}_count", timer="reminder") == 1
    await harness.worker.drain()


async def test_a_timer_on_time_observes_zero(harness: Harness) -> None:
    incident, _ = await declare_and_deliver(harness)
    assert incident.next_reminder_at is not None
    harness.clock.now = incident.next_reminder_at
    assert (await harness.timers.tick()).reminders == 1
    lateness = "warroom_timer_lateness_seconds"
    assert counted(harness.warroom, f"{lateness}_count", timer="reminder") == 1
    assert counted(harness.warroom, f"{lateness}_sum", timer="reminder") == 0
    await harness.worker.drain()


# diagnostics --------------------------------------------------------------------------


def runs_total(warroom: Warroom, result: str) -> float:
    return counted(warroom, "warroom_diagnostics_runs_total", result=result)


async def test_diagnostics_runs_count_by_result(
    database_url: str, clock: SteppingClock, tmp_path: Path
) -> None:
    diag = wired(database_url, clock, diag_policy(tmp_path))
    try:
        incident = await diag.declare()
        channel = diag.channel(incident).id
        await diag.command("diag app-port", channel=channel)
        assert runs_total(diag.warroom, "passed") == 1

        diag.checks.results["api-health"] = CheckResult(
            "api-health", CheckOutcome.FAILED, "timed out after 5s", latency_ms=5000
        )
        await diag.command("diag app-unresponsive", channel=channel)
        assert runs_total(diag.warroom, "failed") == 1
        assert runs_total(diag.warroom, "passed") == 1

        # A run left "running" by a stopped process ends as interrupted when claimed again.
        (run_id, incident_id) = await diag.warroom.db.transaction(
            lambda session: _left_running(session, clock)
        )
        await diag.warroom.worker.drain()
        assert runs_total(diag.warroom, "interrupted") == 1
        assert incident_id == incident.id and run_id
    finally:
        await closed(diag)


def _left_running(session: Session, clock: SteppingClock) -> tuple[int, int]:
    run = session.scalars(select(DiagnosticRun).order_by(col(DiagnosticRun.id))).first()
    assert run is not None and run.id is not None
    run.state, run.results, run.finished_at = RunState.RUNNING, [], None
    session.add(
        Delivery(
            incident_id=run.incident_id,
            kind=DeliveryKind.RUN_DIAGNOSTICS.value,
            lane=lane_of(DeliveryKind.RUN_DIAGNOSTICS),
            payload={"run": run.id},
            created_at=clock(),
            next_attempt_at=clock(),
        )
    )
    return run.id, run.incident_id


@pytest.mark.parametrize(
    ("tally", "interrupted", "result"),
    [
        (Tally(passed=3), False, "passed"),
        (Tally(passed=2, warned=1), False, "warned"),
        (Tally(passed=1, warned=1, failed=1, skipped=1), False, "failed"),
        (Tally(passed=1, interrupted=2), False, "interrupted"),
        (Tally(), True, "interrupted"),
    ],
)
def test_a_run_is_named_by_its_worst_outcome(tally: Tally, interrupted: bool, result: str) -> None:
    assert diagnostics_result(tally, interrupted=interrupted) == result


# the outbox ---------------------------------------------------------------------------


def owed(at: SteppingClock, state: DeliveryState = DeliveryState.PENDING) -> Delivery:
    """A delivery as the outbox holds it (no worker runs in these tests unless drained)."""
    kind = DeliveryKind.POST_TRIAGE
    return Delivery(
        incident_id=None,
        kind=kind.value,
        lane=lane_of(kind),
        payload={"group": 1},
        state=state,
        created_at=at(),
        next_attempt_at=at(),
    )


async def test_the_outbox_depth_and_its_oldest_age_are_read_at_scrape(harness: Harness) -> None:
    warroom, clock = harness.warroom, harness.clock
    assert value(await scraped(warroom), "warroom_outbox_oldest_pending_age_seconds") == 0

    await warroom.db.transaction(lambda session: session.add(owed(clock)))
    clock.advance(seconds=30)
    await warroom.db.transaction(
        lambda session: session.add_all([owed(clock), owed(clock, DeliveryState.FAILED)])
    )
    clock.advance(seconds=12)
    samples = await scraped(warroom)
    assert value(samples, "warroom_outbox_pending") == 2
    assert value(samples, "warroom_outbox_oldest_pending_age_seconds") == 42
    assert value(samples, "warroom_outbox_failed") == 1

    def landed(session: Session) -> None:
        for delivery in session.scalars(select(Delivery)):
            if delivery.state is DeliveryState.PENDING:
                delivery.state = DeliveryState.DONE

    await warroom.db.transaction(landed)
    samples = await scraped(warroom)
    assert value(samples, "warroom_outbox_pending") == 0
    assert value(samples, "warroom_outbox_oldest_pending_age_seconds") == 0
