"""http: does the URL answer with the status expected, and a body meeting `expect`?"""

from __future__ import annotations

import json
from typing import Any

from bot.diagnostics.checks.fetch import MAX_BODY_BYTES, fetch
from bot.diagnostics.checks.probe import CheckFailed, Probe, Verdict
from bot.diagnostics.results import CheckOutcome
from bot.policy.diagnostics import HttpCheck

__all__ = ["run"]


async def run(check: HttpCheck, probe: Probe) -> Verdict:
    probe.note(check.target())
    fetched = await fetch(
        probe,
        method=check.method,
        url=check.url,
        headers=check.headers,
        check_timeout=check.timeout,
        ca_file=check.ca_file,
        follow_redirects=check.follow_redirects,
    )
    fetched.keep_excerpt(probe)
    probe.note(f"{fetched.http_version} {fetched.status} {fetched.reason}".rstrip())
    if fetched.redirected_to:
        probe.note(f"redirected to {fetched.redirected_to}")
    size = f"{len(fetched.body)}{'' if fetched.complete else '+'} bytes"
    probe.note(f"{size} in {fetched.elapsed_ms} ms")
    statuses = check.statuses()
    if fetched.status not in statuses:
        expected = " or ".join(str(status) for status in statuses)
        return Verdict(CheckOutcome.FAILED, f"{fetched.status} (expected {expected})")
    if check.expect:
        failures = _unmet(check, probe, _json_body(fetched.body, complete=fetched.complete))
        if failures:
            more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
            return Verdict(CheckOutcome.FAILED, f"{failures[0]}{more}")
    return Verdict(CheckOutcome.PASSED, f"{fetched.status} in {fetched.elapsed_ms} ms")


def _json_body(body: bytes, *, complete: bool) -> Any:
    if not complete:
        raise CheckFailed(f"body is larger than {MAX_BODY_BYTES // 1024} KiB: not checked")
    try:
        return json.loads(body)
    except ValueError:
        raise CheckFailed("body is not JSON") from None


def _unmet(check: HttpCheck, probe: Probe, body: Any) -> list[str]:
    """Why each expectation not met is not; every expectation's outcome is noted."""
    failures: list[str] = []
    for expectation in check.expect:
        reason = expectation.check(body)
        if reason is None:
            probe.note(f"✓ {expectation.text}")
        else:
            probe.note(f"✗ {expectation.text}: {reason}")
            failures.append(reason)
    return failures
