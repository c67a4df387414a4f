"""Helpers for the diagnostics tests: checks built as the policy file builds them,
certificates for the TLS targets, and every text of a result in one string."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from typing import Any

import trustme
from pydantic import TypeAdapter

from bot.diagnostics.results import CheckResult
from bot.policy.diagnostics import CheckBase, CheckDefinition

_CHECK: TypeAdapter[Any] = TypeAdapter(CheckDefinition)


def make_check(**fields: Any) -> CheckBase:
    """A check as the policy file would give it (`type` picks the model)."""
    fields.setdefault("name", f"{fields['type']}-check")
    parsed = _CHECK.validate_python(fields)
    assert isinstance(parsed, CheckBase)
    return parsed


def texts(result: CheckResult) -> str:
    """Everything a result shows, to look for what it must not."""
    return "\n".join([result.summary, *result.details, result.output])


def server_context(ca: trustme.CA, *, valid_for: timedelta = timedelta(days=365)) -> ssl.SSLContext:
    """A server context whose certificate, for localhost and 127.0.0.1, ends after
    `valid_for`."""
    now = datetime.now(UTC)
    certificate = ca.issue_cert(
        "localhost",
        "127.0.0.1",
        common_name="localhost",
        not_before=now - timedelta(hours=1),
        not_after=now + valid_for,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    return context
