"""Fixtures for the fake Slack's own tests: one server per test module, reset for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import SPECS_DIR

from .fake_slack import FakeSlack


@pytest.fixture(scope="module")
def server() -> Iterator[FakeSlack]:
    with FakeSlack(SPECS_DIR) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeSlack) -> FakeSlack:
    server.reset()
    return server
