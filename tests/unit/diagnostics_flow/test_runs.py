"""Diagnostics on request: one message per run, edited with the results; the detail in
its thread; a timeline entry; the card's Last diagnostics; and runs that cannot happen
twice or be left "running"."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery.outbox import DeliveryKind, lane_of
from bot.diagnostics.results import CheckOutcome, CheckResult
from bot.inbound.requests import ButtonPress, Requester
from bot.incidents.cards import DIAGNOSE_ACTION
from bot.storage.models import Delivery, DiagnosticRun, RunState, TimelineKind
from tests.unit.diagnostics_flow.conftest import DECLARER, Diag


async def runs(diag: Diag) -> list[DiagnosticRun]:
    return await diag.warroom.db.transaction(
        lambda session: list(session.scalars(select(DiagnosticRun).order_by(DiagnosticRun.id)))
    )


def posted(diag: Diag, channel_id: str) -> list[str]:
    return [m.markdown for m in diag.chat.channels[channel_id].messages.values()]


async def test_diag_lists_checks_and_runbooks_without_secrets(diag: Diag) -> None:
    reply = await diag.command("diag", channel="C0GENERAL")
    text = reply.markdown
    assert "api-health" in text and "app-port" in text and "database" in text
    assert "app-unresponsive" in text and "Application unresponsive" in text
    assert "10.0.0.5:3000" in text and "$DIAG\\_DSN" in text
    assert "DIAG_TOKEN" not in text and "Authorization" not in text


async def test_a_check_posts_one_message_then_its_results_and_the_detail(diag: Diag) -> None:
    incident = await diag.declare()
    channel = diag.channel(incident).id
    diag.checks.results["api-health"] = CheckResult(
        "api-health",
        CheckOutcome.FAILED,
        '$.status is "degraded"',
        latency_ms=48,
        details=("status 200", '$.status == "ok": $.status is "degraded"'),
        output='{"status": "degraded"}',
    )
    before = len(posted(diag, channel))
    reply = await diag.command("diag api-health", channel=channel)
    assert reply.markdown.startswith("🩺 Running check api-health on INC-1 (1 check)")

    messages = diag.chat.channels[channel].messages
    new = list(messages.items())[before:]
    run_ref, run_message = next((ref, m) for ref, m in new if m.marker == "diagnostics:1")
    assert run_message.thread_ref is None
    assert "❌ **api-health** · 48 ms" in run_message.markdown
    assert "1 failed" in run_message.markdown
    detail = next(m for _, m in new if m.marker == "diagnostics-detail:1")
    assert detail.thread_ref == run_ref
    assert "status 200" in detail.markdown and "```" in detail.markdown
    # One message for the run: the results edited it in place.
    assert sum(1 for _, m in new if (m.marker or "").startswith("diagnostics:")) == 1

    entries = [e for e in await diag_timeline(diag) if e.kind is TimelineKind.DIAGNOSTICS]
    assert len(entries) == 1
    assert entries[0].data["tally"]["failed"] == 1
    assert entries[0].data["checks"][0]["summary"] == '$.status is "degraded"'
    card = messages[incident_card_ref(diag, channel)]
    assert "**Last diagnostics**: 14:08 UTC · check api-health · 1 failed" in card.markdown
    assert "Diagnostics (check api-health)" in card.markdown


async def diag_timeline(diag: Diag) -> list:  # type: ignore[type-arg]
    from bot.storage.models import TimelineEntry

    return await diag.warroom.db.transaction(
        lambda session: list(session.scalars(select(TimelineEntry).order_by(TimelineEntry.id)))
    )


def incident_card_ref(diag: Diag, channel: str) -> str:
    messages = diag.chat.channels[channel].messages
    return next(ref for ref, m in messages.items() if (m.marker or "").startswith("card:"))


async def test_a_runbook_stops_at_the_first_failure_and_shows_its_hint(diag: Diag) -> None:
    incident = await diag.declare()
    channel = diag.channel(incident).id
    diag.checks.results["app-port"] = CheckResult(
        "app-port", CheckOutcome.FAILED, "connection refused", latency_ms=1
    )
    await diag.command("diag app-unresponsive", channel=channel)
    assert diag.checks.ran == ["api-health", "app-port"]  # one after the other, then stopped
    message = next(
        m for m in diag.chat.channels[channel].messages.values() if m.marker == "diagnostics:1"
    )
    text = message.markdown
    assert "runbook Application unresponsive" in text
    assert "✅ **api-health**" in text
    assert "❌ **app-port** · 1 ms · connection refused" in text
    assert "↳ Is the process listening on 3000?" in text
    assert "⏭️ **database** · skipped: app-port failed" in text
    assert "Restart the container" not in text  # the hint of a step that passed
    assert "1 passed, 1 failed, 1 skipped" in text


async def test_all_runs_every_check_at_once(diag: Diag) -> None:
    incident = await diag.declare()
    channel = diag.channel(incident).id
    gates = [diag.checks.hold(name) for name in ("api-health", "app-port", "database")]
    await diag.command("diag all", channel=channel, settle=False)
    draining = asyncio.create_task(diag.warroom.worker.drain())
    await diag.checks.started("api-health", "app-port", "database")
    assert sorted(diag.checks.ran) == ["api-health", "app-port", "database"]  # all started
    running = next(
        m for m in diag.chat.channels[channel].messages.values() if m.marker == "diagnostics:1"
    )
    assert "⏳" in running.markdown and "running 3 checks" in running.markdown
    for gate in gates:
        gate.set()
    await draining
    (run,) = await runs(diag)
    assert run.state is RunState.DONE and len(run.results) == 3


async def test_a_double_click_runs_the_check_once(diag: Diag) -> None:
    incident = await diag.declare()
    channel = diag.channel(incident).id
    gate = diag.checks.hold("api-health")
    first = await diag.command("diag api-health", channel=channel, settle=False)
    draining = asyncio.create_task(diag.warroom.worker.drain())
    second = await diag.command("diag api-health", channel=channel, settle=False)
    also = await diag.command("diag app-unresponsive", channel=channel, settle=False)
    assert first.markdown.startswith("🩺 Running")
    assert "api-health is already running on INC-1" in second.markdown
    assert "already running" in also.markdown  # the runbook includes the running check
    gate.set()
    await draining
    assert diag.checks.ran == ["api-health"]
    assert len(await runs(diag)) == 1
    again = await diag.command("diag api-health", channel=channel)  # once it has ended
    assert again.markdown.startswith("🩺 Running")


async def test_arguments_cannot_be_passed(diag: Diag) -> None:
    incident = await diag.declare()
    channel = diag.channel(incident).id
    reply = await diag.command("diag api-health; rm -rf /", channel=channel)
    assert "no check or runbook is named" in reply.markdown
    assert diag.checks.ran == [] and await runs(diag) == []


async def test_who_may_run_them(diag: Diag) -> None:
    await diag.declare()
    elsewhere = await diag.command("diag INC-1 api-health", user="U0OTHER", channel="C0ELSE")
    assert "only people in INC-1's channel may run diagnostics on it" in elsewhere.markdown
    private = await diag.declare(private=True)
    hidden = await diag.command("diag INC-2 api-health", user="U0OTHER", channel="C0ELSE")
    assert "there is no INC-2" in hidden.markdown
    assert private.number == 2 and diag.checks.ran == []


async def test_a_run_interrupted_by_a_stop_ends_as_interrupted(diag: Diag) -> None:
    """A process stopped while the checks ran left its run `running`; its delivery, claimed
    again once the lease lapsed, ends the run as interrupted instead of running it again."""
    incident = await diag.declare()
    channel = diag.channel(incident).id
    await diag.command("diag all", channel=channel)
    (run,) = await runs(diag)

    def as_left_by_a_stopped_process(session: Session) -> None:
        stored = session.get(DiagnosticRun, run.id)
        assert stored is not None
        stored.state, stored.results, stored.finished_at = RunState.RUNNING, [], None
        session.add(
            Delivery(
                incident_id=incident.id,
                kind=DeliveryKind.RUN_DIAGNOSTICS.value,
                lane=lane_of(DeliveryKind.RUN_DIAGNOSTICS),
                payload={"run": run.id},
                created_at=diag.clock(),
                next_attempt_at=diag.clock(),
            )
        )

    await diag.warroom.db.transaction(as_left_by_a_stopped_process)
    ran_before = list(diag.checks.ran)
    await diag.warroom.worker.drain()
    (run,) = await runs(diag)
    assert run.state is RunState.INTERRUPTED
    assert diag.checks.ran == ran_before  # never run a second time
    message = next(
        m for m in diag.chat.channels[channel].messages.values() if m.marker == "diagnostics:1"
    )
    assert "⛔ Interrupted" in message.markdown
    assert "⛔ **api-health**" in message.markdown
    entries = [e for e in await diag_timeline(diag) if e.kind is TimelineKind.DIAGNOSTICS]
    assert entries[-1].data["state"] == "interrupted"


async def test_the_card_button_runs_the_runbook_or_opens_a_picker(diag: Diag) -> None:
    incident = await diag.declare()
    channel = diag.channel(incident).id
    card = diag.chat.channels[channel].messages[incident_card_ref(diag, channel)]
    button = next(b for b in card.buttons if b.action == DIAGNOSE_ACTION)
    assert button.label == "Run diagnostics"
    # One runbook: the button runs it.
    reply = await diag.warroom.inbound.press(
        ButtonPress(Requester(DECLARER, channel), DIAGNOSE_ACTION, button.value)
    )
    await diag.warroom.worker.drain()
    assert reply.markdown.startswith("🩺 Running runbook Application unresponsive")
    assert diag.checks.ran == ["api-health", "app-port", "database"]
