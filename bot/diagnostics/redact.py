"""Taking secrets out of text before it is posted or stored.

Two kinds go: the exact values a check resolved from the environment (a header's token,
a DSN, a command's environment), and anything shaped like a secret (a bearer token, a
`password=` pair, a URL's password, a Slack or AWS key, a private key), because a target's
answer or a library's error message may quote a secret warroom never saw as one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "redact"]

REDACTED = "[redacted]"
# Shorter values would take ordinary words and digits with them.
MIN_SECRET_LENGTH = 4

_PRIVATE_KEY = re.compile(
    r"(?P<begin>-----BEGIN (?P<kind>[A-Z0-9 ]*)PRIVATE KEY-----)"
    r".*?"
    # An unterminated block (an output cut short) goes to the end of the text.
    r"(?P<end>-----END (?P=kind)PRIVATE KEY-----|\Z)",
    re.S,
)
# An Authorization header's value, scheme and all, to the end of the line or its quote.
_AUTHORIZATION = re.compile(
    r"""(?P<key>\b(?:proxy-)?authorization["']?[ \t]*[=:][ \t]*)
        (?!\[redacted\]|"\[redacted\]"|'\[redacted\]')
        (?P<value>"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s"'][^\n"']*)""",
    re.I | re.X,
)
# Eight characters at least, so that "the bearer of bad news" stays as it is.
_BEARER = re.compile(r"\b(?P<word>bearer)[ \t]+(?!\[redacted\])[A-Za-z0-9\-._~+/]{8,}=*", re.I)
# `scheme://user:password@host`: the user stays, the password goes. A password cannot
# hold an unencoded `/`, `?` or `#`, and the last `@` before them ends it.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@]*:)(?!\[redacted\]@)[^\s/?#]+(?=@)"
)
_SECRET_KEY = r"(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key)"
# `password=x`, `DB_PASSWORD: x`, `"api_key": "x"`, `'token': 'x'`, `aws_secret_access_key = x`.
_KEY_VALUE = re.compile(
    rf"""(?P<key>(?<![\w.-])[\w.-]*{_SECRET_KEY}["']?[ \t]*[=:][ \t]*)
         (?!\[redacted\]|"\[redacted\]"|'\[redacted\]')
         (?P<value>"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s&;,'"(){{}}<>]+)""",
    re.I | re.X,
)
_SLACK_TOKEN = re.compile(r"\b(?:xox[abposre]|xapp)-[A-Za-z0-9-]{6,}")
_AWS_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with each of `secrets` and every secret-shaped value replaced by `[redacted]`."""
    if not text:
        return text
    text = _without_values(text, secrets)
    text = _PRIVATE_KEY.sub(_private_key_replacement, text)
    text = _AUTHORIZATION.sub(_key_value_replacement, text)
    text = _BEARER.sub(lambda match: f"{match['word']} {REDACTED}", text)
    text = _URL_PASSWORD.sub(lambda match: match["head"] + REDACTED, text)
    text = _KEY_VALUE.sub(_key_value_replacement, text)
    text = _SLACK_TOKEN.sub(REDACTED, text)
    text = _AWS_ACCESS_KEY_ID.sub(REDACTED, text)
    return _JWT.sub(REDACTED, text)


def _without_values(text: str, secrets: Iterable[str]) -> str:
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) < MIN_SECRET_LENGTH:
            continue
        # As it is, and as it shows when a target quotes it in a URL or in JSON.
        forms.update({secret, quote(secret, safe=""), json.dumps(secret)[1:-1]})
    # Longest first, so that a secret containing another goes whole.
    for form in sorted(forms, key=len, reverse=True):
        if len(form) >= MIN_SECRET_LENGTH:
            text = text.replace(form, REDACTED)
    return text


def _private_key_replacement(match: re.Match[str]) -> str:
    end = match["end"] or f"-----END {match['kind']}PRIVATE KEY-----"
    return f"{match['begin']}\n{REDACTED}\n{end}"


def _key_value_replacement(match: re.Match[str]) -> str:
    value = match["value"]
    quote_mark = value[0] if value[0] in "\"'" and len(value) >= 2 else ""
    return f"{match['key']}{quote_mark}{REDACTED}{quote_mark}"
