"""Expectations on a JSON body: how they parse, what they find, and how they compare."""

from __future__ import annotations

from typing import Any

import pytest

from bot.diagnostics.expect import ExpectationError, parse_expectation

BODY: dict[str, Any] = {
    "status": "ok",
    "ready": True,
    "db": {"latency_ms": 12.5, "replicas": [{"lag": 0}, {"lag": 3}]},
    "queue depth": 7,
    "queue.depth": 7,
    "empty": [],
    "zero": 0,
    "nothing": None,
    "off": False,
    "count": 1,
}


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("$", ()),
        ("$.status", ("status",)),
        ("$.db.latency_ms", ("db", "latency_ms")),
        ("$.db.replicas[1].lag", ("db", "replicas", 1, "lag")),
        ("$.db.replicas[-1]", ("db", "replicas", -1)),
        ('$["queue depth"]', ("queue depth",)),
        ('$["a \\"quoted\\" name"]', ('a "quoted" name',)),
        ('$.x["y"][0]', ("x", "y", 0)),
        ("$.with-dash_and_1", ("with-dash_and_1",)),
    ],
)
def test_paths(text: str, steps: tuple[str | int, ...]) -> None:
    assert parse_expectation(text).steps == steps


@pytest.mark.parametrize(
    ("text", "op", "expected"),
    [
        ('$.status == "ok"', "==", "ok"),
        ('$.status!="down"', "!=", "down"),
        ("$.db.latency_ms < 200", "<", 200),
        ("$.db.latency_ms <= 12.5", "<=", 12.5),
        ("$.count > -1", ">", -1),
        ("$.count >= 1e0", ">=", 1.0),
        ("$.ready == true", "==", True),
        ("$.nothing == null", "==", None),
        ("  $.status == 'x'  ".replace("'x'", '"x"'), "==", "x"),
    ],
)
def test_comparisons_parse(text: str, op: str, expected: Any) -> None:
    expectation = parse_expectation(text)
    assert (expectation.op, expectation.expected) == (op, expected)
    assert expectation.text == text.strip()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("status == 1", "starts with a path from $"),
        ("", "starts with a path from $"),
        ("$.", "cannot read the path"),
        ("$status", "cannot read the path"),
        ("$.a[x]", "cannot read the path"),
        ('$["unterminated]', "cannot read the path"),
        ("$.a == ok", "is not a JSON value"),
        ("$.a == 'ok'", "is not a JSON value"),
        ('$.a == "ok', "is not a JSON value"),
        ("$.a ==", "cannot read the path"),
        ("$.a == [1]", "compare with a string, a number"),
        ('$.a == {"b": 1}', "compare with a string, a number"),
        ('$.a < "x"', "compares numbers only"),
        ("$.a >= true", "compares numbers only"),
        ("$.a => 1", "cannot read the path"),
        ("$.a ~= 1", "cannot read the path"),
        ("__import__('os') == 1", "starts with a path from $"),
    ],
)
def test_parse_errors_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ExpectationError) as raised:
        parse_expectation(text)
    assert problem in str(raised.value)


@pytest.mark.parametrize(
    "text",
    [
        "$",
        "$.status",
        "$.ready",
        "$.db.replicas",
        "$.db.replicas[-1].lag",
        '$.status == "ok"',
        '$.status != "down"',
        '$["queue.depth"] >= 7',
        "$.db.latency_ms < 200",
        "$.db.replicas[0].lag == 0",
        "$.nothing == null",
        "$.off == false",
        "$.off != true",
        "$.count == 1.0",
    ],
)
def test_met(text: str) -> None:
    assert parse_expectation(text).check(BODY) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("$.missing", "$.missing is missing"),
        ("$.db.nope.deeper", "$.db.nope.deeper is missing"),
        ("$.db.replicas[2]", "$.db.replicas[2] is missing"),
        ("$.db.replicas[-3]", "$.db.replicas[-3] is missing"),
        ("$.status[0]", "$.status[0] is missing"),
        ("$.db.replicas.lag", "$.db.replicas.lag is missing"),
        ("$.empty", "$.empty is []"),
        ("$.zero", "$.zero is 0"),
        ("$.nothing", "$.nothing is null"),
        ("$.off", "$.off is false"),
        ('$.status == "degraded"', '$.status is "ok"'),
        ('$.missing == "ok"', "$.missing is missing"),
        ("$.db.latency_ms < 10", "$.db.latency_ms is 12.5"),
        ("$.status > 1", '$.status is "ok", not a number'),
        ("$.ready > 0", "$.ready is true, not a number"),
        ('$.status != "ok"', '$.status is "ok"'),
        ('$["queue.depth"] < 7', '$["queue.depth"] is 7'),
    ],
)
def test_not_met_says_why(text: str, reason: str) -> None:
    assert parse_expectation(text).check(BODY) == reason


def test_a_long_value_is_shortened_in_the_reason() -> None:
    reason = parse_expectation('$.text == "short"').check({"text": "x" * 200})
    assert reason is not None
    assert reason.endswith("…") and len(reason) < 80


def test_a_body_that_is_not_an_object() -> None:
    assert parse_expectation("$[0]").check([1]) is None
    assert parse_expectation("$.a").check([1]) == "$.a is missing"
    assert parse_expectation("$ == 3").check(3) is None


def test_a_quoted_name_with_a_space_compares() -> None:
    assert parse_expectation('$["queue depth"] == 7').check(BODY) is None
    assert parse_expectation('$["queue depth"]>7').check(BODY) == '$["queue depth"] is 7'


def test_a_quoted_name_holding_an_operator_is_a_name() -> None:
    expectation = parse_expectation('$["a<b"]')
    assert (expectation.steps, expectation.op) == (("a<b",), None)
    assert expectation.check({"a<b": 1}) is None


def test_the_path_of_a_quoted_name_alone_is_whole() -> None:
    assert parse_expectation('$["queue size"]').check({}) == '$["queue size"] is missing'


def test_a_bad_escape_in_a_quoted_name_is_a_parse_error() -> None:
    with pytest.raises(ExpectationError):
        parse_expectation('$["\\q"]')


def test_true_and_one_are_different_values() -> None:
    assert parse_expectation("$.ready == 1").check(BODY) == "$.ready is true"
    assert parse_expectation("$.count == true").check(BODY) == "$.count is 1"
    assert parse_expectation("$.off == 0").check(BODY) == "$.off is false"
    assert parse_expectation("$.count != true").check(BODY) is None


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_literals(literal: str) -> None:
    with pytest.raises(ExpectationError):
        parse_expectation(f"$.a == {literal}")
