"""What diagnostics post: the run's message (running, then its results), the detail in its
thread, and the list `/incident diag` shows. All rendered from what is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.chat.port import Message
from bot.diagnostics.redact import redact
from bot.diagnostics.results import CheckOutcome, CheckResult, Tally
from bot.incidents.status import incident_key
from bot.policy.diagnostics import DiagnosticsPolicy
from bot.storage.models import DiagnosticRun, RunState
from bot.text.durations import format_duration
from bot.text.markdown import Trusted, actor_ref
from bot.text.templates import Renderer

RUN_TEMPLATE = "diagnostics_run.md.j2"
DETAIL_TEMPLATE = "diagnostics_detail.md.j2"
LIST_TEMPLATE = "diagnostics_list.md.j2"


@dataclass(frozen=True)
class CheckLine:
    icon: str
    name: str
    outcome: str
    latency: str
    summary: str
    hint: str = ""
    target: str = ""
    details: tuple[str, ...] = ()
    output: str = ""


@dataclass(frozen=True)
class RunView:
    key: str
    target: str
    label: str
    asked_by: Trusted
    finished: bool
    interrupted: bool
    tally: str
    took: str
    lines: list[CheckLine]

    @property
    def checks(self) -> list[CheckLine]:
        return self.lines


def results_of(run: DiagnosticRun) -> list[CheckResult]:
    """The run's results in its checks' order; checks without one yet as running."""
    stored = {str(data.get("name")): CheckResult.from_json(data) for data in run.results}
    waiting = (
        CheckOutcome.INTERRUPTED if run.state is RunState.INTERRUPTED else CheckOutcome.RUNNING
    )
    return [stored.get(name) or CheckResult(name, waiting, "") for name in run.checks]


def latency_text(milliseconds: int | None) -> str:
    if milliseconds is None:
        return ""
    if milliseconds < 1000:
        return f"{milliseconds} ms"
    return f"{milliseconds / 1000:.1f} s"


def _line(result: CheckResult, policy: DiagnosticsPolicy | None = None) -> CheckLine:
    check = policy.check(result.name) if policy is not None else None
    return CheckLine(
        icon=result.outcome.icon,
        name=result.name,
        outcome=result.outcome.value,
        latency=latency_text(result.latency_ms),
        summary=result.summary,
        hint=result.hint,
        target=redact(check.target()) if check is not None else "",
        details=result.details,
        output=result.output,
    )


def run_view(
    run: DiagnosticRun, *, number: int, policy: DiagnosticsPolicy | None = None
) -> RunView:
    results = results_of(run)
    finished = run.state in (RunState.DONE, RunState.INTERRUPTED)
    took = ""
    if finished and run.finished_at is not None:
        spent = run.finished_at - (run.started_at or run.requested_at)
        took = (
            latency_text(int(spent.total_seconds() * 1000))
            if spent < timedelta(minutes=1)
            else format_duration(spent)
        )
    return RunView(
        key=incident_key(number),
        target=run.target,
        label=run.label,
        asked_by=actor_ref(run.requested_by),
        finished=finished,
        interrupted=run.state is RunState.INTERRUPTED,
        tally=Tally.of(results).words(),
        took=took or "a moment",
        lines=[_line(result, policy) for result in results],
    )


def run_marker(run_id: int) -> str:
    return f"diagnostics:{run_id}"


def run_message(run: DiagnosticRun, *, number: int, renderer: Renderer) -> Message:
    view = run_view(run, number=number)
    state = view.tally if view.finished else "running"
    return Message(
        markdown=renderer.render(RUN_TEMPLATE, run=view),
        fallback=f"Diagnostics {view.label} on {view.key}: {state}",
        marker=run_marker(run.id or 0),
    )


def detail_message(
    run: DiagnosticRun, *, number: int, renderer: Renderer, policy: DiagnosticsPolicy
) -> Message:
    view = run_view(run, number=number, policy=policy)
    return Message(
        markdown=renderer.render(DETAIL_TEMPLATE, run=view),
        fallback=f"Details of diagnostics {view.label} on {view.key}",
        marker=f"diagnostics-detail:{run.id}",
        thread_ref=run.message_ref,
    )


def catalogue(policy: DiagnosticsPolicy, *, renderer: Renderer) -> str:
    """`/incident diag`: every check and runbook by name, with what it looks at."""
    checks = [
        {
            "name": check.name,
            "type": getattr(check, "type", "?"),
            "timeout": format_duration(check.timeout),
            "target": redact(check.target()),
            "description": check.description,
        }
        for check in policy.checks
    ]
    runbooks = [
        {
            "name": runbook.name,
            "title": runbook.label(),
            "steps": [step.check for step in runbook.steps],
            "stop_on_failure": runbook.stop_on_failure,
            "description": runbook.description,
        }
        for runbook in policy.runbooks
    ]
    return renderer.render(LIST_TEMPLATE, checks=checks, runbooks=runbooks)
