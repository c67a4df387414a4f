"""Delivery errors stay frozen values, and can still be raised through `with` blocks."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import pytest

from bot.errors import ChannelNameTaken, DeliveryError, NotNow, OutcomeUnknown


@contextlib.contextmanager
def passing_through() -> Iterator[None]:
    yield


@pytest.mark.parametrize(
    "error",
    [DeliveryError("x"), OutcomeUnknown("x", timed_out=True), NotNow("x"), ChannelNameTaken("x")],
)
def test_a_delivery_error_crosses_a_generator_context_manager_as_itself(
    error: DeliveryError,
) -> None:
    with pytest.raises(type(error)) as raised, passing_through():
        raise error
    assert raised.value is error
    with pytest.raises(dataclasses.FrozenInstanceError):
        error.code = "changed"  # type: ignore[misc]
