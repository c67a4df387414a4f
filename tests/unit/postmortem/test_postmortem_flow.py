"""The postmortem from chat: the form prefilled, each submission shared as a new version,
exactly once, and closing; refusals for what cannot be done."""

from __future__ import annotations

from bot.chat.fake import SharedFile
from bot.errors import OutcomeUnknown
from bot.incidents.status import Status
from bot.postmortem.form import SECTIONS as FORM_SECTIONS
from bot.storage.models import TimelineKind
from tests.unit.conftest import Harness, sev2
from tests.unit.postmortem.flow import SECTIONS, posted, resolved_incident, say, stored, submit


def shared(harness: Harness) -> list[SharedFile]:
    return list(harness.chat.files.values())


async def test_the_form_is_prefilled_from_what_the_incident_knows(harness: Harness) -> None:
    incident = await resolved_incident(harness)
    reply = await say(harness, "postmortem", user="U0DECLARER", channel=incident.channel_id)
    assert reply.form is not None
    labels = [field.label for field in reply.form.fields]
    assert labels == ["Root cause", "Impact", "Resolution", "What went well", "What could improve"]
    initial = {field.id: field.initial for field in reply.form.fields}
    assert initial["resolution"] == "Pool raised to 50"
    assert "User impact: Checkout" in (initial["impact"] or "")
    assert "Pool exhausted at peak" in (initial["root_cause"] or "")
    assert [field_id for field_id, _ in FORM_SECTIONS] == list(SECTIONS)


async def test_each_submission_shares_a_new_version_and_says_so(harness: Harness) -> None:
    incident = await resolved_incident(harness)
    assert await submit(harness, incident.number) == {}
    await harness.worker.drain()
    (first,) = shared(harness)
    assert first.filename == "INC-1-postmortem.md"
    assert first.channel_id == incident.channel_id
    text = first.content.decode()
    assert "## Incident: " in text and "pool of database connections" in text
    # Reopened by the form, edited, shared again: a second file, the first one kept.
    reply = await say(harness, "postmortem", user="U0DECLARER", channel=incident.channel_id)
    assert reply.form is not None
    assert {f.id: f.initial for f in reply.form.fields}["went_well"] == SECTIONS["went_well"]
    assert await submit(harness, incident.number, went_well="Rollback took 2 minutes") == {}
    await harness.worker.drain()
    names = [f.filename for f in shared(harness)]
    assert names == ["INC-1-postmortem.md", "INC-1-postmortem-v2.md"]
    assert "version 2" in shared(harness)[1].comment
    assert "INC-1-postmortem.md above stays" in shared(harness)[1].comment
    assert "Rollback took 2 minutes" in shared(harness)[1].content.decode()
    ops = [e.data.get("op") for e in await harness.timeline() if e.kind is TimelineKind.POSTMORTEM]
    assert ops == ["written", "exported", "edited", "exported"]


async def test_an_upload_whose_answer_was_lost_is_shared_once(harness: Harness) -> None:
    incident = await resolved_incident(harness)
    harness.chat.lose_answer("upload_file")
    assert await submit(harness, incident.number) == {}
    await harness.worker.drain()
    harness.clock.advance(minutes=5)
    await harness.worker.drain()
    assert [f.filename for f in shared(harness) if not f.deleted] == ["INC-1-postmortem.md"]
    exported = [e for e in await harness.timeline() if e.kind is TimelineKind.POSTMORTEM]
    assert [e.data.get("op") for e in exported] == ["written", "exported"]


async def test_an_upload_refused_for_now_is_retried(harness: Harness) -> None:
    incident = await resolved_incident(harness)
    harness.chat.fail_next("upload_file", OutcomeUnknown("fatal_error", timed_out=True))
    assert await submit(harness, incident.number) == {}
    await harness.worker.drain()
    harness.clock.advance(minutes=5)
    await harness.worker.drain()
    assert len([f for f in shared(harness) if not f.deleted]) == 1


async def test_export_needs_a_written_postmortem_and_then_shares_again(harness: Harness) -> None:
    incident = await resolved_incident(harness)
    here = incident.channel_id
    reply = await say(harness, "postmortem export", user="U0DECLARER", channel=here)
    assert "has no postmortem yet" in reply.markdown
    await submit(harness, incident.number)
    reply = await say(harness, "postmortem export", user="U0DECLARER", channel=here)
    assert "Version 2" in reply.markdown
    await harness.worker.drain()
    assert [f.filename for f in shared(harness)][-1] == "INC-1-postmortem-v2.md"


async def test_close_completes_the_postmortem_and_stops_the_form(harness: Harness) -> None:
    incident = await resolved_incident(harness)
    here = incident.channel_id
    await submit(harness, incident.number)
    reply = await say(harness, "close", user="U0DECLARER", channel=here)
    assert reply.markdown == "🏁 INC-1 closed: its postmortem is complete"
    closed = await stored(harness, incident.number)
    assert closed.status is Status.CLOSED and closed.closed_at == harness.clock()
    assert closed.followup_at is None
    again = await say(harness, "close", user="U0DECLARER", channel=here)
    assert "already closed" in again.markdown
    form = await say(harness, "postmortem", user="U0DECLARER", channel=here)
    assert form.form is None and "is closed" in form.markdown
    await harness.worker.drain()
    assert any("Closed" in text for text in posted(harness, closed))  # the card says so


async def test_close_needs_a_resolution_first(harness: Harness) -> None:
    declared = await harness.service.declare(sev2())
    await harness.worker.drain()
    incident = await stored(harness, declared.number)
    reply = await say(harness, "close", user="U0DECLARER", channel=incident.channel_id)
    assert "resolve it first" in reply.markdown


async def test_a_private_incident_postmortem_is_invisible_to_outsiders(harness: Harness) -> None:
    incident = await resolved_incident(harness, private=True)
    commands = ("postmortem INC-1", "postmortem INC-1 export", "close INC-1", "action INC-1 list")
    for command in commands:
        reply = await say(harness, command, user="U0OUTSIDER", channel="C0GENERAL")
        assert reply.markdown == "⚠️ there is no INC-1.", (command, reply.markdown)
    outsider = await submit(harness, incident.number, user="U0OUTSIDER")
    assert outsider == {"root_cause": "there is no INC-1"}
    assert shared(harness) == []


async def test_people_in_the_channel_write_it_not_people_elsewhere(harness: Harness) -> None:
    incident = await resolved_incident(harness)
    reply = await say(harness, "postmortem", user="U0SAM", channel=incident.channel_id)
    assert reply.form is not None and reply.form.context["channel"] == incident.channel_id
    assert await submit(harness, incident.number, user="U0SAM", channel=incident.channel_id) == {}
    elsewhere = await submit(harness, incident.number, user="U0SAM", channel="C0GENERAL")
    assert "only people in INC-1's channel" in elsewhere["root_cause"]
