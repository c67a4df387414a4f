"""prometheus: an instant query's value against the check's thresholds.

A query answering several series is judged by its worst one (the highest against an
`*_above` threshold, the lowest against a `*_below` one); every series is listed in the
details. No series at all, or NaN, is a warning: nothing says the thing is healthy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from bot.diagnostics.checks.fetch import MAX_BODY_BYTES, fetch
from bot.diagnostics.checks.probe import CheckFailed, Probe, Verdict
from bot.diagnostics.results import CheckOutcome
from bot.policy.diagnostics import PrometheusCheck

__all__ = ["run"]

# Series listed one per line in the details; more are counted, not listed.
_LISTED_SERIES = 20
_SEVERITY = {CheckOutcome.PASSED: 0, CheckOutcome.WARNED: 1, CheckOutcome.FAILED: 2}


@dataclass(frozen=True)
class Sample:
    series: str  # `up{job="api"}`, or `scalar`
    value: float


@dataclass(frozen=True)
class Judgement:
    sample: Sample
    outcome: CheckOutcome
    rule: str | None  # the threshold crossed: `fail above 0.9`
    above: bool  # the rule is an upper bound (the highest value is the worst)


async def run(check: PrometheusCheck, probe: Probe) -> Verdict:
    probe.note(f"query: {check.query}")
    fetched = await fetch(
        probe,
        method="GET",
        url=f"{check.url.rstrip('/')}/api/v1/query",
        params={"query": check.query},
        headers=check.headers,
        check_timeout=check.timeout,
        ca_file=check.ca_file,
    )
    fetched.keep_excerpt(probe)
    if not fetched.complete:
        raise CheckFailed(f"the answer is larger than {MAX_BODY_BYTES // 1024} KiB")
    answer = _answer(fetched.status, fetched.body)
    for warning in answer.get("warnings") or ():
        probe.note(f"Prometheus warns: {warning}")
    samples = _samples(answer.get("data"))
    for sample in samples[:_LISTED_SERIES]:
        probe.note(f"{sample.series} = {_shown(sample.value, check.unit)}")
    if len(samples) > _LISTED_SERIES:
        probe.note(f"… and {len(samples) - _LISTED_SERIES} more series")
    if not samples:
        return Verdict(CheckOutcome.WARNED, "no data")
    return _verdict(check, samples)


def _answer(status: int, body: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except ValueError:
        raise CheckFailed(f"{status}: the answer is not JSON") from None
    if not isinstance(answer, dict) or answer.get("status") not in ("success", "error"):
        raise CheckFailed(f"{status}: not an answer of the Prometheus query API")
    if answer["status"] == "error":
        kind = answer.get("errorType") or "error"
        raise CheckFailed(f"Prometheus {kind}: {answer.get('error') or 'no reason given'}")
    if status != 200:
        raise CheckFailed(f"{status} (expected 200)")
    return answer


def _samples(data: Any) -> list[Sample]:
    if not isinstance(data, dict):
        raise CheckFailed("the answer has no data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return [Sample("scalar", _number(result))]
    if kind == "vector" and isinstance(result, list):
        return [
            Sample(_series(item.get("metric")), _number(item.get("value")))
            for item in result
            if isinstance(item, dict)
        ]
    raise CheckFailed(f"the query answers a {kind}: write one answering a vector or a scalar")


def _number(pair: Any) -> float:
    """The value of a `[timestamp, "value"]` pair (Prometheus sends numbers as text)."""
    if not isinstance(pair, list) or len(pair) != 2:
        raise CheckFailed(f"unexpected value in the answer: {json.dumps(pair)[:60]}")
    try:
        return float(pair[1])
    except (TypeError, ValueError):
        raise CheckFailed(f"unexpected value in the answer: {json.dumps(pair[1])[:60]}") from None


def _series(metric: Any) -> str:
    labels = dict(metric) if isinstance(metric, dict) else {}
    name = str(labels.pop("__name__", ""))
    inner = ", ".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def _verdict(check: PrometheusCheck, samples: list[Sample]) -> Verdict:
    judgements = [_judge(check, sample) for sample in samples]
    worst_outcome = max((j.outcome for j in judgements), key=_SEVERITY.__getitem__)
    worst = [j for j in judgements if j.outcome is worst_outcome]
    numbers = [j for j in worst if not math.isnan(j.sample.value)]
    if not numbers:
        # Every such series shows NaN (0/0, a rate over no samples): nothing to judge.
        return Verdict(CheckOutcome.WARNED, _summary(check, worst[0], len(samples)))
    # Series crossing an upper bound are ranked by the highest, a lower bound by the lowest.
    above = numbers[0].above
    ranked = [j for j in numbers if j.above == above]
    chosen = (max if above else min)(ranked, key=lambda j: j.sample.value)
    return Verdict(chosen.outcome, _summary(check, chosen, len(samples)))


def _judge(check: PrometheusCheck, sample: Sample) -> Judgement:
    value = sample.value
    upper_only = check.warn_below is None and check.fail_below is None
    if math.isnan(value):
        return Judgement(sample, CheckOutcome.WARNED, "no value to compare", upper_only)
    rules = (
        (CheckOutcome.FAILED, "fail above", check.fail_above, True),
        (CheckOutcome.FAILED, "fail below", check.fail_below, False),
        (CheckOutcome.WARNED, "warn above", check.warn_above, True),
        (CheckOutcome.WARNED, "warn below", check.warn_below, False),
    )
    for outcome, words, threshold, above in rules:
        if threshold is not None and (value > threshold if above else value < threshold):
            return Judgement(sample, outcome, f"{words} {_number_text(threshold)}", above)
    # Without a threshold crossed, the series nearest the upper bounds (if any) is shown.
    return Judgement(sample, CheckOutcome.PASSED, None, upper_only or check.warn_above is not None)


def _summary(check: PrometheusCheck, judgement: Judgement, count: int) -> str:
    rule = judgement.rule or _thresholds(check)
    text = _shown(judgement.sample.value, check.unit)
    if rule:
        text += f" ({rule})"
    if count > 1:
        text += f" · worst of {count} series"
    return text


def _thresholds(check: PrometheusCheck) -> str:
    """The bounds a passing value is kept within: the warning ones, else the failing ones."""
    parts = [
        _bound(direction, warn, fail)
        for direction, warn, fail in (
            ("above", check.warn_above, check.fail_above),
            ("below", check.warn_below, check.fail_below),
        )
        if warn is not None or fail is not None
    ]
    return ", ".join(parts)


def _bound(direction: str, warn: float | None, fail: float | None) -> str:
    if warn is not None:
        return f"warn {direction} {_number_text(warn)}"
    assert fail is not None
    return f"fail {direction} {_number_text(fail)}"


def _shown(value: float, unit: str) -> str:
    text = _number_text(value)
    if not unit or math.isnan(value):
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def _number_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.4g}"
