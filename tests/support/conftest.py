"""Fixtures for the fake Slack's own tests: one server per test module, reset for each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .fake_slack import FakeSlack

SPECS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "slack"
if not (SPECS_DIR / "methods").is_dir():
    pytest.skip(
        f"Slack specs not found at {SPECS_DIR} (shared/specs/slack beside the project)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[FakeSlack]:
    with FakeSlack(SPECS_DIR) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeSlack) -> FakeSlack:
    server.reset()
    return server
