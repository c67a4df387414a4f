"""After the resolution: the postmortem chased on the policy's deadlines until closed, and
action items' owners reminded once a day from the morning after the due date."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.incidents.access import IncidentRef
from tests.unit.conftest import Harness
from tests.unit.postmortem.flow import posted, resolved_incident, say, stored, submit


async def reminders(harness: Harness, channel: str | None) -> list[str]:
    messages = harness.chat.channels[channel or ""].messages.values()
    return [
        m.markdown
        for m in messages
        if "post-mortem meeting" in m.markdown or "postmortem was due" in m.markdown
    ]


async def tick(harness: Harness) -> None:
    await harness.timers.tick()
    await harness.worker.drain()


async def test_a_required_postmortem_is_chased_until_the_incident_is_closed(
    harness: Harness,
) -> None:
    incident = await resolved_incident(harness)  # SEV2: required by default
    resolved_at = incident.resolved_at
    assert resolved_at is not None
    (all_clear,) = [t for t in posted(harness, incident) if t.startswith("# ✅ [RESOLVED]")]
    assert "Post-mortem to be held by 2026-11-23 14:18 UTC" in all_clear
    assert "the document complete by 2026-11-24 14:18 UTC" in all_clear
    assert incident.followup_at == datetime(2026, 11, 23, 14, 18, tzinfo=UTC)
    harness.clock.advance(hours=23, minutes=59)
    await tick(harness)
    assert await reminders(harness, incident.channel_id) == []
    harness.clock.advance(minutes=1)
    await tick(harness)
    (meeting,) = await reminders(harness, incident.channel_id)
    assert "time for the post-mortem meeting" in meeting and "<user:U0DECLARER>" in meeting
    await tick(harness)  # nothing more until the document's deadline
    assert len(await reminders(harness, incident.channel_id)) == 1
    harness.clock.advance(hours=24)
    await tick(harness)
    late = (await reminders(harness, incident.channel_id))[-1]
    assert "the postmortem was due by 2026-11-24 14:18 UTC" in late
    harness.clock.advance(hours=24)
    await tick(harness)
    assert len(await reminders(harness, incident.channel_id)) == 3  # again the next day
    reply = await say(harness, "close", user="U0DECLARER", channel=incident.channel_id)
    assert "closed, without a postmortem" in reply.markdown
    harness.clock.advance(days=5)
    await tick(harness)
    assert len(await reminders(harness, incident.channel_id)) == 3  # closed: quiet


async def test_a_written_postmortem_skips_the_meeting_reminder(harness: Harness) -> None:
    incident = await resolved_incident(harness)
    await submit(harness, incident.number)
    harness.clock.advance(hours=24)
    await tick(harness)
    assert await reminders(harness, incident.channel_id) == []
    harness.clock.advance(hours=24)
    await tick(harness)
    (late,) = await reminders(harness, incident.channel_id)
    assert "please finish it" in late


async def test_an_optional_postmortem_is_offered_never_chased(harness: Harness) -> None:
    incident = await resolved_incident(harness, severity="sev3")
    (all_clear,) = [t for t in posted(harness, incident) if t.startswith("# ✅ [RESOLVED]")]
    assert "Post-mortem optional for SEV3" in all_clear
    assert incident.followup_at is None
    harness.clock.advance(days=3)
    await tick(harness)
    assert await reminders(harness, incident.channel_id) == []


async def test_reopening_stops_the_clock_and_resolving_again_restarts_it(
    harness: Harness,
) -> None:
    incident = await resolved_incident(harness)
    ref = IncidentRef(number=incident.number)
    await harness.lifecycle.reopen(ref, actor="U0DECLARER")
    assert (await stored(harness, incident.number)).followup_at is None
    harness.clock.advance(hours=2)
    await harness.lifecycle.resolve(ref, actor="U0DECLARER")
    again = await stored(harness, incident.number)
    assert (
        again.followup_at
        == harness.clock.now.replace() + harness.warroom.policy.postmortem.meet_within
    )


async def test_action_items_are_added_listed_and_done(harness: Harness) -> None:
    incident = await resolved_incident(harness)
    here = incident.channel_id
    reply = await say(
        harness,
        "action add <user:U0SAM> due 2026-11-30 Alert on pool saturation",
        user="U0DECLARER",
        channel=here,
    )
    assert reply.markdown == "☑️ Action item 1 added to INC-1"
    await say(harness, "action add Write the runbook entry", user="U0DECLARER", channel=here)
    listing = await say(harness, "action list", user="U0DECLARER", channel=here)
    assert "**1.** Alert on pool saturation · <user:U0SAM> · due 2026-11-30" in listing.markdown
    assert "**2.** Write the runbook entry" in listing.markdown
    done = await say(harness, "action done 2", user="U0SAM", channel=here)
    assert done.markdown == "✅ Action item 2 of INC-1 done"
    again = await say(harness, "action done 2", user="U0SAM", channel=here)
    assert "already done" in again.markdown
    missing = await say(harness, "action done 7", user="U0SAM", channel=here)
    assert "has no action item 7" in missing.markdown
    past = await say(harness, "action add due 2026-01-01 Too late", user="U0SAM", channel=here)
    assert "is past" in past.markdown


async def test_an_owner_is_reminded_daily_from_the_morning_after_the_due_date(
    harness: Harness,
) -> None:
    incident = await resolved_incident(harness)
    here = incident.channel_id
    await say(harness, "close", user="U0DECLARER", channel=here)  # reminders outlive it
    await say(
        harness,
        "action add <user:U0SAM> due 2026-11-25 Add a pool alert",
        user="U0DECLARER",
        channel=here,
    )
    await say(harness, "action add due 2026-11-25 Nobody's", user="U0DECLARER", channel=here)

    def direct() -> list[str]:
        channel = harness.chat.channels.get("D" + "U0SAM")
        return [m.markdown for m in channel.messages.values()] if channel else []

    harness.clock.now = datetime(2026, 11, 26, 8, 59, tzinfo=UTC)
    await tick(harness)
    assert direct() == []
    harness.clock.now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # business hours start
    await tick(harness)
    (first,) = direct()
    assert "Action item 1 of INC-1 was due 2026-11-25" in first and "Add a pool alert" in first
    ownerless = [t for t in posted(harness, incident) if "It has no owner" in t]
    assert len(ownerless) == 1
    harness.clock.advance(hours=12)
    await tick(harness)
    assert len(direct()) == 1
    harness.clock.advance(hours=12)
    await tick(harness)
    assert len(direct()) == 2
    await say(harness, "action done 1", user="U0SAM", channel=here)
    harness.clock.advance(days=3)
    await tick(harness)
    assert len(direct()) == 2
    assert date(2026, 11, 25) < harness.clock.now.date()


async def test_stats_in_chat_count_what_the_viewer_may_see(harness: Harness) -> None:
    await resolved_incident(harness)
    await resolved_incident(harness, title="Secret thing", private=True)
    seen = await say(harness, "stats", user="U0OUTSIDER", channel="C0GENERAL")
    assert seen.paged and "SEV2" in seen.markdown
    mine = await say(harness, "stats 7", user="U0DECLARER", channel="C0GENERAL")
    assert mine.markdown != seen.markdown  # the declarer also counts the private one
    refused = await say(harness, "stats forever", user="U0DECLARER", channel="C0GENERAL")
    assert refused.markdown.startswith("⚠️ stats takes a number of days")
