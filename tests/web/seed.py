"""Incidents for the web view's tests, made the way people and alerts make them: commands
through the dispatcher, a captured message, a diagnostics run, an alert delivery.

- INC-1 SEV1 "Checkout errors", public: commander, acknowledged, a note, a captured
  message with its link, a diagnostics run (one check failed), an action item; its Next
  Update is overdue by the end.
- INC-2 SEV2 "Payroll export leaked", private: only U0BOB is in it.
- INC-3 SEV3 "Search is slow", public, resolved.
- INC-4 SEV1 "HighErrorRate on checkout", opened by Alertmanager with two alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.alerts.model import AlertBatch, AlertIn, AlertSource, AlertStatus, Link
from bot.app import Warroom
from bot.chat.fake import FakeChat
from bot.diagnostics.results import CheckOutcome, CheckResult
from bot.inbound.requests import CommandRequest, Reply, Requester
from bot.incidents.access import IncidentRef
from bot.policy.diagnostics import CheckBase
from bot.policy.schema import Policy, load_policy
from tests.conftest import SteppingClock

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
GENERAL = "C0GENERAL"
PUBLIC_TITLE = "Checkout errors"
PRIVATE_TITLE = "Payroll export leaked"
RESOLVED_TITLE = "Search is slow"
ALERT_TITLE = "HighErrorRate on checkout"
CAPTURED_TEXT = "Error rate back under 1% after the rollback"
NOTE_TEXT = "Rolled back deploy 4512"
ACTION_TEXT = "Add a canary stage to checkout deploys"

POLICY = """\
diagnostics:
  checks:
    - {name: api-health, type: http, url: "https://api.example.com/health", expect_status: 200}
    - {name: app-port, type: tcp, host: 127.0.0.1, port: 3000}
"""


def web_policy(directory: Path) -> Policy:
    path = directory / "web-policy.yml"
    path.write_text(POLICY, encoding="utf-8")
    return load_policy(path)


async def scripted_checks(check: CheckBase) -> CheckResult:
    """Checks that answer at once: the API is fine, the port is not."""
    if check.name == "app-port":
        return CheckResult(
            check.name,
            CheckOutcome.FAILED,
            "connection refused",
            latency_ms=3,
            details=("127.0.0.1:3000 refused the connection",),
            hint="Is the process listening on 3000?",
        )
    return CheckResult(check.name, CheckOutcome.PASSED, "200 OK", latency_ms=41)


@dataclass(frozen=True)
class Seeded:
    public_channel: str  # INC-1's
    captured_link: str  # the captured message's permalink


async def command(warroom: Warroom, text: str, *, user: str, channel: str | None) -> Reply:
    reply = await warroom.inbound.command(CommandRequest(Requester(user, channel), text))
    await warroom.worker.drain()
    return reply


async def seed(warroom: Warroom, chat: FakeChat, clock: SteppingClock) -> Seeded:
    await command(warroom, f"declare sev1 {PUBLIC_TITLE}", user=ALICE, channel=GENERAL)
    channel = chat.opened()[-1].id
    clock.advance(minutes=3)
    await command(warroom, f"role commander <user:{ALICE}>", user=ALICE, channel=channel)
    await command(warroom, "ack", user=ALICE, channel=channel)
    clock.advance(minutes=2)
    await command(warroom, f"note {NOTE_TEXT}", user=ALICE, channel=channel)
    said = chat.post_as(CAROL, channel, CAPTURED_TEXT)
    message = await chat.read_message(channel_id=channel, message_ref=said)
    assert message is not None and message.permalink
    await warroom.capture.capture(IncidentRef(channel_id=channel), message, actor=ALICE)
    await command(warroom, "diag all", user=ALICE, channel=channel)
    await command(
        warroom, f"action add <user:{ALICE}> due 2026-12-01 {ACTION_TEXT}", user=ALICE,
        channel=channel,
    )  # fmt: skip

    await command(warroom, f"declare --private sev2 {PRIVATE_TITLE}", user=BOB, channel=GENERAL)

    await command(warroom, f"declare sev3 {RESOLVED_TITLE}", user=ALICE, channel=GENERAL)
    clock.advance(minutes=10)
    await command(warroom, "ack INC-3", user=ALICE, channel=GENERAL)
    clock.advance(minutes=20)
    await command(
        warroom, "resolve INC-3 Reindexed the search cluster", user=ALICE, channel=GENERAL
    )

    # INC-1's Next Update (SEV1: every 15 min) has long passed; INC-4's is still ahead.
    clock.advance(minutes=20)
    await warroom.alerts.receive(alert_batch())
    await warroom.worker.drain()
    clock.advance(minutes=1)
    return Seeded(public_channel=channel, captured_link=message.permalink)


def alert_batch() -> AlertBatch:
    alerts = tuple(
        AlertIn(
            fingerprint=f"fp-{instance}",
            status=AlertStatus.FIRING,
            labels={"alertname": "HighErrorRate", "service": "checkout", "instance": instance},
            annotations={"summary": f"5xx rate above 5% on {instance}"},
            links=(Link("graph", f"https://prometheus.example/graph?g={instance}"),),
        )
        for instance in ("a", "b")
    )
    return AlertBatch(
        source=AlertSource.ALERTMANAGER,
        group_key='{}:{alertname="HighErrorRate", service="checkout"}',
        status=AlertStatus.FIRING,
        alerts=alerts,
        group_labels={"alertname": "HighErrorRate", "service": "checkout"},
        common_labels={"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"},
    )
