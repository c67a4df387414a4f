"""The tls check against a real local TLS server with certificates made for each test."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trustme

from bot.diagnostics.checks import run_check
from bot.diagnostics.results import CheckOutcome
from tests.support.diag_targets import TlsTarget, closed_port
from tests.unit.diagnostics.helpers import make_check, server_context


def tls_check(port: int, **fields: Any) -> Any:
    fields.setdefault("host", "localhost")
    return make_check(type="tls", port=port, **fields)


def in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


async def test_a_certificate_valid_for_long_passes(ca: trustme.CA, ca_file: str) -> None:
    async with TlsTarget(server_context(ca, valid_for=timedelta(days=365))) as server:
        port = server.port
        result = await run_check(tls_check(port, ca_file=ca_file), environ={})
    assert result.outcome is CheckOutcome.PASSED, result
    assert result.summary == f"certificate valid for 364 days (until {in_days(365)})"
    assert f"connected to 127.0.0.1:{port} as localhost" in result.details
    assert any(re.match(r"subject: .*CN=localhost", line) for line in result.details)
    assert any(re.match(r"issuer: .*O=warroom test CA", line) for line in result.details)
    assert "names: localhost, 127.0.0.1" in result.details
    assert any(line.startswith("not after: ") for line in result.details)
    assert any(line.startswith("TLSv1.") for line in result.details)


async def test_a_certificate_ending_within_fail_days_fails(ca: trustme.CA, ca_file: str) -> None:
    async with TlsTarget(server_context(ca, valid_for=timedelta(days=2))) as server:
        check = tls_check(server.port, ca_file=ca_file, fail_days=3, warn_days=14)
        result = await run_check(check, environ={})
    assert result.outcome is CheckOutcome.FAILED
    assert result.summary == f"certificate valid for 1 day (until {in_days(2)}, fail below 3)"


async def test_a_certificate_ending_within_warn_days_warns(ca: trustme.CA, ca_file: str) -> None:
    async with TlsTarget(server_context(ca, valid_for=timedelta(days=10))) as server:
        check = tls_check(server.port, ca_file=ca_file, fail_days=3, warn_days=14)
        result = await run_check(check, environ={})
    assert result.outcome is CheckOutcome.WARNED
    assert result.summary == f"certificate valid for 9 days (until {in_days(10)}, warn below 14)"


async def test_an_untrusted_ca_fails_verification(ca: trustme.CA, ca_file: str) -> None:
    stranger = trustme.CA(organization_name="someone else")
    async with TlsTarget(server_context(stranger)) as server:
        result = await run_check(tls_check(server.port, ca_file=ca_file), environ={})
    assert result.outcome is CheckOutcome.FAILED
    assert result.summary == "certificate verify failed: unable to get local issuer certificate"


async def test_an_expired_certificate_fails_verification(ca: trustme.CA, ca_file: str) -> None:
    async with TlsTarget(server_context(ca, valid_for=timedelta(hours=-1))) as server:
        result = await run_check(tls_check(server.port, ca_file=ca_file), environ={})
    assert (result.outcome, result.summary) == (
        CheckOutcome.FAILED,
        "certificate verify failed: certificate has expired",
    )


async def test_the_name_verified_is_server_name(ca: trustme.CA, ca_file: str) -> None:
    async with TlsTarget(server_context(ca)) as server:
        by_address = tls_check(
            server.port, host="127.0.0.1", server_name="localhost", ca_file=ca_file
        )
        assert (await run_check(by_address, environ={})).outcome is CheckOutcome.PASSED
        other = tls_check(server.port, server_name="api.example.com", ca_file=ca_file)
        result = await run_check(other, environ={})
    assert result.outcome is CheckOutcome.FAILED
    assert result.summary.startswith("certificate verify failed: Hostname mismatch"), result.summary


async def test_the_system_store_honours_ssl_cert_file(
    ca: trustme.CA, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with TlsTarget(server_context(ca)) as server:
        result = await run_check(tls_check(server.port), environ={})
        assert result.outcome is CheckOutcome.FAILED  # our CA is in no system store
        monkeypatch.setenv("SSL_CERT_FILE", ca_file)
        result = await run_check(tls_check(server.port), environ={})
    assert result.outcome is CheckOutcome.PASSED, result


async def test_a_server_that_never_shakes_hands_times_out(hung_port: int, ca_file: str) -> None:
    check = tls_check(hung_port, ca_file=ca_file, timeout=timedelta(milliseconds=300))
    result = await run_check(check, environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "timed out after 0.3s")


async def test_a_closed_port_is_refused(ca_file: str) -> None:
    result = await run_check(
        tls_check(closed_port(), host="127.0.0.1", ca_file=ca_file), environ={}
    )
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "connection refused")
