"""Who may act: a private incident exists only for its people; a public one follows the
policy's permissions, by default anyone in its channel or one of its people."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from bot.errors import IncidentNotFound, NotAllowed
from bot.incidents.access import IncidentRef
from bot.incidents.status import Status
from bot.storage.models import Incident
from tests.unit.conftest import Harness, sev2

OUTSIDER = "U0STRANGER"
Attempt = Callable[[Harness, IncidentRef], Awaitable[object]]
ATTEMPTS: dict[str, Attempt] = {
    "ack": lambda h, ref: h.lifecycle.acknowledge(ref, actor=OUTSIDER),
    "note": lambda h, ref: h.lifecycle.add_note(ref, actor=OUTSIDER, text="hi"),
    "status": lambda h, ref: h.lifecycle.set_status(ref, actor=OUTSIDER, status=Status.MITIGATING),
    "update": lambda h, ref: h.lifecycle.post_update(ref, actor=OUTSIDER, text="all good"),
    "role": lambda h, ref: h.lifecycle.assign_role(
        ref, actor=OUTSIDER, role="scribe", user=OUTSIDER
    ),
    "severity": lambda h, ref: h.lifecycle.set_severity(ref, actor=OUTSIDER, severity="sev1"),
    "escalate": lambda h, ref: h.lifecycle.escalate(ref, actor=OUTSIDER),
    "resolve": lambda h, ref: h.lifecycle.resolve(ref, actor=OUTSIDER),
}


async def declared(harness: Harness, *, private: bool) -> Incident:
    await harness.service.declare(sev2("Secret breach", private=private))
    await harness.worker.drain()
    (incident,) = await harness.incidents()
    return incident


@pytest.mark.parametrize("attempt", list(ATTEMPTS), ids=str)
async def test_a_private_incident_reads_as_missing_to_outsiders(
    harness: Harness, attempt: str
) -> None:
    incident = await declared(harness, private=True)
    timeline_before = len(await harness.timeline())
    for ref in (
        IncidentRef(number=incident.number, via="C0GENERAL"),
        IncidentRef(channel_id=incident.channel_id),  # even typed in its channel
    ):
        with pytest.raises(IncidentNotFound) as raised:
            await ATTEMPTS[attempt](harness, ref)
        assert str(raised.value) in ("there is no INC-1", _not_a_channel())
    assert len(await harness.timeline()) == timeline_before  # nothing changed
    incident_channel = harness.chat.channels[incident.channel_id or ""]
    assert OUTSIDER not in incident_channel.members


def _not_a_channel() -> str:
    return (
        "this is not an incident channel: run the command in one, or name the incident (e.g. INC-7)"
    )


async def test_its_people_act_on_a_private_incident_from_anywhere(harness: Harness) -> None:
    incident = await declared(harness, private=True)
    elsewhere = IncidentRef(number=incident.number, via="C0GENERAL")
    await harness.lifecycle.acknowledge(elsewhere, actor="U0DECLARER")
    await harness.lifecycle.assign_role(elsewhere, actor="U0DECLARER", role="scribe", user="U0SAM")
    await harness.lifecycle.add_note(elsewhere, actor="U0SAM", text="on it")  # now one of them


@pytest.mark.parametrize("attempt", list(ATTEMPTS), ids=str)
async def test_public_incidents_take_changes_from_their_channel_by_default(
    harness: Harness, attempt: str
) -> None:
    incident = await declared(harness, private=False)
    with pytest.raises(NotAllowed, match="only people in INC-1's channel may"):
        await ATTEMPTS[attempt](harness, IncidentRef(number=incident.number, via="C0GENERAL"))
    await ATTEMPTS[attempt](harness, IncidentRef(channel_id=incident.channel_id))


async def test_restrict_to_members_keeps_out_people_who_merely_reach_the_channel(
    harness: Harness,
) -> None:
    incident = await declared(harness, private=False)
    policy = harness.lifecycle._policy
    harness.lifecycle._policy = policy.model_copy(update={"restrict_to_members": True})
    here = IncidentRef(channel_id=incident.channel_id)
    with pytest.raises(NotAllowed, match="only INC-1's people may acknowledge it"):
        await harness.lifecycle.acknowledge(here, actor=OUTSIDER)
    await harness.lifecycle.acknowledge(here, actor="U0DECLARER")
