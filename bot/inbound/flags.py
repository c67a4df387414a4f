"""Messages flagged for the timeline: a reaction or a pin in an incident channel, or the
"Add to incident timeline" shortcut from anywhere."""

from __future__ import annotations

import logging
from dataclasses import asdict, replace

from bot.chat.port import ChatPlatform
from bot.errors import NotAnIncidentChannel, UserError
from bot.inbound.dispatch import refusal
from bot.inbound.forms import timeline_picker
from bot.inbound.requests import Flag, FlaggedMessage, MessageShortcut, Reply
from bot.incidents.access import IncidentRef
from bot.incidents.capture import TimelineCapture
from bot.incidents.views import IncidentViews
from bot.policy.schema import Policy

log = logging.getLogger(__name__)

# A form carries the message in its context, which platforms cap (Slack: 3000 characters).
MAX_CARRIED_TEXT = 2000


class TimelineFlags:
    def __init__(
        self,
        *,
        policy: Policy,
        capture: TimelineCapture,
        views: IncidentViews,
        chat: ChatPlatform,
    ) -> None:
        self._policy = policy
        self._capture = capture
        self._views = views
        self._chat = chat

    def concerns_timeline(self, flag: FlaggedMessage) -> bool:
        """Reactions other than the policy's timeline emoji are not ours."""
        return flag.flag is Flag.PIN or flag.emoji == self._policy.timeline_emoji

    async def fresh(self, flag: FlaggedMessage) -> bool:
        """False for a re-delivery of a notification already handled."""
        return flag.event_id is None or await self._capture.first_time(flag.event_id)

    async def flagged(self, flag: FlaggedMessage) -> None:
        """Capture the message, if it is in an incident channel and not captured yet."""
        message = await self._chat.read_message(
            channel_id=flag.channel_id, message_ref=flag.message_ref
        )
        if message is None:
            return
        try:
            await self._capture.capture(
                IncidentRef(channel_id=flag.channel_id), message, actor=flag.requester.user_id
            )
        except UserError as error:
            # Most often: not an incident channel, or already captured. Nothing to say.
            log.debug("not captured: %s", error)

    async def unflagged(self, flag: FlaggedMessage) -> None:
        source = f"{flag.channel_id}:{flag.message_ref}"
        ref = IncidentRef(channel_id=flag.channel_id)
        await self._capture.release(ref, source, actor=flag.requester.user_id)

    async def shortcut(self, shortcut: MessageShortcut) -> Reply:
        """Add the message to its channel's incident, or ask which incident."""
        message = shortcut.message
        if message.permalink is None:
            link = await self._chat.permalink(
                channel_id=message.channel_id, message_ref=message.ref
            )
            message = replace(message, permalink=link)
        viewer = shortcut.requester.user_id
        try:
            outcome = await self._capture.capture(
                IncidentRef(channel_id=message.channel_id), message, actor=viewer
            )
        except NotAnIncidentChannel:
            pass
        except UserError as error:
            return refusal(error)
        else:
            return Reply(f"✅ {outcome.summary}")
        incidents = await self._views.open_incidents(viewer=viewer)
        if not incidents:
            return Reply("⚠️ There is no open incident to add it to.")
        carried = asdict(replace(message, text=message.text[:MAX_CARRIED_TEXT], posted_at=None))
        carried["posted_at"] = message.posted_at.isoformat() if message.posted_at else None
        return Reply(form=timeline_picker(incidents, message=carried))
