"""Every error warroom raises on purpose, in three families that callers decide on by type.

- `UserError`: a request a person can fix. Answered to that person (the message is our
  Markdown, with what they typed escaped); nothing was changed.
- `DeliveryError`: an effect on a chat platform or a pager that did not land. `retryable`
  says whether the outbox tries it again; `retry_after` is the receiver's own wish.
- `ConfigurationError`: a policy, a database URL or a setting that cannot be used; the
  process refuses to start and the message names the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar


class WarroomError(Exception):
    """The root: anything else escaping a use case is a bug."""


class UserError(WarroomError):
    """A request that cannot be carried out as asked. `usage` names the subcommand whose
    usage line helps (None: the message says enough)."""

    def __init__(self, message: str, *, usage: str | None = None) -> None:
        super().__init__(message)
        self.usage = usage


class UsageError(UserError):
    """A command that does not parse: the usage line of `usage` follows the message."""


class IncidentNotFound(UserError):
    """No such incident, or one the requester may not see: both read the same."""


class NotAnIncidentChannel(IncidentNotFound):
    """The request named no incident and came from a channel that is not one."""


class NotAllowed(UserError):
    """The policy's permissions refuse this action to this person."""


class UnknownSeverity(UserError, LookupError):
    def __init__(self, text: str, accepted: list[str]) -> None:
        from bot.text.markdown import excerpt

        self.text = text
        self.accepted = accepted
        super().__init__(f"unknown severity {excerpt(text)}; use one of {', '.join(accepted)}")


# What Python itself writes on an exception as it travels (contextlib's generator-based
# context managers set __traceback__ on what passes through them).
_EXCEPTION_STATE = frozenset(
    {"__traceback__", "__cause__", "__context__", "__suppress_context__", "__notes__"}
)
_E = TypeVar("_E", bound=type[BaseException])


def _raisable(cls: _E) -> _E:
    """A frozen dataclass exception whose fields stay frozen but that can still be raised
    through `with` blocks: without this, a DeliveryError crossing a @contextmanager turns
    into FrozenInstanceError."""
    frozen = cls.__setattr__

    def __setattr__(self: BaseException, name: str, value: object) -> None:
        if name in _EXCEPTION_STATE:
            object.__setattr__(self, name, value)
        else:
            frozen(self, name, value)

    cls.__setattr__ = __setattr__  # type: ignore[assignment]
    return cls


@_raisable
@dataclass(frozen=True)
class DeliveryError(WarroomError):
    """A failed call to a chat platform or a pager."""

    code: str
    retryable: bool = True
    retry_after: float | None = None
    detail: str = field(default="", compare=False)

    def __str__(self) -> str:
        suffix = f" (retry after {self.retry_after:g}s)" if self.retry_after else ""
        return f"{self.code}{suffix}{': ' + self.detail if self.detail else ''}"


@_raisable
@dataclass(frozen=True)
class OutcomeUnknown(DeliveryError):
    """The call may or may not have taken effect, and may still take effect later: it
    timed out, its connection broke after the request went out, or the platform answered
    with a server error. Retryable, but not blindly: an effect that is not idempotent
    must find what the call may have done before doing it again (see
    bot/delivery/effects.py)."""

    # No answer in time: trying again at once would most likely wait as long again.
    timed_out: bool = False


@_raisable
@dataclass(frozen=True)
class NotNow(DeliveryError):
    """Not tried: the effect made no call, as its turn is later (a busy channel). It is
    handed back to come again after `retry_after`, and does not count as an attempt, so
    the next one knows that no earlier call can have taken effect."""


class ChannelNameTaken(DeliveryError):
    """The channel name exists already (archived channels keep their names)."""


class ConfigurationError(WarroomError):
    """Settings or a policy that cannot be used; the message names the field and value."""
