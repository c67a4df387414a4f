"""The composition root: everything but the Slack listeners exists without Slack."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import build
from bot.chat.unconfigured import UnconfiguredChat
from bot.config import Settings
from bot.policy.schema import default_policy
from bot.storage.models import Delivery, DeliveryState
from tests.conftest import SteppingClock
from tests.unit.conftest import sev2


async def test_without_slack_incidents_are_kept_and_their_effects_wait(
    database_url: str, clock: SteppingClock
) -> None:
    warroom = build(
        Settings(_env_file=None, database_url=database_url), clock=clock, policy=default_policy()
    )
    try:
        assert warroom.bolt is None and isinstance(warroom.chat, UnconfiguredChat)
        await warroom.service.declare(sev2())
        await warroom.worker.drain()
        await warroom.timers.tick()  # timers run too
        deliveries = await warroom.db.transaction(
            lambda session: list(session.scalars(select(Delivery)))
        )
        assert deliveries and all(d.state is DeliveryState.PENDING for d in deliveries)
        assert {d.last_error for d in deliveries if d.attempts} <= {
            None,
            "chat_not_configured (retry after 300s): open a channel",
        }
    finally:
        await warroom.http.aclose()
        warroom.db.dispose()
