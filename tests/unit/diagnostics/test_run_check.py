"""run_check itself: it never raises, it keeps to the check's timeout, it redacts what an
unexpected error says, and it never holds up the event loop."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta
from typing import Any, Literal

import pytest
import trustme

from bot.diagnostics.checks import probe, run_check, tcp, trust
from bot.diagnostics.checks.text import cap_output, drop_cut_line, one_line, seconds_text
from bot.diagnostics.results import MAX_OUTPUT_BYTES, CheckOutcome, CheckResult
from bot.policy.diagnostics import CheckBase
from tests.support.diag_targets import HANG, HttpTarget, TlsTarget, closed_port, json_reply
from tests.unit.diagnostics.helpers import make_check, server_context


async def test_an_unexpected_error_is_a_redacted_failure(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(check: Any, found: probe.Probe) -> probe.Verdict:
        raise RuntimeError("cannot use postgresql://app:hunter22@db/app with xoxb-1234567-abcdef")

    monkeypatch.setattr(tcp, "run", broken)
    with caplog.at_level(logging.WARNING, logger="bot.diagnostics.checks"):
        result = await run_check(make_check(type="tcp", host="db", port=5432), environ={})
    assert result.outcome is CheckOutcome.FAILED
    assert result.summary == (
        "RuntimeError: cannot use postgresql://app:[redacted]@db/app with [redacted]"
    )
    assert "hunter22" not in caplog.text and "xoxb-" not in caplog.text
    assert "tcp-check" in caplog.text


async def test_a_check_of_no_known_type_fails() -> None:
    class Unknown(CheckBase):
        type: Literal["unknown"] = "unknown"

    result = await run_check(Unknown(name="odd"), environ={})
    assert (result.outcome, result.summary) == (
        CheckOutcome.FAILED,
        "no way to run a check of type Unknown",
    )


async def test_cancelling_a_check_cancels_it(hung_port: int) -> None:
    check = make_check(type="http", url=f"http://127.0.0.1:{hung_port}/", timeout="1m")
    running = asyncio.create_task(run_check(check, environ={}))
    await asyncio.sleep(0)  # let it start
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running


async def test_a_result_is_stored_and_read_back_as_it_was() -> None:
    result = await run_check(make_check(type="command", argv=["echo", "hi"]), environ={})
    assert CheckResult.from_json(result.as_json()) == result


@pytest.fixture
async def hanging_http() -> AsyncIterator[HttpTarget]:
    async with HttpTarget({"/ok": json_reply({"status": "ok"}), "/hang": HANG}) as server:
        yield server


async def longest_stall(work: Awaitable[Any]) -> tuple[float, Any]:
    """Run `work`, measuring the longest time the event loop went without a turn."""
    longest = 0.0
    done = False

    async def tick() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        outcome = await work
    finally:
        done = True
        await ticker
    return longest, outcome


async def test_twenty_checks_with_five_hanging_never_stall_the_loop(
    hanging_http: HttpTarget, hung_port: int, ca: trustme.CA, ca_file: str
) -> None:
    trust._contexts.clear()  # building a context is part of the work measured
    quick = timedelta(milliseconds=400)
    async with TlsTarget(server_context(ca)) as tls_server:
        checks: list[CheckBase] = [
            *(
                make_check(type="http", name=f"ok-{n}", url=hanging_http.url("/ok"))
                for n in range(4)
            ),
            *(
                make_check(type="tcp", name=f"tcp-{n}", host="127.0.0.1", port=tls_server.port)
                for n in range(2)
            ),
            make_check(type="tcp", name="refused", host="127.0.0.1", port=closed_port()),
            *(make_check(type="dns", name=f"dns-{n}", host="localhost") for n in range(2)),
            *(
                make_check(
                    type="tls",
                    name=f"tls-{n}",
                    host="localhost",
                    port=tls_server.port,
                    ca_file=ca_file,
                )
                for n in range(3)
            ),
            make_check(type="tls", name="tls-system", host="localhost", port=tls_server.port),
            make_check(type="command", name="echo", argv=["echo", "hi"]),
            make_check(type="command", name="python", argv=[sys.executable, "-c", "print(1)"]),
            # The five that hang.
            make_check(type="http", name="hang-http", url=hanging_http.url("/hang"), timeout=quick),
            make_check(
                type="tls", name="hang-tls", host="127.0.0.1", port=hung_port, timeout=quick
            ),
            make_check(type="postgres", name="hang-pg", dsn_env="DSN", timeout=quick),
            make_check(type="command", name="hang-cmd", argv=["sleep", "30"], timeout=quick),
            make_check(
                type="prometheus",
                name="hang-prom",
                url=f"http://127.0.0.1:{hung_port}",
                query="up",
                timeout=quick,
            ),
        ]
        assert len(checks) == 20
        environ = {"DSN": f"postgresql://app:pw@127.0.0.1:{hung_port}/app"}
        work = asyncio.gather(*(run_check(check, environ=environ) for check in checks))
        started = time.perf_counter()
        stall, results = await longest_stall(work)
        elapsed = time.perf_counter() - started
    outcomes = {result.name: result for result in results}
    assert all(
        outcomes[name].summary == "timed out after 0.4s"
        for name in ("hang-http", "hang-tls", "hang-pg", "hang-cmd", "hang-prom")
    ), [result.summary for result in results]
    assert all(
        result.outcome is CheckOutcome.PASSED
        for result in results
        if not result.name.startswith(("hang", "refused", "tls-system"))
    ), results
    assert elapsed < 1.5
    # A call blocking on a hung target would stall the loop for its whole timeout (400 ms).
    # The targets share this process and its loop, and other work this machine, so the
    # bound is loose; bench/diagnostics.py measures the real figure (under 50 ms).
    assert stall < 0.2, f"the event loop stalled for {stall * 1000:.0f} ms"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("one line", "one line"),
        ("  two\nlines\tand  spaces ", "two lines and spaces"),
        ("x" * 200, "x" * 119 + "…"),
    ],
)
def test_one_line(text: str, expected: str) -> None:
    assert one_line(text) == expected


def test_cap_output_keeps_short_text_as_it_is() -> None:
    assert cap_output("short") == "short"
    assert cap_output("x" * MAX_OUTPUT_BYTES) == "x" * MAX_OUTPUT_BYTES
    assert cap_output("short", cut=True) == "short\n… (truncated)"


def test_cap_output_cuts_on_a_character_boundary() -> None:
    capped = cap_output("€" * 5000)
    assert len(capped.encode()) <= MAX_OUTPUT_BYTES
    assert capped.endswith("\n… (truncated)")
    assert set(capped.removesuffix("\n… (truncated)")) == {"€"}


def test_drop_cut_line_drops_a_partial_last_line() -> None:
    assert drop_cut_line("one\ntwo\npass") == "one\ntwo\n"
    assert drop_cut_line("no line break at all") == "no line break at all"


def test_a_secret_cut_in_two_at_the_end_of_what_was_kept_is_not_shown() -> None:
    found = probe.Probe(environ={}, secrets=["s3cr3t-token-value"])
    found.keep_output("first line\nthe token is s3cr3t-tok", cut=True)
    result = found.result("c", probe.Verdict(CheckOutcome.PASSED, "ok"), latency_ms=1)
    assert "s3cr3t" not in result.output
    assert result.output == "first line\n… (truncated)"


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(seconds=5), "5s"),
        (timedelta(minutes=2), "2m"),
        (timedelta(milliseconds=300), "0.3s"),
        (timedelta(seconds=1.25), "1.25s"),
    ],
)
def test_seconds_text(duration: timedelta, text: str) -> None:
    assert seconds_text(duration) == text
