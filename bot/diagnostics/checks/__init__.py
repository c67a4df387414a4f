"""Running one check of the policy's `diagnostics.checks`: one module per type.

`run_check` never raises: a timeout, an unreachable target or any error is a failed
result saying so in one line, redacted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from bot.diagnostics.checks import command, dns, http, postgres, prometheus, tcp, tls
from bot.diagnostics.checks.errors import describe_error
from bot.diagnostics.checks.probe import CheckFailed, Probe, Verdict
from bot.diagnostics.checks.text import seconds_text
from bot.diagnostics.results import CheckOutcome, CheckResult
from bot.policy.diagnostics import (
    CheckBase,
    CommandCheck,
    DnsCheck,
    HttpCheck,
    PostgresCheck,
    PrometheusCheck,
    TcpCheck,
    TlsCheck,
)

__all__ = ["run_check"]

logger = logging.getLogger(__name__)


async def run_check(check: CheckBase, *, environ: Mapping[str, str]) -> CheckResult:
    """Run `check` under its own timeout; what it found, redacted."""
    probe = Probe(environ)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(check.timeout.total_seconds()):
            verdict = await _run(check, probe)
    except TimeoutError:
        verdict = Verdict(CheckOutcome.FAILED, f"timed out after {seconds_text(check.timeout)}")
    except CheckFailed as failure:
        verdict = Verdict(CheckOutcome.FAILED, failure.reason)
    except Exception as error:
        verdict = Verdict(CheckOutcome.FAILED, describe_error(error))
        # Only the redacted line: the exception's own text may quote a secret.
        logger.warning("diagnostics check %s failed: %s", check.name, probe.redact(verdict.summary))
    latency_ms = round((time.perf_counter() - started) * 1000)
    return probe.result(check.name, verdict, latency_ms=latency_ms)


async def _run(check: CheckBase, probe: Probe) -> Verdict:
    if isinstance(check, HttpCheck):
        return await http.run(check, probe)
    if isinstance(check, TcpCheck):
        return await tcp.run(check, probe)
    if isinstance(check, PostgresCheck):
        return await postgres.run(check, probe)
    if isinstance(check, DnsCheck):
        return await dns.run(check, probe)
    if isinstance(check, TlsCheck):
        return await tls.run(check, probe)
    if isinstance(check, PrometheusCheck):
        return await prometheus.run(check, probe)
    if isinstance(check, CommandCheck):
        return await command.run(check, probe)
    raise CheckFailed(f"no way to run a check of type {type(check).__name__}")
