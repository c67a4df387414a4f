"""Fixtures for the diagnostics checks: a CA made on the fly, a port that never answers,
and the test Postgres when there is one."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import trustme

from tests.support.diag_targets import silent_port


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="warroom test CA")


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def hung_port() -> Iterator[int]:
    with silent_port() as port:
        yield port


@pytest.fixture
def postgres_dsn() -> str:
    """The test Postgres (WARROOM_TEST_DATABASE_URL) as libpq reads it: without the
    SQLAlchemy driver name."""
    url = os.environ.get("WARROOM_TEST_DATABASE_URL", "")
    if not url or url.startswith("sqlite"):
        pytest.skip("WARROOM_TEST_DATABASE_URL names no Postgres server")
    return url.replace("postgresql+psycopg://", "postgresql://", 1)
