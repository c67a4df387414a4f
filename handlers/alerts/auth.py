"""Who may send alerts: a bearer token per source, never open by default.

Each source takes the token in the variable its policy entry names (`token_env`), else
the process-wide `WARROOM_ALERT_TOKEN`. A source with neither is not configured: it
answers 503 saying what to set, rather than accepting alerts from anyone.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.datastructures import Headers

from bot.alerts.model import AlertSource
from bot.policy.alerts import AlertSources
from handlers.http import Refusal

FALLBACK_TOKEN_NAME = "WARROOM_ALERT_TOKEN"


@dataclass(frozen=True)
class AlertCredentials:
    """What one source's requests are checked against, read once at start."""

    token: str | None  # None: nothing configured -> 503
    token_name: str  # which variable to set / is used, for the 503 message
    hmac_secret: str | None  # Grafana only
    # The variable the policy names for Grafana's signing secret: while it is unset the
    # source answers 503, since the policy asked for signatures that cannot be checked.
    hmac_secret_name: str | None = None


def credentials_for(
    source: AlertSource,
    sources: AlertSources,
    *,
    fallback_token: str | None,
    environ: Mapping[str, str],
) -> AlertCredentials:
    config = getattr(sources, source.value)
    token_env = config.token_env if config else None
    if token_env:
        # Not the fallback: a policy that names a variable means that one.
        token, token_name = _value(environ, token_env), token_env
    else:
        token, token_name = _present(fallback_token), FALLBACK_TOKEN_NAME
    secret_env = config.hmac_secret_env if config and source is AlertSource.GRAFANA else None
    return AlertCredentials(
        token=token,
        token_name=token_name,
        hmac_secret=_value(environ, secret_env) if secret_env else None,
        hmac_secret_name=secret_env,
    )


def check_access(
    credentials: AlertCredentials, headers: Headers, source: AlertSource
) -> Refusal | None:
    """None if the request may be read: the source is configured and the bearer matches."""
    if credentials.token is None:
        if credentials.token_name == FALLBACK_TOKEN_NAME:
            detail = f"set {FALLBACK_TOKEN_NAME} (or {_setting('token_env', source)})"
        else:
            detail = f"set {credentials.token_name} (named by {_setting('token_env', source)})"
        return Refusal(503, "alerts_not_configured", detail)
    if credentials.hmac_secret_name and credentials.hmac_secret is None:
        where = _setting("hmac_secret_env", source)
        return Refusal(
            503, "alerts_not_configured", f"set {credentials.hmac_secret_name} (named by {where})"
        )
    scheme, _, presented = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return Refusal(401, "unauthorized", "expected Authorization: Bearer <token>")
    # Bytes: compare_digest refuses str with characters outside ASCII. Headers arrive
    # decoded as Latin-1 and the environment with surrogate escapes: both give back the
    # bytes that were sent and set.
    expected = credentials.token.encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(presented.strip().encode("latin-1"), expected):
        return Refusal(401, "unauthorized", "the token does not match")
    return None


def _setting(name: str, source: AlertSource) -> str:
    return f"{name} in the policy's {source.value} alert source"


def _value(environ: Mapping[str, str], name: str) -> str | None:
    return _present(environ.get(name))


def _present(value: str | None) -> str | None:
    # An empty token would let an empty bearer in.
    return value.strip() if value and value.strip() else None
