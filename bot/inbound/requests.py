"""What reaches the core from any chat platform, and what goes back: small typed values.

A platform adapter (Slack today, Teams next) turns its payloads into these requests,
hands them to `bot.inbound.dispatch.Inbound`, and shows the `Reply` its own way. Text
is our Markdown: people, groups and channels appear as references (`<user:U…>`), which
the adapter translated from its own markup on the way in and translates back on the
way out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.chat.port import ChatMessage
from bot.inbound.forms import Form

__all__ = ["ChatMessage"]


@dataclass(frozen=True)
class Requester:
    """Who asked, and where from (None: somewhere that is not a channel, e.g. a form)."""

    user_id: str
    channel_id: str | None = None


@dataclass(frozen=True)
class CommandRequest:
    """`/incident <text>` as typed."""

    requester: Requester
    text: str


@dataclass(frozen=True)
class ButtonPress:
    """A button of a message the bot posted: `action` is its id, `value` what it carries."""

    requester: Requester
    action: str
    value: str


@dataclass(frozen=True)
class FormSubmission:
    """A form the bot opened, filled in. `values` by field id: text for text fields, the
    chosen value for a choice (None if none), a bool for a toggle."""

    requester: Requester
    form: str
    values: Mapping[str, str | bool | None]
    context: Mapping[str, Any] = field(default_factory=dict)


class Flag(StrEnum):
    """How someone marks a message for the timeline."""

    REACTION = "reaction"
    PIN = "pin"


@dataclass(frozen=True)
class FlaggedMessage:
    """A message marked (or unmarked) for the timeline by a reaction or a pin.

    `event_id` is the platform's id of the notification: re-deliveries carry the same."""

    requester: Requester
    channel_id: str
    message_ref: str
    flag: Flag
    event_id: str | None = None
    emoji: str | None = None  # for reactions: which one


@dataclass(frozen=True)
class MessageShortcut:
    """ "Add to incident timeline" chosen on a message, from any channel."""

    requester: Requester
    message: ChatMessage


class Visibility(StrEnum):
    REQUESTER = "requester"  # only the person who asked sees it
    CHANNEL = "channel"  # everyone in the channel it came from


@dataclass(frozen=True)
class Reply:
    """The answer to a request: Markdown, and/or a form to open for the requester."""

    markdown: str = ""
    visibility: Visibility = Visibility.REQUESTER
    form: Form | None = None
    # A document to read (a list, a timeline): platforms lay it out and page it.
    paged: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.markdown and self.form is None


@dataclass(frozen=True)
class FormOutcome:
    """A submission accepted (no `errors`), or refused with a message per field."""

    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return not self.errors
