"""Business days and hours from the policy, in the team's time zone: what "respond by the
next business day" means for a SEV4."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.policy.schema import BusinessHours

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def next_business_day_deadline(declared: datetime, hours: BusinessHours) -> datetime:
    """The close of business on the first business day after the declaration's day.

    Declared Tuesday 10:00 → Wednesday at closing time; Friday evening → Monday at closing
    time (with mon-fri). Returned in UTC.
    """
    zone = ZoneInfo(hours.timezone)
    local = declared.astimezone(zone)
    day = local.date()
    for _ in range(14):  # a policy may open one day a week; two weeks always find it
        day += timedelta(days=1)
        if DAY_NAMES[day.weekday()] in hours.days:
            closing = datetime.combine(day, _clock(hours.end), tzinfo=zone)
            return closing.astimezone(UTC)
    raise ValueError("business_hours.days names no day")


def _clock(text: str) -> time:
    hour, minute = (int(part) for part in text.split(":"))
    return time(hour, minute)
