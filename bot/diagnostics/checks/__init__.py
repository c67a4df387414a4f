"""Running one check of the policy's `diagnostics.checks`: one module per type.

`run_check` never raises: a timeout, an unreachable target or any error is a failed
result saying so in one line, redacted.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.diagnostics.results import CheckResult
from bot.policy.diagnostics import CheckBase


async def run_check(check: CheckBase, *, environ: Mapping[str, str]) -> CheckResult:
    """Run `check` under its own timeout; what it found, redacted."""
    raise NotImplementedError
