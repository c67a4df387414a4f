"""The prometheus check against a fake Prometheus query API served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.diagnostics.checks import run_check
from bot.diagnostics.results import CheckOutcome
from tests.support.diag_targets import HANG, HttpTarget, Reply, Request, json_reply
from tests.unit.diagnostics.helpers import make_check, texts

NOW = 1_700_000_000.0


def vector(*series: tuple[dict[str, str], str]) -> dict[str, Any]:
    result = [{"metric": labels, "value": [NOW, value]} for labels, value in series]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


ANSWERS: dict[str, Reply] = {
    "up": json_reply(vector(({"__name__": "up", "job": "api"}, "1"))),
    "latency": json_reply(
        vector(
            ({"instance": "a:9090", "job": "api"}, "0.2"),
            ({"instance": "b:9090", "job": "api"}, "0.7"),
            ({"instance": "c:9090", "job": "api"}, "0.4"),
        )
    ),
    "scalar(0.42)": json_reply(
        {"status": "success", "data": {"resultType": "scalar", "result": [NOW, "0.42"]}}
    ),
    "absent": json_reply(vector()),
    "ratio": json_reply(vector(({}, "NaN"))),
    "mixed": json_reply(vector(({"i": "a"}, "NaN"), ({"i": "b"}, "3"))),
    "rate(x[5m]": json_reply(
        {
            "status": "error",
            "errorType": "bad_data",
            "error": "1:11: parse error: unclosed left parenthesis",
        },
        status=400,
    ),
    "x[5m]": json_reply(
        {"status": "success", "data": {"resultType": "matrix", "result": []}},
    ),
    "warned": json_reply({**vector(({}, "1")), "warnings": ["result may be incomplete"]}),
}


def query_api(request: Request) -> Reply:
    [query] = request.query["query"]
    return ANSWERS.get(query, Reply(status=500, body=b"no such answer", content_type="text/plain"))


@pytest.fixture
async def prometheus() -> AsyncIterator[HttpTarget]:
    routes: dict[str, Any] = {
        "/api/v1/query": query_api,
        "/behind/proxy/api/v1/query": query_api,
        "/slow/api/v1/query": HANG,
        "/not-prometheus/api/v1/query": json_reply({"hello": "world"}),
    }
    async with HttpTarget(routes) as server:
        yield server


def prometheus_check(server: HttpTarget, query: str, **fields: Any) -> Any:
    return make_check(type="prometheus", url=server.url(""), query=query, **fields)


async def test_a_scalar_within_bounds_passes(prometheus: HttpTarget) -> None:
    check = prometheus_check(prometheus, "scalar(0.42)", warn_above=0.5, unit="s")
    result = await run_check(check, environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.PASSED, "0.42 s (warn above 0.5)")
    assert result.details == ("query: scalar(0.42)", "scalar = 0.42 s")
    assert prometheus.requests[-1].query == {"query": ["scalar(0.42)"]}


async def test_the_worst_of_several_series_is_judged(prometheus: HttpTarget) -> None:
    check = prometheus_check(prometheus, "latency", warn_above=0.5, fail_above=0.9, unit="s")
    result = await run_check(check, environ={})
    assert result.outcome is CheckOutcome.WARNED
    assert result.summary == "0.7 s (warn above 0.5) · worst of 3 series"
    assert result.details[1:] == (
        '{instance="a:9090", job="api"} = 0.2 s',
        '{instance="b:9090", job="api"} = 0.7 s',
        '{instance="c:9090", job="api"} = 0.4 s',
    )
    check = prometheus_check(prometheus, "latency", warn_above=0.3, fail_above=0.6)
    result = await run_check(check, environ={})
    assert (result.outcome, result.summary) == (
        CheckOutcome.FAILED,
        "0.7 (fail above 0.6) · worst of 3 series",
    )


async def test_lower_bounds_judge_the_lowest(prometheus: HttpTarget) -> None:
    check = prometheus_check(prometheus, "latency", warn_below=0.3, fail_below=0.1)
    result = await run_check(check, environ={})
    assert (result.outcome, result.summary) == (
        CheckOutcome.WARNED,
        "0.2 (warn below 0.3) · worst of 3 series",
    )
    check = prometheus_check(prometheus, "latency", fail_below=0.1)
    result = await run_check(check, environ={})
    assert (result.outcome, result.summary) == (
        CheckOutcome.PASSED,
        "0.2 (fail below 0.1) · worst of 3 series",
    )


async def test_units_and_no_thresholds(prometheus: HttpTarget) -> None:
    result = await run_check(prometheus_check(prometheus, "up", unit="%"), environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.PASSED, "1%")
    assert 'up{job="api"} = 1%' in result.details


async def test_no_series_is_no_data(prometheus: HttpTarget) -> None:
    result = await run_check(prometheus_check(prometheus, "absent", fail_below=1), environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.WARNED, "no data")


async def test_nan_warns(prometheus: HttpTarget) -> None:
    result = await run_check(prometheus_check(prometheus, "ratio", fail_above=1), environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.WARNED, "NaN (no value to compare)")
    result = await run_check(prometheus_check(prometheus, "mixed", fail_above=2), environ={})
    assert (result.outcome, result.summary) == (
        CheckOutcome.FAILED,
        "3 (fail above 2) · worst of 2 series",
    )
    result = await run_check(prometheus_check(prometheus, "mixed", fail_above=5), environ={})
    assert result.outcome is CheckOutcome.WARNED


async def test_a_prometheus_error_fails_with_its_reason(prometheus: HttpTarget) -> None:
    result = await run_check(prometheus_check(prometheus, "rate(x[5m]"), environ={})
    assert (result.outcome, result.summary) == (
        CheckOutcome.FAILED,
        "Prometheus bad_data: 1:11: parse error: unclosed left parenthesis",
    )


async def test_answers_that_cannot_be_judged(prometheus: HttpTarget) -> None:
    result = await run_check(prometheus_check(prometheus, "x[5m]"), environ={})
    assert result.outcome is CheckOutcome.FAILED
    assert result.summary.startswith("the query answers a matrix")
    result = await run_check(prometheus_check(prometheus, "unknown"), environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "500: the answer is not JSON")
    check = make_check(type="prometheus", url=prometheus.url("/not-prometheus"), query="up")
    result = await run_check(check, environ={})
    assert result.summary == "200: not an answer of the Prometheus query API"


async def test_warnings_of_prometheus_are_noted(prometheus: HttpTarget) -> None:
    result = await run_check(prometheus_check(prometheus, "warned"), environ={})
    assert "Prometheus warns: result may be incomplete" in result.details


async def test_a_url_with_a_path_and_headers_from_the_environment(prometheus: HttpTarget) -> None:
    check = make_check(
        type="prometheus",
        url=prometheus.url("/behind/proxy/"),
        query="up",
        headers={"Authorization": {"env": "PROM_TOKEN"}},
    )
    result = await run_check(check, environ={"PROM_TOKEN": "Bearer prom-s3cr3t-token"})
    assert result.outcome is CheckOutcome.PASSED
    assert prometheus.requests[-1].headers["authorization"] == "Bearer prom-s3cr3t-token"
    assert "prom-s3cr3t" not in texts(result)
    result = await run_check(check, environ={})
    assert result.summary == "$PROM_TOKEN is not set"


async def test_a_hung_prometheus_times_out(prometheus: HttpTarget) -> None:
    check = make_check(
        type="prometheus",
        url=prometheus.url("/slow"),
        query="up",
        timeout=timedelta(milliseconds=300),
    )
    result = await run_check(check, environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "timed out after 0.3s")
