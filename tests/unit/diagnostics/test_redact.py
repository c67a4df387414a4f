"""Redaction: the exact secrets a check resolved, and every secret shape, go; the rest stays."""

from __future__ import annotations

import pytest

from bot.diagnostics.redact import REDACTED, redact


def test_exact_secret_values_go_wherever_they_are() -> None:
    text = "token s3cr3t-value echoed: s3cr3t-value!"
    assert redact(text, ["s3cr3t-value"]) == f"token {REDACTED} echoed: {REDACTED}!"


def test_secrets_shorter_than_four_characters_are_left_alone() -> None:
    # They would take ordinary words and numbers with them.
    assert redact("the abc of 123", ["abc", "123", ""]) == "the abc of 123"


def test_a_secret_containing_another_goes_whole() -> None:
    assert redact("key=abcdefgh", ["abcd", "abcdefgh"]) == f"key={REDACTED}"


def test_a_secret_as_a_url_or_json_quotes_it_goes_too() -> None:
    secret = 'p@ss w/"q"'
    text = 'url: /login?x=p%40ss%20w%2F%22q%22 json: "p@ss w/\\"q\\""'
    assert redact(text, [secret]) == f'url: /login?x={REDACTED} json: "{REDACTED}"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sent Bearer abc.def-ghi_jkl to it", f"sent Bearer {REDACTED} to it"),
        ("curl -H 'x' bearer eyJhbGciOiJI", f"curl -H 'x' bearer {REDACTED}"),
        ("BEARER 0123456789abcdef==", f"BEARER {REDACTED}"),
    ],
)
def test_bearer_tokens(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def", f"Authorization: {REDACTED}"),
        (
            "> authorization: Basic dXNlcjpwYXNz\n> Host: x",
            f"> authorization: {REDACTED}\n> Host: x",
        ),
        ("Proxy-Authorization: x y z", f"Proxy-Authorization: {REDACTED}"),
        ('{"Authorization": "Basic dXNlcjpw"}', f'{{"Authorization": "{REDACTED}"}}'),
        ("curl -H 'authorization: Token abc' url", f"curl -H 'authorization: {REDACTED}' url"),
    ],
)
def test_authorization_headers_lose_their_whole_value(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter2", f"password={REDACTED}"),
        ("PASSWORD=hunter2 user=bob", f"PASSWORD={REDACTED} user=bob"),
        ("DB_PASSWORD=hunter2", f"DB_PASSWORD={REDACTED}"),
        ("passwd=x1 pwd=x2", f"passwd={REDACTED} pwd={REDACTED}"),
        ("secret: hunter2", f"secret: {REDACTED}"),
        ("client_secret = hunter2", f"client_secret = {REDACTED}"),
        ("GET /x?token=abc123&page=2", f"GET /x?token={REDACTED}&page=2"),
        (
            "api_key=abc apikey=def Api-Key: ghi",
            f"api_key={REDACTED} apikey={REDACTED} Api-Key: {REDACTED}",
        ),
        ("access_key=AbCd", f"access_key={REDACTED}"),
        ('{"password": "hunter 2", "user": "bob"}', f'{{"password": "{REDACTED}", "user": "bob"}}'),
        ('{"token":"a\\"b"}', f'{{"token":"{REDACTED}"}}'),
        ("{'secret': 'x y'}", f"{{'secret': '{REDACTED}'}}"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", f"aws_secret_access_key = {REDACTED}"),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", f"AWS_SECRET_ACCESS_KEY={REDACTED}"),
        ("host=db password=pa55 dbname=app", f"host=db password={REDACTED} dbname=app"),
    ],
)
def test_secret_keys_keep_their_name_and_lose_their_value(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "token",
    [
        "xoxb-1234567890-abcdefghij",
        "xoxp-1-2-3-abcdef",
        "xoxa-2-abcdefgh",
        "xoxs-abcdefgh",
        "xoxr-abcdefgh",
        "xoxo-abcdefgh",
        "xoxe-1-abcdefgh",
        "xapp-1-A0123-4567-abcdef",
    ],
)
def test_slack_tokens(token: str) -> None:
    assert redact(f"using {token} now") == f"using {REDACTED} now"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgresql://app:hunter2@db:5432/app",
            f"postgresql://app:{REDACTED}@db:5432/app",
        ),
        (
            "failed for postgresql+psycopg://app:p%40ss@db/app?sslmode=require",
            f"failed for postgresql+psycopg://app:{REDACTED}@db/app?sslmode=require",
        ),
        ("redis://:hunter2@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
        ("https://bot:t0k@n@example.com/x", f"https://bot:{REDACTED}@example.com/x"),
    ],
)
def test_url_passwords_go_and_the_user_stays(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_aws_access_key_ids() -> None:
    text = "AKIAIOSFODNN7EXAMPLE and ASIAIOSFODNN7EXAMPLE"
    assert redact(text) == f"{REDACTED} and {REDACTED}"


def test_private_key_blocks_lose_their_body() -> None:
    text = (
        "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY-----\nok"
    )
    assert redact(text) == (
        f"key:\n-----BEGIN RSA PRIVATE KEY-----\n{REDACTED}\n-----END RSA PRIVATE KEY-----\nok"
    )


def test_a_private_key_cut_short_goes_to_the_end() -> None:
    text = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg"
    assert "MIIE" not in redact(text)


def test_jwts() -> None:
    text = "cookie eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJl"
    assert redact(text) == f"cookie {REDACTED}"


@pytest.mark.parametrize(
    "text",
    [
        "GET /health 200 in 12 ms",
        "the bearer of bad news",
        "password policy: see the wiki",
        "tokens=5 passwords_rotated=3",
        'connection to server at "127.0.0.1", port 5432 failed: Connection refused',
        "http://example.com:8080/path?page=2#top",
        "see https://example.com/users/@me",
        "AKIA is a prefix, AKIAshort is not a key",
        "xoxb- alone",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        '{"status": "ok", "db": {"latency_ms": 3}}',
        "",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert redact(text, ["not-in-the-text"]) == text


def test_redacting_twice_changes_nothing_more() -> None:
    text = (
        'password=hunter2 "token": "abc" Authorization: Basic x\n'
        "Bearer abcdefghijk postgresql://u:pw@h/db xoxb-123456789"
    )
    once = redact(text, ["hunter2"])
    assert redact(once, ["hunter2"]) == once
