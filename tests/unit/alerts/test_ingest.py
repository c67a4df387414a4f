"""Alert deliveries become incidents: grouped, deduplicated, coalesced, resolved, reopened,
and held back in a storm. Driven on FakeChat with a stepping clock: nothing sleeps."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from bot.alerts.model import AlertSource
from bot.inbound.requests import ButtonPress, Requester
from bot.incidents.access import IncidentRef
from bot.incidents.status import Status
from bot.storage.models import Alert, Delivery, Incident, TimelineEntry, TimelineKind
from tests.unit.alerts.conftest import TRIAGE, Alerts, alert, batch, with_alerts

MakeAlerts = Callable[..., Alerts]


async def count(alerts: Alerts, model: type, *where: object) -> int:
    return int(
        await alerts.warroom.db.transaction(
            lambda session: session.scalar(select(func.count()).select_from(model).where(*where))
        )
    )


async def incidents(alerts: Alerts) -> list[Incident]:
    return await alerts.warroom.db.transaction(
        lambda session: list(session.scalars(select(Incident).order_by(Incident.number)))
    )


async def alert_entries(alerts: Alerts) -> list[TimelineEntry]:
    return await alerts.warroom.db.transaction(
        lambda session: list(
            session.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.kind == TimelineKind.ALERT)
                .order_by(TimelineEntry.id)
            )
        )
    )


async def test_a_critical_alert_opens_an_incident_declared_by_its_source(
    make_alerts: MakeAlerts,
) -> None:
    alerts = make_alerts()
    receipt = await alerts.receive(batch([alert("a1", instance="10.0.0.5:8080")]))
    assert (receipt.action, receipt.incident, receipt.new) == ("declare", "INC-1", 1)
    (incident,) = await incidents(alerts)
    assert incident.severity == "SEV1" and incident.status is Status.INVESTIGATING
    assert (incident.source, incident.declared_by) == ("alertmanager", "alert:alertmanager")
    assert incident.title == "HighErrorRate on checkout"
    assert incident.next_update_at is not None  # the cadence runs as for a typed declaration
    channel = alerts.chat.channel_named("inc-1-higherrorrate-on-checkout")
    assert channel is not None and channel.members == set()  # no person to invite
    (card,) = channel.messages.values()
    assert "**Alerts**: 1 firing, 0 resolved" in card.markdown
    assert "[graph](http://prometheus.local/graph?g=a1)" in card.markdown
    assert "Incident declared as SEV1 by Alertmanager" in card.markdown
    assert "<user:alert:" not in card.markdown  # never a mention of the source
    announced = alerts.chat.channels["C0ANNOUNCE"].messages
    assert len(announced) == 1


async def test_the_same_state_twice_changes_and_posts_nothing(make_alerts: MakeAlerts) -> None:
    alerts = make_alerts()
    body = batch([alert("a1"), alert("a2")])
    await alerts.receive(body)
    deliveries = await count(alerts, Delivery)
    entries = len(await alert_entries(alerts))
    again = await alerts.receive(body)
    await alerts.settle()
    assert not again.changed and again.incident == "INC-1"
    assert await count(alerts, Delivery) == deliveries
    assert len(await alert_entries(alerts)) == entries
    assert len(await incidents(alerts)) == 1


async def test_a_burst_of_alerts_is_one_timeline_entry_each_and_one_message(
    make_alerts: MakeAlerts,
) -> None:
    alerts = make_alerts()
    await alerts.receive(batch([alert("a0")]))
    channel_name = "inc-1-higherrorrate-on-checkout"
    posted_before = len(alerts.channel_messages(channel_name))
    known = [alert("a0")]
    for wave in range(10):  # Alertmanager re-sends the group with 5 more each time
        known += [alert(f"a{wave}-{i}", instance=f"10.0.{wave}.{i}") for i in range(5)]
        await alerts.receive(batch(known))
    assert len(await alert_entries(alerts)) == 51
    await alerts.settle()
    posted = alerts.channel_messages(channel_name)[posted_before:]
    assert len(posted) == 1, posted
    (digest,) = posted
    assert "50 new firing" in digest and "40 earlier" in digest
    assert "**Alerts now**: 51 firing, 0 resolved" in digest
    (incident,) = await incidents(alerts)
    card = alerts.chat.channel_named(channel_name).messages[incident.card_ref or ""]  # type: ignore[union-attr]
    assert "**Alerts**: 51 firing, 0 resolved" in card.markdown


async def test_state_is_kept_per_fingerprint_and_all_resolved_is_said_once(
    make_alerts: MakeAlerts,
) -> None:
    alerts = make_alerts()
    name = "inc-1-higherrorrate-on-checkout"
    await alerts.receive(batch([alert("a1")]))
    await alerts.receive(batch([alert("a1"), alert("a2")]))
    await alerts.receive(batch([alert("a1", "resolved"), alert("a2")]))
    await alerts.settle()
    before = len(alerts.channel_messages(name))
    # The group's resolved body carries only its last alert.
    await alerts.receive(batch([alert("a2", "resolved")]))
    await alerts.receive(batch([alert("a2", "resolved")]))  # re-sent
    await alerts.settle()
    posted = alerts.channel_messages(name)[before:]
    assert len(posted) == 1 and "All alerts resolved" in posted[0]
    channel = alerts.chat.channel_named(name)
    assert channel is not None
    digest = list(channel.messages.values())[-1]
    assert [b.label for b in digest.buttons] == ["Resolve incident"]
    assert await count(alerts, Alert, Alert.status == "firing") == 0
    (incident,) = await incidents(alerts)
    assert incident.status is Status.INVESTIGATING  # a person confirms the resolution


async def test_auto_resolve_resolves_the_incident_when_its_alerts_resolve(
    make_alerts: MakeAlerts,
) -> None:
    policy = with_alerts(
        routes=[{"matchers": ['severity="critical"'], "action": "declare", "auto_resolve": True}]
    )
    alerts = make_alerts(policy)
    await alerts.receive(batch([alert("a1")]))
    await alerts.receive(batch([alert("a1", "resolved")]))
    (incident,) = await incidents(alerts)
    assert incident.status is Status.RESOLVED and incident.resolution == "All alerts resolved"
    messages = alerts.channel_messages("inc-1-higherrorrate-on-checkout")
    assert any("[RESOLVED] INC-1" in text for text in messages)


async def test_a_group_firing_again_soon_reopens_its_incident_and_later_opens_a_new_one(
    make_alerts: MakeAlerts,
) -> None:
    alerts = make_alerts()
    await alerts.receive(batch([alert("a1")]))
    (incident,) = await incidents(alerts)
    await alerts.warroom.lifecycle.resolve(
        _ref(incident), actor="U0RESPONDER", resolution="rolled back"
    )
    await alerts.receive(batch([alert("a1", "resolved")]))
    alerts.clock.advance(minutes=30)
    reopened = await alerts.receive(batch([alert("a1")]))
    assert reopened.incident == "INC-1"
    (incident,) = await incidents(alerts)
    assert incident.status is Status.INVESTIGATING
    await alerts.warroom.lifecycle.resolve(_ref(incident), actor="U0RESPONDER", resolution="again")
    await alerts.receive(batch([alert("a1", "resolved")]))
    alerts.clock.advance(hours=2)
    later = await alerts.receive(batch([alert("a1")]))
    assert later.incident == "INC-2"
    first, second = await incidents(alerts)
    assert first.status is Status.RESOLVED and second.status is Status.INVESTIGATING


async def test_past_the_storm_limit_new_groups_gather_in_one_storm_incident(
    make_alerts: MakeAlerts,
) -> None:
    policy = with_alerts(
        routes=[
            {
                "matchers": ['severity="critical"'],
                "action": "declare",
                "max_new_incidents_per_minute": 3,
            }
        ]
    )
    alerts = make_alerts(policy)
    receipts = [await alerts.receive(batch([alert(f"g{n}")], group=f"svc{n}")) for n in range(6)]
    assert [r.incident for r in receipts] == ["INC-1", "INC-2", "INC-3", "INC-4", "INC-4", "INC-4"]
    opened = await incidents(alerts)
    storm = opened[-1]
    assert storm.title.startswith("Alert storm") and storm.storm_route == 0
    card = alerts.chat.channel_named("inc-4-alert-storm-more-than-3-new-alert-groups-a-minute")
    assert card is not None
    (text,) = [m.markdown for m in card.messages.values()]
    assert "**Alert groups**:" in text and "HighErrorRate on svc4" in text
    # A minute later the route may open incidents of its own again.
    alerts.clock.advance(seconds=61)
    later = await alerts.receive(batch([alert("late")], group="svc-late"))
    assert later.incident == "INC-5"


async def test_notify_posts_a_triage_card_declare_links_it_ignore_closes_it(
    make_alerts: MakeAlerts,
) -> None:
    policy = with_alerts(
        routes=[{"matchers": ['severity="warning"'], "action": "notify", "channel": TRIAGE}]
    )
    alerts = make_alerts(policy)
    receipt = await alerts.receive(batch([alert("d1"), alert("d2")], severity="warning"))
    assert (receipt.action, receipt.incident) == ("notify", None)
    triage = alerts.chat.channels[TRIAGE]
    (card,) = triage.messages.values()
    assert "🔔 Alert: HighErrorRate on checkout" in card.markdown
    assert "**Alerts**: 2 firing, 0 resolved" in card.markdown
    assert [b.label for b in card.buttons] == ["Declare incident", "Ignore"]
    summary = await alerts.warroom.inbound.press(
        _press(card.buttons[0].action, card.buttons[0].value)
    )
    assert "Declaring INC-1 (SEV3)" in summary.markdown
    await alerts.warroom.worker.drain()
    (card,) = triage.messages.values()
    assert "Declared as **INC-1** by <user:U0TRIAGER>" in card.markdown and not card.buttons
    (incident,) = await incidents(alerts)
    assert incident.source == "alertmanager" and incident.declared_by == "U0TRIAGER"
    channel = alerts.chat.channel_named("inc-1-higherrorrate-on-checkout")
    assert channel is not None and "U0TRIAGER" in channel.members
    assert len(await alert_entries(alerts)) == 2
    # More alerts of the group now attach to the declared incident.
    attached = await alerts.receive(
        batch([alert("d1"), alert("d2"), alert("d3")], severity="warning")
    )
    assert attached.incident == "INC-1"

    second = await alerts.receive(batch([alert("x1")], group="other", severity="warning"))
    other = list(triage.messages.values())[-1]
    reply = await alerts.warroom.inbound.press(
        _press(other.buttons[1].action, other.buttons[1].value)
    )
    assert reply.markdown.startswith("🙈 Ignored")
    await alerts.warroom.worker.drain()
    assert "Ignored by <user:U0TRIAGER>" in list(triage.messages.values())[-1].markdown
    again = await alerts.warroom.inbound.press(
        _press(other.buttons[0].action, other.buttons[0].value)
    )
    assert "was ignored" in again.markdown
    assert second.incident is None and len(await incidents(alerts)) == 1


async def test_drop_stores_and_posts_nothing(make_alerts: MakeAlerts) -> None:
    alerts = make_alerts()
    receipt = await alerts.receive(batch([alert("i1")], severity="info"))
    assert (receipt.action, receipt.incident) == ("drop", None)
    assert await count(alerts, Alert) == 1
    assert all(not channel.messages for channel in alerts.chat.channels.values())


async def test_generic_and_grafana_groups_are_kept_apart_from_alertmanager(
    make_alerts: MakeAlerts,
) -> None:
    alerts = make_alerts()
    first = await alerts.receive(batch([alert("a1")]))
    other = await alerts.receive(batch([alert("a1")], source=AlertSource.GENERIC))
    assert (first.incident, other.incident) == ("INC-1", "INC-2")


def _ref(incident: Incident) -> IncidentRef:
    """From the incident's own channel, where its responders act."""
    return IncidentRef(channel_id=incident.channel_id)


def _press(action: str, value: str) -> ButtonPress:
    return ButtonPress(
        requester=Requester(user_id="U0TRIAGER", channel_id=TRIAGE), action=action, value=value
    )


async def test_a_delivery_that_cannot_be_stored_is_answered_with_the_error(
    make_alerts: MakeAlerts,
) -> None:
    """The database away: the sender hears of it (the route answers 503), and the next
    delivery is stored as usual."""
    alerts = make_alerts()
    real = alerts.warroom.db.transaction
    failing = True

    async def transaction(work, *, urgent=False):  # type: ignore[no-untyped-def]
        if failing:
            raise OSError("database unreachable")
        return await real(work, urgent=urgent)

    alerts.warroom.db.transaction = transaction  # type: ignore[method-assign]
    with pytest.raises(OSError):
        await alerts.intake.receive(batch([alert("a1")]))
    failing = False
    receipt = await alerts.receive(batch([alert("a1")]))
    assert receipt.incident == "INC-1"
