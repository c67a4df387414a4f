"""What starts a run besides the command: an alert route's runbook (offered on the card,
run at once with auto_run), and who may start one (diagnostics.run)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.incidents.cards import DIAGNOSE_ACTION
from bot.storage.models import DiagnosticRun, Incident
from tests.conftest import SteppingClock
from tests.unit.alerts.conftest import alert, batch
from tests.unit.diagnostics_flow.conftest import POLICY, Diag, closed, diag_policy, wired

ROUTED = (
    POLICY
    + """\
  run: {roles: [commander]}
alerts:
  routes:
    - matchers: ['alertname="HighErrorRate"']
      action: declare
      runbook: app-unresponsive
      auto_run: true
"""
)


@pytest.fixture
async def routed(database_url: str, clock: SteppingClock, tmp_path: Path) -> AsyncIterator[Diag]:
    built = wired(database_url, clock, diag_policy(tmp_path, ROUTED))
    yield built
    await closed(built)


async def test_an_alert_route_runs_its_runbook_as_the_incident_opens(routed: Diag) -> None:
    await routed.warroom.alerts.receive(batch([alert("a1")]))
    await routed.warroom.worker.drain()
    (incident,) = await routed.warroom.db.transaction(
        lambda session: list(session.scalars(select(Incident)))
    )
    assert incident.runbook == "app-unresponsive"
    (run,) = await routed.warroom.db.transaction(
        lambda session: list(session.scalars(select(DiagnosticRun)))
    )
    assert run.requested_by == "alert:alertmanager" and run.target == "app-unresponsive"
    assert routed.checks.ran == ["api-health", "app-port", "database"]
    channel = routed.channel(incident)
    card = next(m for m in channel.messages.values() if (m.marker or "").startswith("card:"))
    button = next(b for b in card.buttons if b.action == DIAGNOSE_ACTION)
    assert button.label == "Run runbook: Application unresponsive"
    assert button.value == f"{incident.number}:app-unresponsive"
    run_message = next(m for m in channel.messages.values() if m.marker == "diagnostics:1")
    assert "asked by Alertmanager" in run_message.markdown


async def test_only_those_the_policy_names_may_run_them(routed: Diag) -> None:
    incident = await routed.declare()
    channel = routed.channel(incident).id
    refused = await routed.command("diag api-health", channel=channel)
    assert "only the commander may run diagnostics on INC-1" in refused.markdown
    await routed.command("role commander <user:U0LEAD>", channel=channel)
    allowed = await routed.command("diag api-health", user="U0LEAD", channel=channel)
    assert allowed.markdown.startswith("🩺 Running check api-health")
    assert routed.checks.ran == ["api-health"]
