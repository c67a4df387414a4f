from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from bot.policy.business_hours import next_business_day_deadline
from bot.policy.schema import BusinessHours

PARIS = BusinessHours(timezone="Europe/Paris", days=("mon", "tue", "wed", "thu", "fri"))


@pytest.mark.parametrize(
    ("declared", "deadline"),
    [
        # Tuesday morning in Paris (UTC+1 in November): Wednesday 18:00 Paris = 17:00 UTC.
        (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), datetime(2026, 11, 25, 17, 0, tzinfo=UTC)),
        # Friday evening: the next business day is Monday.
        (datetime(2026, 11, 27, 19, 0, tzinfo=UTC), datetime(2026, 11, 30, 17, 0, tzinfo=UTC)),
        # Sunday 23:30 UTC is already Monday 00:30 in Paris: Tuesday.
        (datetime(2026, 11, 29, 23, 30, tzinfo=UTC), datetime(2026, 12, 1, 17, 0, tzinfo=UTC)),
    ],
)
def test_next_business_day_closes_at_the_end_of_business(
    declared: datetime, deadline: datetime
) -> None:
    assert next_business_day_deadline(declared, PARIS) == deadline


def test_bad_business_hours_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        BusinessHours(timezone="Mars/Olympus")
    with pytest.raises(ValidationError):
        BusinessHours(days=())
    with pytest.raises(ValidationError):
        BusinessHours(end="25:00")
