"""Secrets out of log lines: every configured secret value, and anything shaped like one.

The values are the settings' tokens, secrets and passwords (Slack's, Teams', the alert
token, the web token…), the password of WARROOM_DATABASE_URL, and the values of every
environment variable the policy names for a secret (`token_env`, `secret_env`,
`routing_key_env`, `dsn_env`, `{env: …}` in diagnostics…). The shapes are those
bot/diagnostics/redact.py knows: bearer tokens, Slack tokens, URL and DSN passwords,
`password=` pairs, private keys, JWTs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.diagnostics.redact import MIN_SECRET_LENGTH, redact

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.policy.schema import Policy

# Settings fields that hold a secret, by name (URLs and header names are not secrets).
_SECRET_SETTING = re.compile(r"token|secret|password", re.I)
_NOT_SECRET_SETTING = ("_url", "_header", "_path", "_dir")
_FORMATTER = logging.Formatter()


class SecretRedactor(logging.Filter):
    """Takes secrets out of each record's message (its arguments merged in), exception
    text and stack before any formatter sees them."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(_usable(secrets))

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the message: show both, as they are
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def _usable(values: Iterable[str]) -> Iterator[str]:
    """Values long enough to be told from ordinary words, and once each."""
    seen: set[str] = set()
    for value in values:
        if len(value) >= MIN_SECRET_LENGTH and value not in seen:
            seen.add(value)
            yield value


def configured_secrets(settings: Settings, policy: Policy | None = None) -> set[str]:
    """Every secret value these settings and this policy configure."""
    found: set[str] = set()
    for name in type(settings).model_fields:
        if _SECRET_SETTING.search(name) and not name.endswith(_NOT_SECRET_SETTING):
            value = getattr(settings, name)
            if isinstance(value, str) and value:
                found.add(value)
    found.update(_url_passwords(settings.database_url))
    if policy is not None:
        environ = settings.secret_environment()
        found.update(environment_secrets(policy, environ))
    return found


def environment_secrets(policy: Policy, environ: Mapping[str, str]) -> set[str]:
    """The values of the environment variables the policy names for secrets, and the
    passwords of those that are URLs (a DSN's password may be quoted on its own)."""
    found: set[str] = set()
    for name in policy_environment_names(policy):
        value = environ.get(name)
        if value:
            found.add(value)
            found.update(_url_passwords(value))
    return found


def policy_environment_names(policy: BaseModel) -> set[str]:
    """Every environment variable the policy names: fields called `…_env` and `env`
    references (`{env: NAME}`), wherever they are in it."""
    names: set[str] = set()
    _walk(policy, names)
    return names


def _walk(node: Any, names: set[str]) -> None:
    if isinstance(node, BaseModel):
        for field, value in node:
            if (field == "env" or field.endswith("_env")) and isinstance(value, str):
                names.add(value)
            else:
                _walk(value, names)
    elif isinstance(node, Mapping):
        for value in node.values():
            _walk(value, names)
    elif isinstance(node, list | tuple | set | frozenset):
        for value in node:
            _walk(value, names)


def _url_passwords(value: str) -> set[str]:
    if "://" not in value:
        return set()
    try:
        password = make_url(value).password
    except (ArgumentError, ValueError):
        return set()
    return {str(password)} if password else set()
