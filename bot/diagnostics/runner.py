"""What a run does: which checks, in which order, and how a runbook stops.

Checks of one run go concurrently, each under its own timeout, so a hung target costs
its timeout and not the sum. A runbook with `stop_on_failure` is a diagnostic tree: its
steps go one after the other, and after a failed step the rest are shown as skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.diagnostics.checks import run_check
from bot.diagnostics.results import CheckOutcome, CheckResult
from bot.errors import UserError
from bot.policy.diagnostics import CheckBase, DiagnosticsPolicy
from bot.text.markdown import excerpt

ALL = "all"
# Beyond the checks' own timeouts: what a run may take to start and store its results.
RUN_MARGIN = timedelta(seconds=30)

CheckRunner = Callable[[CheckBase], Awaitable[CheckResult]]


@dataclass(frozen=True)
class Step:
    name: str
    hint: str = ""


@dataclass(frozen=True)
class Plan:
    """What one run executes: `target` as asked for, `label` as people read it."""

    target: str
    label: str
    steps: tuple[Step, ...]
    stop_on_failure: bool = False

    @property
    def check_names(self) -> list[str]:
        return [step.name for step in self.steps]


def plan_for(policy: DiagnosticsPolicy, target: str) -> Plan:
    """The run `target` names: a runbook, a check, or `all` checks; UserError otherwise."""
    if not policy.checks:
        raise UserError(
            "no diagnostics are set up: the policy's diagnostics: section defines the checks"
        )
    if target == ALL:
        return Plan(ALL, "all checks", tuple(Step(name) for name in policy.check_names()))
    runbook = policy.runbook(target)
    if runbook is not None:
        steps = tuple(Step(step.check, step.hint) for step in runbook.steps)
        return Plan(target, f"runbook {runbook.label()}", steps, runbook.stop_on_failure)
    if policy.check(target) is not None:
        return Plan(target, f"check {target}", (Step(target),))
    raise UserError(f"no check or runbook is named {excerpt(target)}: `/incident diag` lists them")


def budget(policy: DiagnosticsPolicy, plan: Plan) -> timedelta:
    """The longest the checks of `plan` can take: the sum of a tree's timeouts, else the
    longest one."""
    timeouts = [check.timeout for step in plan.steps if (check := policy.check(step.name))]
    if not timeouts:
        return RUN_MARGIN
    spent = sum(timeouts, timedelta(0)) if plan.stop_on_failure else max(timeouts)
    return spent + RUN_MARGIN


def default_runner(environ: Mapping[str, str]) -> Callable[[CheckBase], Awaitable[CheckResult]]:
    async def run(check: CheckBase) -> CheckResult:
        return await run_check(check, environ=environ)

    return run


async def execute(policy: DiagnosticsPolicy, plan: Plan, run: CheckRunner) -> list[CheckResult]:
    """Every step's result, in the plan's order."""
    if plan.stop_on_failure:
        return await _one_by_one(policy, plan, run)
    started: list[asyncio.Task[CheckResult]] = []
    try:
        for step in plan.steps:
            started.append(asyncio.create_task(_step(policy, step, run)))
            # Each check's set-up (a client, a process) in a turn of the loop of its own:
            # twenty started in one turn would hold up everything else for tens of ms.
            await asyncio.sleep(0)
        return list(await asyncio.gather(*started))
    except asyncio.CancelledError:
        for task in started:
            task.cancel()
        raise


async def _one_by_one(policy: DiagnosticsPolicy, plan: Plan, run: CheckRunner) -> list[CheckResult]:
    results: list[CheckResult] = []
    failed: str | None = None
    for step in plan.steps:
        if failed is not None:
            results.append(
                CheckResult(step.name, CheckOutcome.SKIPPED, f"skipped: {failed} failed")
            )
            continue
        result = await _step(policy, step, run)
        results.append(result)
        if result.outcome is CheckOutcome.FAILED:
            failed = step.name
    return results


async def _step(policy: DiagnosticsPolicy, step: Step, run: CheckRunner) -> CheckResult:
    check = policy.check(step.name)
    if check is None:  # the policy changed since the run was asked for
        return CheckResult(step.name, CheckOutcome.FAILED, "no longer in the policy")
    return (await run(check)).with_hint(step.hint)
