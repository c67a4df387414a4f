"""What a check found, in a form that is stored (JSON), rendered and read by the postmortem.

Everything here has been redacted already: results are posted and stored as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class CheckOutcome(StrEnum):
    PASSED = "passed"
    WARNED = "warned"
    FAILED = "failed"
    SKIPPED = "skipped"  # a runbook stopped at an earlier failure
    INTERRUPTED = "interrupted"  # warroom stopped while it ran
    RUNNING = "running"  # not finished yet (only while a run is shown as running)

    @property
    def icon(self) -> str:
        return _ICONS[self]


_ICONS = {
    CheckOutcome.PASSED: "✅",
    CheckOutcome.WARNED: "⚠️",
    CheckOutcome.FAILED: "❌",
    CheckOutcome.SKIPPED: "⏭️",
    CheckOutcome.INTERRUPTED: "⛔",
    CheckOutcome.RUNNING: "⏳",
}
# Output kept per check (command stdout, a response excerpt), after redaction.
MAX_OUTPUT_BYTES = 4096


@dataclass(frozen=True)
class CheckResult:
    """One check's result. `summary` is the one line shown in the channel (the key figure,
    or the error); `details` and `output` go in the thread."""

    name: str
    outcome: CheckOutcome
    summary: str
    latency_ms: int | None = None
    details: tuple[str, ...] = ()
    output: str = ""
    hint: str = ""  # a runbook step's hint, kept when the step did not pass

    def with_hint(self, hint: str) -> CheckResult:
        failed = self.outcome in (CheckOutcome.FAILED, CheckOutcome.WARNED)
        return replace(self, hint=hint if failed else "")

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "outcome": self.outcome.value,
            "summary": self.summary,
            "latency_ms": self.latency_ms,
        }
        if self.details:
            data["details"] = list(self.details)
        if self.output:
            data["output"] = self.output
        if self.hint:
            data["hint"] = self.hint
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        latency = data.get("latency_ms")
        return cls(
            name=str(data.get("name", "?")),
            outcome=CheckOutcome(str(data.get("outcome", CheckOutcome.FAILED.value))),
            summary=str(data.get("summary", "")),
            latency_ms=int(latency) if isinstance(latency, int | float) else None,
            details=tuple(str(line) for line in data.get("details") or ()),
            output=str(data.get("output") or ""),
            hint=str(data.get("hint") or ""),
        )


@dataclass(frozen=True)
class Tally:
    passed: int = 0
    warned: int = 0
    failed: int = 0
    skipped: int = 0
    interrupted: int = 0

    @classmethod
    def of(cls, results: list[CheckResult]) -> Tally:
        def count(outcome: CheckOutcome) -> int:
            return sum(1 for result in results if result.outcome is outcome)

        return cls(
            passed=count(CheckOutcome.PASSED),
            warned=count(CheckOutcome.WARNED),
            failed=count(CheckOutcome.FAILED),
            skipped=count(CheckOutcome.SKIPPED),
            interrupted=count(CheckOutcome.INTERRUPTED) + count(CheckOutcome.RUNNING),
        )

    def words(self) -> str:
        """`2 passed, 1 failed`: only the counts that are not zero."""
        parts = [
            f"{count} {word}"
            for count, word in (
                (self.passed, "passed"),
                (self.warned, "warned"),
                (self.failed, "failed"),
                (self.skipped, "skipped"),
                (self.interrupted, "interrupted"),
            )
            if count
        ]
        return ", ".join(parts) or "nothing run"

    def as_json(self) -> dict[str, int]:
        return {
            "passed": self.passed,
            "warned": self.warned,
            "failed": self.failed,
            "skipped": self.skipped,
            "interrupted": self.interrupted,
        }
