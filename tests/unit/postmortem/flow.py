"""Helpers of the postmortem flow tests: commands typed in an incident's channel, the
form submitted, what reached the chat."""

from __future__ import annotations

from bot.inbound.requests import CommandRequest, FormSubmission, Reply, Requester
from bot.incidents.access import IncidentRef
from bot.incidents.declare import Declaration
from bot.postmortem.form import POSTMORTEM_FORM
from bot.storage.models import Incident
from tests.unit.conftest import Harness

SECTIONS = {
    "root_cause": "The pool of database connections was too small for the new checkout flow.",
    "impact": "User impact: 12% of checkouts failed\nBusiness impact: lost orders\n"
    "Technical impact: API 5xx",
    "resolution": "Raised the pool size and rolled back v2.3",
    "went_well": "The alert fired within a minute",
    "could_improve": "Nobody knew who owned the pool settings",
}


async def say(harness: Harness, text: str, *, user: str, channel: str | None) -> Reply:
    request = CommandRequest(Requester(user, channel), text)
    return await harness.warroom.inbound.command(request)


async def resolved_incident(
    harness: Harness,
    *,
    severity: str = "sev2",
    title: str = "Checkout errors",
    private: bool = False,
) -> Incident:
    """Declared, one update, resolved with a note; every delivery done."""
    declared = await harness.service.declare(
        Declaration(
            title=title,
            severity=severity,
            declared_by="U0DECLARER",
            declared_in="C0GENERAL",
            impact="Checkout",
            private=private,
        )
    )
    await harness.worker.drain()
    incident = await stored(harness, declared.number)
    ref = IncidentRef(number=incident.number)
    harness.clock.advance(minutes=5)
    await harness.lifecycle.post_update(ref, actor="U0DECLARER", text="Pool exhausted at peak")
    harness.clock.advance(minutes=5)
    await harness.lifecycle.resolve(ref, actor="U0DECLARER", resolution="Pool raised to 50")
    await harness.worker.drain()
    return await stored(harness, incident.number)


async def stored(harness: Harness, number: int) -> Incident:
    (incident,) = [i for i in await harness.incidents() if i.number == number]
    return incident


async def submit(
    harness: Harness,
    number: int,
    *,
    user: str = "U0DECLARER",
    channel: str | None = None,
    **sections: str,
) -> dict[str, str]:
    outcome = await harness.warroom.submissions.submit(
        FormSubmission(
            requester=Requester(user),
            form=POSTMORTEM_FORM,
            values={**SECTIONS, **sections},
            context={"number": number, "channel": channel},
        )
    )
    return dict(outcome.errors)


def posted(harness: Harness, incident: Incident) -> list[str]:
    return [m.markdown for m in harness.chat.channels[incident.channel_id or ""].messages.values()]
