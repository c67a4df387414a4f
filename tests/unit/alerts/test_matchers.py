"""Alertmanager's matcher syntax: parsed as its classic parser does, matched as it does."""

from __future__ import annotations

import pytest

from bot.alerts.matchers import Matcher, parse_matcher


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('team="payments"', Matcher("team", "=", "payments")),
        ('env!="staging"', Matcher("env", "!=", "staging")),
        ('severity=~"critical|error"', Matcher("severity", "=~", "critical|error")),
        ('service!~"canary-.*"', Matcher("service", "!~", "canary-.*")),
        ("severity=critical", Matcher("severity", "=", "critical")),  # unquoted
        ("  severity = critical  ", Matcher("severity", "=", "critical")),
        ('job =~ "api|web"', Matcher("job", "=~", "api|web")),
        ('env=""', Matcher("env", "=", "")),
        ("env=", Matcher("env", "=", "")),
        ('_private_1="x"', Matcher("_private_1", "=", "x")),
        (r'msg="say \"hi\""', Matcher("msg", "=", 'say "hi"')),
        (r'path="C:\\temp"', Matcher("path", "=", "C:\\temp")),
        (r'text="two\nlines"', Matcher("text", "=", "two\nlines")),
        # Only \" \\ \n are escapes: a regex's \d stays \d.
        (r'code=~"5\d\d"', Matcher("code", "=~", r"5\d\d")),
        (r'trail="a\\"', Matcher("trail", "=", "a\\")),
        ('op="a=~b"', Matcher("op", "=", "a=~b")),
        ("op=~=", Matcher("op", "=~", "=")),
    ],
)
def test_parse(text: str, expected: Matcher) -> None:
    assert parse_matcher(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("severity", 'write name="value"'),
        ("", 'write name="value"'),
        ('1team="x"', 'write name="value"'),
        ('team-name="x"', 'write name="value"'),
        ('team=="x"', "double quote inside the value must be escaped"),
        ('team="x', "closing double quote is missing"),
        ('team="', "closing double quote is missing"),
        (r'team="x\"', "closing double quote is missing"),
        ('team="a"b"', "double quote inside the value must be escaped"),
        ('team=a"b', "double quote inside the value must be escaped"),
        ('severity=~"("', "invalid regex '('"),
        ('severity!~"[a-"', "invalid regex '[a-'"),
    ],
)
def test_bad_matchers_are_named(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_matcher(text)
    message = str(raised.value)
    assert message.startswith(f"bad matcher {text!r}") and reason in message


def test_a_matcher_that_is_not_text() -> None:
    with pytest.raises(ValueError, match="a matcher is written as text"):
        parse_matcher({"severity": "critical"})  # type: ignore[arg-type]


def test_a_long_bad_matcher_is_shown_cut() -> None:
    with pytest.raises(ValueError) as raised:
        parse_matcher("x" * 500)
    assert len(str(raised.value)) < 200


def test_built_directly_it_checks_itself() -> None:
    with pytest.raises(ValueError, match="invalid label name"):
        Matcher("bad name", "=", "x")
    with pytest.raises(ValueError, match="unknown operator"):
        Matcher("name", "==", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid regex"):
        Matcher("name", "=~", "(")


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('team="payments"', {"team": "payments"}, True),
        ('team="payments"', {"team": "Payments"}, False),
        ('team="payments"', {}, False),
        ('env!="staging"', {"env": "prod"}, True),
        ('env!="staging"', {"env": "staging"}, False),
        ('env!="staging"', {}, True),  # a missing label is the empty string
        ('env=""', {}, True),
        ('env=""', {"env": "prod"}, False),
        ('env!=""', {"env": "prod"}, True),
        ('severity=~"critical|error"', {"severity": "error"}, True),
        # Anchored at both ends, as Alertmanager's ^(?:re)$.
        ('severity=~"critical|error"', {"severity": "errors"}, False),
        ('severity=~"critical|error"', {"severity": "noncritical"}, False),
        ('severity=~"crit"', {"severity": "crit\n"}, False),
        ('severity=~".*"', {}, True),
        ('severity=~".+"', {}, False),
        ('service!~"canary-.*"', {"service": "canary-eu"}, False),
        ('service!~"canary-.*"', {"service": "api"}, True),
        ('service!~"canary-.*"', {}, True),
        (r'code=~"5\d\d"', {"code": "503"}, True),
        # Leading flags, which Go's regexes allow, are kept in front of the anchored group.
        ('severity=~"(?i)critical"', {"severity": "CRITICAL"}, True),
        ('severity=~"(?i)critical|error"', {"severity": "ERROR"}, True),
        ('severity=~"(?i)critical|error"', {"severity": "errors"}, False),
        ('text=~"(?s)(?i)a.b"', {"text": "A\nb"}, True),
    ],
)
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("severity=critical", 'severity="critical"'),
        (' team != "a b" ', 'team!="a b"'),
        (r'msg="say \"hi\""', r'msg="say \"hi\""'),
        (r'code=~"5\d\d"', r'code=~"5\\d\\d"'),
        (r'text="two\nlines"', r'text="two\nlines"'),
    ],
)
def test_str_is_the_canonical_form_and_parses_back(text: str, canonical: str) -> None:
    matcher = parse_matcher(text)
    assert str(matcher) == canonical
    assert parse_matcher(str(matcher)) == matcher


def test_matchers_are_values() -> None:
    assert parse_matcher('a=~"x|y"') == Matcher("a", "=~", "x|y")
    assert len({parse_matcher("a=b"), parse_matcher('a="b"')}) == 1
    assert "_regex" not in repr(Matcher("a", "=~", "x"))
