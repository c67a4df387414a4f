"""Silencing an incident's alerts at Alertmanager: the command, the button, the retry
that adopts what an earlier attempt created."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from bot.inbound.requests import ButtonPress, CommandRequest, Requester
from bot.storage.models import TimelineEntry, TimelineKind
from tests.unit.alerts.conftest import Alerts, alert, batch, with_alerts

MakeAlerts = Callable[..., Alerts]
AM = "http://alertmanager.test:9093"


def silenceable() -> object:
    return with_alerts(sources={"alertmanager": {"alertmanager_url": AM}})


async def opened(alerts: Alerts) -> str:
    await alerts.receive(batch([alert("a1"), alert("a2")]))
    channel = alerts.chat.channel_named("inc-1-higherrorrate-on-checkout")
    assert channel is not None
    return channel.id


async def test_the_command_silences_the_group_by_its_labels(make_alerts: MakeAlerts) -> None:
    alerts = make_alerts(silenceable())
    channel = await opened(alerts)
    reply = await alerts.warroom.inbound.command(
        CommandRequest(Requester("U0RESPONDER", channel), "silence 4h")
    )
    assert reply.markdown.startswith("🔕 Silencing its alert group of INC-1 at Alertmanager")
    await alerts.warroom.worker.drain()
    (created,) = [r for r in alerts.silences if r.method == "POST"]
    assert str(created.url) == f"{AM}/api/v2/silences"
    sent = json.loads(created.content)
    assert sent["matchers"] == [
        {"name": "alertname", "value": "HighErrorRate", "isRegex": False, "isEqual": True},
        {"name": "service", "value": "checkout", "isRegex": False, "isEqual": True},
    ]
    assert sent["endsAt"] == alerts.clock.now.replace(hour=18).isoformat()
    assert sent["createdBy"] == "warroom (U0RESPONDER)" and "INC-1" in sent["comment"]
    await alerts.warroom.worker.drain()
    messages = alerts.channel_messages("inc-1-higherrorrate-on-checkout")
    assert any("🔕 The alerts of **INC-1** are silenced" in text for text in messages)
    entries = await alerts.warroom.db.transaction(
        lambda session: (
            session.query(TimelineEntry).filter(TimelineEntry.kind == TimelineKind.SILENCED).all()
        )
    )
    assert [e.data["silences"] for e in entries] == [["silence-1"]]


async def test_a_retry_after_a_lost_answer_adopts_the_silence_instead_of_a_second(
    make_alerts: MakeAlerts,
) -> None:
    alerts = make_alerts(silenceable())
    channel = await opened(alerts)
    created: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        alerts.silences.append(request)
        if request.method == "GET":
            return httpx.Response(200, json=[{**c, "status": {"state": "active"}} for c in created])
        created.append({"id": "s-1", "comment": json.loads(request.content)["comment"]})
        if len(created) == 1:
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return httpx.Response(200, json={"silenceID": f"s-{len(created)}"})

    alerts.alertmanager = answer
    press = ButtonPress(Requester("U0RESPONDER", channel), "incident.silence", "1:1h")
    assert (await alerts.warroom.inbound.press(press)).markdown.startswith("🔕 Silencing")
    await alerts.warroom.worker.drain()
    alerts.clock.advance(seconds=10)
    await alerts.warroom.worker.drain()
    assert len(created) == 1  # the retry found it by its tag
    assert [r.method for r in alerts.silences] == ["POST", "GET"]


async def test_silencing_is_refused_with_a_reason(make_alerts: MakeAlerts) -> None:
    plain = make_alerts()
    channel = await opened(plain)
    reply = await plain.warroom.inbound.command(
        CommandRequest(Requester("U0RESPONDER", channel), "silence 1h")
    )
    assert "alertmanager_url" in reply.markdown
    bad = await plain.warroom.inbound.command(
        CommandRequest(Requester("U0RESPONDER", channel), "silence forever")
    )
    assert bad.markdown.startswith("⚠️") and "silence" in bad.markdown


async def test_an_incident_without_alertmanager_alerts_has_nothing_to_silence(
    make_alerts: MakeAlerts,
) -> None:
    alerts = make_alerts(silenceable())
    await alerts.warroom.inbound.command(
        CommandRequest(Requester("U0DECLARER", "C0GENERAL"), "declare sev2 Checkout errors")
    )
    await alerts.warroom.worker.drain()
    reply = await alerts.warroom.inbound.command(
        CommandRequest(Requester("U0DECLARER", "C0GENERAL"), "silence INC-1 1h")
    )
    assert "has no alerts from Alertmanager to silence" in reply.markdown
