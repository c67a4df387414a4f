"""The http check against a real local server: statuses, JSON expectations, timeouts,
unreachable targets, TLS, and secrets that must never show."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import trustme

from bot.diagnostics.checks import run_check
from bot.diagnostics.results import MAX_OUTPUT_BYTES, CheckOutcome
from tests.support.diag_targets import HANG, HttpTarget, Reply, Request, closed_port, json_reply
from tests.unit.diagnostics.helpers import make_check, server_context, texts

SECRET = "tok-s3cr3t-0123456789"


def echo_headers(request: Request) -> Reply:
    return json_reply({"you_sent": request.headers})


ROUTES: dict[str, Any] = {
    "/health": json_reply({"status": "ok", "db": {"latency_ms": 3}}),
    "/degraded": json_reply({"status": "degraded", "db": {"latency_ms": 900}}),
    "/error": Reply(status=500, body=b"boom: the database is down", content_type="text/plain"),
    "/page": Reply(body=b"<html>hello</html>", content_type="text/html"),
    "/hang": HANG,
    "/echo": echo_headers,
    "/moved": Reply(status=302, headers={"Location": "/health"}),
    "/big": Reply(body=b"line of output\n" * 10_000, content_type="text/plain"),
    "/huge": Reply(body=b"[" + b"1," * (1024 * 1024) + b"1]"),
}


@pytest.fixture
async def target() -> AsyncIterator[HttpTarget]:
    async with HttpTarget(ROUTES) as server:
        yield server


def http_check(url: str, **fields: Any) -> Any:
    return make_check(type="http", url=url, **fields)


async def test_a_healthy_endpoint_passes(target: HttpTarget) -> None:
    check = http_check(target.url("/health"), expect=['$.status == "ok"', "$.db.latency_ms < 200"])
    result = await run_check(check, environ={})
    assert result.outcome is CheckOutcome.PASSED, result
    assert re.fullmatch(r"200 in \d+ ms", result.summary)
    assert result.details[:2] == (f"GET {target.url('/health')}", "HTTP/1.1 200 OK")
    assert '✓ $.status == "ok"' in result.details
    assert "✓ $.db.latency_ms < 200" in result.details
    assert json.loads(result.output) == {"status": "ok", "db": {"latency_ms": 3}}
    assert result.latency_ms is not None and 0 <= result.latency_ms < 2000
    assert result.name == "http-check"


async def test_unmet_expectations_fail_with_the_first_reason(target: HttpTarget) -> None:
    check = http_check(
        target.url("/degraded"),
        expect=['$.status == "ok"', "$.db.latency_ms < 200", "$.db"],
    )
    result = await run_check(check, environ={})
    assert result.outcome is CheckOutcome.FAILED
    assert result.summary == '$.status is "degraded" (+1 more)'
    assert '✗ $.status == "ok": $.status is "degraded"' in result.details
    assert "✗ $.db.latency_ms < 200: $.db.latency_ms is 900" in result.details
    assert "✓ $.db" in result.details


async def test_an_unexpected_status_fails(target: HttpTarget) -> None:
    result = await run_check(http_check(target.url("/error")), environ={})
    assert result.outcome is CheckOutcome.FAILED
    assert result.summary == "500 (expected 200)"
    assert "HTTP/1.1 500 Internal Server Error" in result.details
    assert result.output == "boom: the database is down"


async def test_the_statuses_expected_may_be_several(target: HttpTarget) -> None:
    result = await run_check(http_check(target.url("/error"), expect_status=[200, 500]), environ={})
    assert result.outcome is CheckOutcome.PASSED
    result = await run_check(
        http_check(target.url("/nowhere"), expect_status=[200, 204]), environ={}
    )
    assert result.summary == "404 (expected 200 or 204)"


async def test_expectations_need_a_json_body(target: HttpTarget) -> None:
    result = await run_check(http_check(target.url("/page"), expect=["$.status"]), environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "body is not JSON")
    assert result.output == "<html>hello</html>"
    # Without expectations, any body will do.
    result = await run_check(http_check(target.url("/page")), environ={})
    assert result.outcome is CheckOutcome.PASSED


async def test_a_hung_server_times_out_on_time(target: HttpTarget) -> None:
    check = http_check(target.url("/hang"), timeout=timedelta(milliseconds=300))
    started = time.perf_counter()
    result = await run_check(check, environ={})
    elapsed = time.perf_counter() - started
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "timed out after 0.3s")
    assert 0.3 <= elapsed < 0.8
    assert result.latency_ms is not None and 300 <= result.latency_ms < 800


async def test_a_server_that_accepts_and_never_answers_times_out(hung_port: int) -> None:
    check = http_check(f"http://127.0.0.1:{hung_port}/", timeout=timedelta(milliseconds=200))
    result = await run_check(check, environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "timed out after 0.2s")


async def test_a_closed_port_is_refused() -> None:
    result = await run_check(http_check(f"http://127.0.0.1:{closed_port()}/health"), environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "connection refused")


async def test_a_name_that_does_not_resolve() -> None:
    check = http_check("http://nothing-here.invalid/health", timeout="2s")
    result = await run_check(check, environ={})
    assert result.outcome is CheckOutcome.FAILED
    # A machine without a resolver answering may only time out.
    assert "nothing-here.invalid" in result.summary or result.summary == "timed out after 2s"


async def test_a_secret_header_is_sent_and_never_shown(target: HttpTarget) -> None:
    check = http_check(
        target.url("/echo"),
        headers={"X-Api-Token": {"env": "API_TOKEN"}, "X-Plain": "visible"},
        expect=["$.you_sent"],
    )
    result = await run_check(check, environ={"API_TOKEN": SECRET})
    assert result.outcome is CheckOutcome.PASSED
    assert target.requests[-1].headers["x-api-token"] == SECRET
    # The server echoed it back; the result says it was there and not what it was.
    assert SECRET not in texts(result)
    assert '"x-api-token": "[redacted]"' in result.output
    assert '"x-plain": "visible"' in result.output


async def test_a_secret_in_a_failing_answer_is_not_shown(target: HttpTarget) -> None:
    target.routes["/echo"] = lambda request: Reply(
        status=503, body=f"bad token {request.headers['authorization']}".encode()
    )
    check = http_check(target.url("/echo"), headers={"Authorization": {"env": "API_TOKEN"}})
    result = await run_check(check, environ={"API_TOKEN": SECRET})
    assert result.summary == "503 (expected 200)"
    assert SECRET not in texts(result)
    assert result.output == "bad token [redacted]"


async def test_a_missing_environment_variable_fails_before_any_request(
    target: HttpTarget,
) -> None:
    check = http_check(target.url("/echo"), headers={"Authorization": {"env": "API_TOKEN"}})
    for environ in ({}, {"API_TOKEN": ""}):
        result = await run_check(check, environ=environ)
        assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "$API_TOKEN is not set")
    assert target.requests == []


async def test_redirects_are_followed_only_when_asked(target: HttpTarget) -> None:
    result = await run_check(http_check(target.url("/moved")), environ={})
    assert result.summary == "302 (expected 200)"
    result = await run_check(http_check(target.url("/moved"), follow_redirects=True), environ={})
    assert result.outcome is CheckOutcome.PASSED
    assert f"redirected to {target.url('/health')}" in result.details


async def test_a_long_body_is_capped(target: HttpTarget) -> None:
    result = await run_check(http_check(target.url("/big")), environ={})
    assert result.outcome is CheckOutcome.PASSED
    assert len(result.output.encode()) <= MAX_OUTPUT_BYTES
    assert result.output.startswith("line of output\n")
    assert result.output.endswith("… (truncated)")


async def test_a_body_too_big_to_check(target: HttpTarget) -> None:
    result = await run_check(http_check(target.url("/huge"), expect=["$[0]"]), environ={})
    assert (result.outcome, result.summary) == (
        CheckOutcome.FAILED,
        "body is larger than 1024 KiB: not checked",
    )
    assert "1048576+ bytes" in result.details[2]


async def test_head_requests(target: HttpTarget) -> None:
    result = await run_check(http_check(target.url("/health"), method="HEAD"), environ={})
    assert result.outcome is CheckOutcome.PASSED
    assert target.requests[-1].method == "HEAD"
    assert result.output == ""


async def test_https_verifies_against_the_ca_file(ca: trustme.CA, ca_file: str) -> None:
    async with HttpTarget(ROUTES, context=server_context(ca)) as target:
        url = target.url("/health").replace("127.0.0.1", "localhost")
        result = await run_check(http_check(url, ca_file=ca_file), environ={})
        assert result.outcome is CheckOutcome.PASSED, result
        result = await run_check(http_check(url), environ={})
    assert result.outcome is CheckOutcome.FAILED
    assert result.summary.startswith("certificate verify failed: "), result.summary


async def test_https_honours_ssl_cert_file(
    ca: trustme.CA, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    async with HttpTarget(ROUTES, context=server_context(ca)) as target:
        result = await run_check(http_check(target.url("/health")), environ={})
    assert result.outcome is CheckOutcome.PASSED, result


async def test_a_missing_ca_file(target: HttpTarget, tmp_path: Any) -> None:
    missing = str(tmp_path / "nope.pem")
    result = await run_check(http_check(target.url("/health"), ca_file=missing), environ={})
    assert result.outcome is CheckOutcome.FAILED
    assert result.summary == f"cannot load ca_file {missing}: No such file or directory"
