"""What one run of a check carries: its environment, the secrets it resolved, and what it
has found so far (kept when the check times out half way)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.diagnostics.checks.text import cap_output, drop_cut_line, one_line
from bot.diagnostics.redact import redact
from bot.diagnostics.results import CheckOutcome, CheckResult
from bot.policy.diagnostics import EnvRef, Value

__all__ = ["CheckFailed", "Probe", "Verdict"]


@dataclass(frozen=True)
class Verdict:
    outcome: CheckOutcome
    summary: str


class CheckFailed(Exception):
    """Ends a check as failed, with the one line saying why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Probe:
    environ: Mapping[str, str]
    secrets: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    output: str = ""
    # The output is the start of a longer text, cut where the check stopped keeping it.
    output_cut: bool = False

    def env(self, name: str) -> str:
        """The value of environment variable `name`, remembered as a secret."""
        value = self.environ.get(name)
        # Empty counts as unset, as in DiagnosticsPolicy.missing_environment.
        if not value:
            raise CheckFailed(f"${name} is not set")
        self.secrets.append(value)
        return value

    def resolve(self, value: Value) -> str:
        return self.env(value.env) if isinstance(value, EnvRef) else value

    def add_secret(self, value: str) -> None:
        self.secrets.append(value)

    def note(self, line: str) -> None:
        self.details.append(line)

    def keep_output(self, text: str, *, cut: bool = False) -> None:
        self.output, self.output_cut = text, cut

    def result(self, name: str, verdict: Verdict, *, latency_ms: int) -> CheckResult:
        """The result as it may be posted: every text redacted, the output capped."""
        output = drop_cut_line(self.output) if self.output_cut else self.output
        return CheckResult(
            name=name,
            outcome=verdict.outcome,
            summary=one_line(self.redact(verdict.summary)),
            latency_ms=latency_ms,
            details=tuple(one_line(self.redact(line), limit=500) for line in self.details),
            output=cap_output(self.redact(output), cut=self.output_cut),
        )

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)
