"""The tcp and dns checks against real local sockets and the system's resolver."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.diagnostics.checks import run_check
from bot.diagnostics.results import CheckOutcome
from tests.support.diag_targets import closed_port
from tests.unit.diagnostics.helpers import make_check


@pytest.fixture
async def listening_port() -> AsyncIterator[int]:
    async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(close_at_once, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


async def test_tcp_connects(listening_port: int) -> None:
    check = make_check(type="tcp", host="127.0.0.1", port=listening_port)
    result = await run_check(check, environ={})
    assert result.outcome is CheckOutcome.PASSED
    assert re.fullmatch(r"connected in \d+ ms", result.summary)
    assert result.details == (f"connected to 127.0.0.1:{listening_port}",)


async def test_tcp_resolves_the_host_first(listening_port: int) -> None:
    check = make_check(type="tcp", host="localhost", port=listening_port)
    result = await run_check(check, environ={})
    # localhost may be ::1 first, where nothing listens: the next address answers.
    assert result.outcome is CheckOutcome.PASSED, result
    assert result.details == (f"connected to 127.0.0.1:{listening_port}",)


async def test_tcp_to_a_closed_port_is_refused() -> None:
    result = await run_check(
        make_check(type="tcp", host="127.0.0.1", port=closed_port()), environ={}
    )
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "connection refused")


async def test_tcp_to_a_host_that_does_not_resolve() -> None:
    check = make_check(type="tcp", host="nothing-here.invalid", port=5432, timeout="2s")
    result = await run_check(check, environ={})
    assert result.outcome is CheckOutcome.FAILED
    # A machine without a resolver answering may only time out.
    assert result.summary in (
        "nothing-here.invalid does not resolve",
        "timed out after 2s",
    ) or result.summary.startswith("looking up nothing-here.invalid failed: ")


def dns_check(host: str, **fields: Any) -> Any:
    return make_check(type="dns", host=host, **fields)


async def test_dns_lists_the_addresses() -> None:
    result = await run_check(dns_check("localhost"), environ={})
    assert result.outcome is CheckOutcome.PASSED
    assert result.summary.startswith("resolves to ")
    assert "127.0.0.1" in result.summary
    assert "localhost → 127.0.0.1" in result.details


async def test_dns_meets_an_expected_address() -> None:
    result = await run_check(
        dns_check("localhost", expect_address=["10.9.9.9", "127.0.0.1"]), environ={}
    )
    assert result.outcome is CheckOutcome.PASSED


async def test_dns_fails_without_the_expected_address() -> None:
    result = await run_check(dns_check("localhost", expect_address="10.9.9.9"), environ={})
    assert result.outcome is CheckOutcome.FAILED
    assert re.fullmatch(r"resolves to .*127\.0\.0\.1.*, expected 10\.9\.9\.9", result.summary)


async def test_dns_compares_addresses_not_their_spelling() -> None:
    result = await run_check(dns_check("127.0.0.1", expect_address="127.0.0.1"), environ={})
    assert result.outcome is CheckOutcome.PASSED
    result = await run_check(dns_check("::1", expect_address="0:0:0:0:0:0:0:1"), environ={})
    assert result.outcome is CheckOutcome.PASSED, result


async def test_dns_a_name_that_does_not_exist() -> None:
    result = await run_check(dns_check("nothing-here.invalid", timeout="3s"), environ={})
    assert result.outcome is CheckOutcome.FAILED
    if result.summary != "does not resolve":
        pytest.skip(f"this machine's resolver cannot say (it says {result.summary!r})")


async def test_dns_a_lookup_that_fails_is_not_a_missing_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def unavailable(*args: object, **kwargs: object) -> Any:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", unavailable)
    result = await run_check(dns_check("db.internal"), environ={})
    assert (result.outcome, result.summary) == (
        CheckOutcome.FAILED,
        "lookup failed: Temporary failure in name resolution",
    )


async def test_dns_summary_names_three_addresses_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    async def many(*args: object, **kwargs: object) -> Any:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (f"10.0.0.{n}", 0)) for n in range(1, 6)
        ]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", many)
    result = await run_check(dns_check("db.internal"), environ={})
    assert result.summary == "resolves to 10.0.0.1, 10.0.0.2, 10.0.0.3 (+2 more)"
    assert len(result.details) == 5
