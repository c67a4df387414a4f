"""Running an incident after it is declared: every change checked, logged and shown."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.errors import UnknownSeverity, UserError
from bot.incidents.access import IncidentRef
from bot.incidents.status import Status
from bot.policy.schema import Contacts, EscalationLevel, Permission
from bot.storage.models import Incident, TimelineKind
from tests.unit.conftest import Harness, sev2


async def open_incident(
    harness: Harness, title: str = "Checkout errors"
) -> tuple[Incident, IncidentRef]:
    incident = await harness.service.declare(sev2(title))
    await harness.worker.drain()
    (stored,) = [i for i in await harness.incidents() if i.number == incident.number]
    assert stored.channel_id is not None
    return stored, IncidentRef(channel_id=stored.channel_id)


def card_text(harness: Harness, incident: Incident) -> str:
    channel = harness.chat.channels[incident.channel_id or ""]
    return channel.messages[incident.card_ref or ""].markdown


async def kinds(harness: Harness) -> list[TimelineKind]:
    return [entry.kind for entry in await harness.timeline()]


async def test_acknowledge_records_who_and_how_fast_and_edits_the_card(harness: Harness) -> None:
    _, here = await open_incident(harness)
    harness.clock.advance(minutes=4)
    outcome = await harness.lifecycle.acknowledge(here, actor="U0ONCALL")
    assert outcome.summary == "INC-1 acknowledged after 4 min"
    await harness.worker.drain()
    (stored,) = await harness.incidents()
    assert stored.acknowledged_by == "U0ONCALL" and stored.acknowledged_at == harness.clock.now
    assert "**Acknowledged**: by <user:U0ONCALL> after 4 min" in card_text(harness, stored)
    assert "Acknowledged by <user:U0ONCALL> after 4 min" in card_text(harness, stored)
    assert (
        len(harness.chat.channels[stored.channel_id or ""].messages) == 1
    )  # edited, not re-posted
    with pytest.raises(UserError, match="already acknowledged by <user:U0ONCALL>"):
        await harness.lifecycle.acknowledge(here, actor="U0OTHER")
    # The declaration reached L1 at once (its `after` is 0s): logged in the same commit.
    assert await kinds(harness) == [
        TimelineKind.DECLARED,
        TimelineKind.ESCALATED,
        TimelineKind.ACKNOWLEDGED,
    ]


async def test_status_moves_through_the_table_and_refuses_illegal_moves(harness: Harness) -> None:
    _, here = await open_incident(harness)
    await harness.lifecycle.set_status(
        here, actor="U1", status=Status.MITIGATING, note="rolled back"
    )
    with pytest.raises(UserError, match="cannot move from Mitigating to Mitigating"):
        await harness.lifecycle.set_status(here, actor="U1", status=Status.MITIGATING)
    await harness.worker.drain()
    (stored,) = await harness.incidents()
    assert stored.status is Status.MITIGATING
    moved = "Status Investigating → Mitigating by <user:U1>: rolled back"
    assert moved in card_text(harness, stored)


async def test_resolve_posts_the_all_clear_and_a_second_resolve_is_refused(
    harness: Harness,
) -> None:
    _, here = await open_incident(harness)
    harness.clock.advance(minutes=8)
    outcome = await harness.lifecycle.resolve(here, actor="U1", resolution="Rolled back v2.3")
    assert outcome.summary == "INC-1 resolved after 8 min"
    with pytest.raises(UserError, match="cannot move from Resolved to Resolved"):
        await harness.lifecycle.resolve(here, actor="U2")
    await harness.worker.drain()
    (stored,) = await harness.incidents()
    assert stored.status is Status.RESOLVED and stored.next_update_at is None
    card = card_text(harness, stored)
    assert card.startswith("# ✅ INCIDENT RESOLVED · INC-1")
    assert "**Resolution**: Rolled back v2.3" in card
    messages = list(harness.chat.channels[stored.channel_id or ""].messages.values())
    (all_clear,) = [m for m in messages if m.markdown.startswith("# ✅ [RESOLVED]")]
    assert "**Duration**: 8 min (14:08 - 14:16 UTC)" in all_clear.markdown
    assert "- Rolled back v2.3" in all_clear.markdown
    assert "Post-mortem to be held by 2026-11-23 14:16 UTC" in all_clear.markdown


async def test_concurrent_resolves_give_one_resolution(harness: Harness) -> None:
    _, here = await open_incident(harness)
    results = await asyncio.gather(
        *(harness.lifecycle.resolve(here, actor=f"U{i}") for i in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, UserError) for r in results if isinstance(r, Exception))
    assert (await kinds(harness)).count(TimelineKind.RESOLVED) == 1
    await harness.worker.drain()
    (stored,) = await harness.incidents()
    messages = harness.chat.channels[stored.channel_id or ""].messages.values()
    assert sum(m.markdown.startswith("# ✅ [RESOLVED]") for m in messages) == 1


async def test_reopen_goes_back_to_investigating_with_a_fresh_deadline(harness: Harness) -> None:
    _, here = await open_incident(harness)
    await harness.lifecycle.resolve(here, actor="U1", resolution="restarted")
    harness.clock.advance(minutes=10)
    await harness.lifecycle.reopen(here, actor="U1")
    (stored,) = await harness.incidents()
    assert stored.status is Status.INVESTIGATING and stored.resolution == ""
    assert stored.next_update_at == harness.clock.now + timedelta(minutes=30)
    with pytest.raises(UserError, match="cannot move from Investigating to Investigating"):
        await harness.lifecycle.reopen(here, actor="U1")


async def test_severity_changes_are_logged_and_bring_the_next_update_forward(
    harness: Harness,
) -> None:
    incident, here = await open_incident(harness)
    assert incident.next_update_at == harness.clock.now + timedelta(minutes=30)
    harness.clock.advance(minutes=1)
    outcome = await harness.lifecycle.set_severity(here, actor="U1", severity="P0")
    assert outcome.summary == "INC-1 severity SEV2 → SEV1"
    (stored,) = await harness.incidents()
    assert stored.severity == "SEV1"
    assert stored.next_update_at == harness.clock.now + timedelta(minutes=15)
    await harness.lifecycle.set_severity(here, actor="U1", severity="sev3")
    (stored,) = await harness.incidents()
    assert stored.next_update_at == harness.clock.now + timedelta(minutes=15)  # not pushed back
    with pytest.raises(UserError, match="already SEV3"):
        await harness.lifecycle.set_severity(here, actor="U1", severity="P2")
    with pytest.raises(UnknownSeverity):
        await harness.lifecycle.set_severity(here, actor="U1", severity="sev9")
    await harness.worker.drain()
    assert "Severity SEV1 → SEV3 by <user:U1>" in card_text(harness, stored)


async def test_notes_are_escaped_on_the_card(harness: Harness) -> None:
    _, here = await open_incident(harness)
    await harness.lifecycle.add_note(here, actor="U1", text="<!channel> look at *this*")
    with pytest.raises(UserError, match="needs some text"):
        await harness.lifecycle.add_note(here, actor="U1", text="   ")
    await harness.worker.drain()
    (stored,) = await harness.incidents()
    assert "Note by <user:U1>: \\<!channel\\> look at \\*this\\*" in card_text(harness, stored)


async def test_incidents_are_found_by_number_or_channel(harness: Harness) -> None:
    await open_incident(harness, "First")
    await harness.lifecycle.add_note(IncidentRef(number=1), actor="U0DECLARER", text="by number")
    with pytest.raises(UserError, match="there is no INC-9"):
        await harness.lifecycle.add_note(IncidentRef(number=9), actor="U1", text="x")
    with pytest.raises(UserError, match="this is not an incident channel"):
        await harness.lifecycle.add_note(IncidentRef(channel_id="C0GENERAL"), actor="U1", text="x")


async def test_card_refreshes_coalesce_while_waiting(harness: Harness) -> None:
    _, here = await open_incident(harness)
    for i in range(5):
        await harness.lifecycle.add_note(here, actor="U1", text=f"note {i}")
    pending = [d.kind for d in await harness.deliveries() if d.state == "pending"]
    assert pending == ["update_card"]
    await harness.worker.drain()
    assert harness.chat.calls.count("update") == 1


async def test_roles_are_assigned_invited_told_and_shown(harness: Harness) -> None:
    _, here = await open_incident(harness)
    outcome = await harness.lifecycle.assign_role(here, actor="U1", role="Commander", user="U0ALEX")
    assert outcome.summary == "<user:U0ALEX> is now commander of INC-1"
    with pytest.raises(UserError, match="already commander"):
        await harness.lifecycle.assign_role(here, actor="U1", role="commander", user="U0ALEX")
    with pytest.raises(UserError, match="unknown role 'pilot'; use one of commander, comms"):
        await harness.lifecycle.assign_role(here, actor="U1", role="pilot", user="U0ALEX")
    await harness.lifecycle.assign_role(here, actor="U1", role="commander", user="U0SAM")
    await harness.worker.drain()
    (stored,) = await harness.incidents()
    channel = harness.chat.channels[stored.channel_id or ""]
    assert {"U0ALEX", "U0SAM"} <= channel.members
    told = [m.markdown for m in channel.messages.values() if "is now **commander**" in m.markdown]
    assert len(told) == 2 and "Incident Commander: leads the response" in told[0]
    card = card_text(harness, stored)
    assert "**Roles**: Commander <user:U0SAM>" in card
    assert "<user:U0SAM> assigned commander by <user:U1>" in card


async def test_escalation_climbs_the_path_calling_each_levels_contacts(harness: Harness) -> None:
    _, here = await open_incident(harness)  # L1 reached at declaration
    policy = harness.lifecycle._policy
    levels = [
        EscalationLevel(level="L1", name="On-call", contacts=Contacts(users=("U0L1",))),
        EscalationLevel(level="L2", name="Tech lead", contacts=Contacts(users=("U0ONCALL",))),
        EscalationLevel(level="L3", name="Manager", contacts=Contacts(usergroups=("S0LEADS",))),
    ]
    harness.lifecycle._policy = policy.model_copy(update={"escalation": tuple(levels)})
    harness.chat.groups["S0LEADS"] = ["U0LEAD1", "U0LEAD2"]
    first = await harness.lifecycle.escalate(here, actor="U1", reason="need DB expertise")
    assert first.summary == "INC-1 escalated to L2 Tech lead"
    second = await harness.lifecycle.escalate(here, actor="U1")
    assert second.summary == "INC-1 escalated to L3 Manager"
    with pytest.raises(UserError, match="already at the top of the escalation path"):
        await harness.lifecycle.escalate(here, actor="U1")
    await harness.worker.drain()
    (stored,) = await harness.incidents()
    channel = harness.chat.channels[stored.channel_id or ""]
    assert {"U0ONCALL", "U0LEAD1", "U0LEAD2"} <= channel.members
    posted = [m.markdown for m in channel.messages.values() if m.markdown.startswith("🚨")]
    called = "escalated to L2 Tech lead** by <user:U1>: need DB expertise\nCalled: <user:U0ONCALL>"
    assert called in posted[0]
    assert "Called: <group:S0LEADS>" in posted[1]
    assert "Escalated to L3 Manager by <user:U1>" in card_text(harness, stored)


async def test_guarded_changes_follow_the_policys_permissions(harness: Harness) -> None:
    incident, here = await open_incident(harness)
    elsewhere = IncidentRef(number=incident.number, via="C0GENERAL")
    with pytest.raises(UserError, match="only people in INC-1's channel may resolve it"):
        await harness.lifecycle.resolve(elsewhere, actor="U0STRANGER")
    await harness.lifecycle.set_severity(elsewhere, actor="U0DECLARER", severity="sev1")  # a member

    policy = harness.lifecycle._policy
    rules = {"resolve": Permission(roles=("commander",), users=("U0BOSS",))}
    harness.lifecycle._policy = policy.model_copy(update={"permissions": rules})
    with pytest.raises(UserError, match=r"only the commander or <user:U0BOSS> may resolve INC-1"):
        await harness.lifecycle.resolve(here, actor="U0DECLARER")
    await harness.lifecycle.assign_role(here, actor="U0DECLARER", role="commander", user="U0ALEX")
    await harness.lifecycle.resolve(here, actor="U0ALEX")


async def test_a_level_that_calls_nobody_is_logged_not_announced(harness: Harness) -> None:
    _, here = await open_incident(harness)  # the default path's levels have no contacts
    outcome = await harness.lifecycle.escalate(here, actor="U1", reason="need the lead")
    assert outcome.summary.endswith(
        "which calls nobody: no contacts are set for this level in the policy"
    )
    await harness.worker.drain()
    (stored,) = await harness.incidents()
    channel = harness.chat.channels[stored.channel_id or ""]
    assert not [m for m in channel.messages.values() if m.markdown.startswith("🚨")]
    assert "Escalated to L2 Tech lead by <user:U1>: need the lead" in card_text(harness, stored)
