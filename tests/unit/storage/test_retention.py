"""Handled event ids are forgotten after a week: re-deliveries come within minutes."""

from __future__ import annotations

from bot.storage.retention import prune_processed_events
from tests.unit.conftest import Harness


async def test_event_ids_older_than_a_week_are_pruned(harness: Harness) -> None:
    assert await harness.warroom.capture.first_time("Ev0OLD")
    harness.clock.advance(days=6)
    assert await harness.warroom.capture.first_time("Ev0RECENT")
    harness.clock.advance(days=1, seconds=1)
    assert await prune_processed_events(harness.db, now=harness.clock()) == 1
    assert not await harness.warroom.capture.first_time("Ev0RECENT")  # still remembered
    assert await harness.warroom.capture.first_time("Ev0OLD")  # forgotten: new again
