"""One message per channel per second: turns taken in order, far turns tried later."""

from __future__ import annotations

import pytest

from bot.delivery.pacing import ChannelPacer
from bot.errors import DeliveryError, NotNow


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


async def test_posts_to_one_channel_take_turns_a_second_apart() -> None:
    time = FakeTime()
    pacer = ChannelPacer(interval=1.0, monotonic=time.monotonic, sleep=time.sleep)
    await pacer.wait_turn("C1")
    await pacer.wait_turn("C1")
    await pacer.wait_turn("C2")  # another channel does not wait
    await pacer.wait_turn("C1")
    assert time.slept == [1.0, 2.0]


async def test_a_turn_too_far_away_is_tried_again_later() -> None:
    time = FakeTime()
    pacer = ChannelPacer(interval=1.0, monotonic=time.monotonic, sleep=time.sleep)
    for _ in range(3):
        await pacer.wait_turn("C1")
    with pytest.raises(DeliveryError) as raised:
        await pacer.wait_turn("C1")
    assert raised.value.retryable and raised.value.retry_after == 3.0
    time.now += 3.5
    await pacer.wait_turn("C1")  # its turn has come


async def test_no_interval_never_waits() -> None:
    time = FakeTime()
    pacer = ChannelPacer(interval=0, monotonic=time.monotonic, sleep=time.sleep)
    for _ in range(5):
        await pacer.wait_turn("C1")
    assert time.slept == []


async def test_a_delivery_handed_back_keeps_its_turn() -> None:
    time = FakeTime()
    pacer = ChannelPacer(interval=1.0, monotonic=time.monotonic, sleep=time.sleep)
    for n in range(3):
        (await pacer.take_turn("C1", key=f"d{n}"))()
    with pytest.raises(NotNow):
        await pacer.take_turn("C1", key="late")
    with pytest.raises(NotNow):  # a newcomer queues behind the one handed back
        await pacer.take_turn("C1", key="other")
    time.now += 1.5
    time.slept.clear()
    (await pacer.take_turn("C1", key="late"))()
    assert time.slept == [1.5]  # its reserved turn: 103, from 101.5


async def test_posts_to_one_channel_go_out_one_at_a_time() -> None:
    """The next post starts a second after the previous one was answered: a slow call
    cannot arrive just before the next one."""
    time = FakeTime()
    pacer = ChannelPacer(interval=1.0, monotonic=time.monotonic, sleep=time.sleep)
    done = await pacer.take_turn("C1")
    time.now += 0.8  # the call took 0.8 s
    done()
    (await pacer.take_turn("C1"))()
    assert time.slept == [pytest.approx(1.0)]


async def test_a_turn_refused_without_a_key_takes_no_place() -> None:
    """Handed back with nowhere to keep its place, it must not push the others back."""
    time = FakeTime()
    pacer = ChannelPacer(interval=1.0, monotonic=time.monotonic, sleep=time.sleep)
    for _ in range(3):
        await pacer.wait_turn("P")
    for _ in range(10):
        with pytest.raises(NotNow) as raised:
            await pacer.wait_turn("P")
        assert raised.value.retry_after == 3.0
