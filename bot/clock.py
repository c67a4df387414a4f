"""Time is injected: everything that needs "now" takes a `Clock`."""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The production clock: timezone-aware UTC."""
    return datetime.now(UTC)


def ensure_utc(moment: datetime) -> datetime:
    """Databases may hand back naive datetimes (SQLite); they are always stored as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
