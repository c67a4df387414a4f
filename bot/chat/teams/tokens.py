"""The bot's own tokens for the Bot Connector: OAuth client credentials, fetched with httpx.

Not through the Teams SDK's `TokenManager`: it goes through MSAL, which accepts only an
`https://host/tenant` authority and discovers the token endpoint from Microsoft's servers,
so it cannot be pointed at `WARROOM_TEAMS_TOKEN_URL` (a test's issuer, or a proxy). The
request is the one MSAL would make: a form POST to the tenant's v2.0 token endpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from bot.clock import utc_now
from bot.errors import DeliveryError

logger = logging.getLogger(__name__)

LOGIN_ENDPOINT = "https://login.microsoftonline.com"
# Whose endpoint issues tokens for a bot registered in no particular tenant (multi-tenant).
BOT_FRAMEWORK_TENANT = "botframework.com"
BOT_CONNECTOR_SCOPE = "https://api.botframework.com/.default"
# A token is renewed this long before it expires, so a call never carries one that runs out
# on the way (or while it waits for a retry).
RENEW_BEFORE_EXPIRY = timedelta(minutes=5)
REFUSED = "teams_token_refused"
UNAVAILABLE = "teams_token_unavailable"
BAD_URL = "teams_token_url_invalid"
_DETAIL_LIMIT = 300  # of the issuer's own words quoted in an error
_LONGEST_LIFETIME = 366 * 24 * 3600.0  # seconds; Entra's tokens live about an hour


def default_token_url(tenant_id: str | None) -> str:
    """The Microsoft Entra token endpoint of the bot's tenant (single-tenant bots), or the
    Bot Framework's own (multi-tenant ones)."""
    return f"{LOGIN_ENDPOINT}/{tenant_id or BOT_FRAMEWORK_TENANT}/oauth2/v2.0/token"


@dataclass(frozen=True)
class _Token:
    value: str
    renew_at: datetime


class OutboundTokens:
    """Tokens for calls to the Bot Connector (client credentials), cached until 5 min
    before expiry. Concurrent callers share one fetch, and its failure.

    Failures raise DeliveryError: retryable for the network, 408, 429 (with its
    Retry-After) and 5xx; not retryable when the issuer refuses the credentials or the
    request (`teams_token_refused`) or the token URL is unusable (`teams_token_url_invalid`).
    The password never appears in an error or a log.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        app_id: str,
        password: str,
        token_url: str,
        scope: str = BOT_CONNECTOR_SCOPE,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._http = http
        self._app_id = app_id
        self._password = password
        self._token_url = token_url
        self._scope = scope
        self._clock = clock
        self._token: _Token | None = None
        self._fetching: asyncio.Task[_Token] | None = None

    def __repr__(self) -> str:
        return f"OutboundTokens(app_id={self._app_id!r}, token_url={self._token_url!r})"

    async def token(self) -> str:
        """A valid access token, fetched only when the one held is about to expire."""
        held = self._fresh()
        if held is not None:
            return held
        # One fetch at a time, and its outcome (a token or a failure) is every waiting
        # caller's: not one more request each to an issuer that is down or throttling.
        if self._fetching is None or self._fetching.done():
            self._fetching = asyncio.create_task(self._fetch(), name="fetch Bot Connector token")
        # Shielded: a caller that gives up does not cancel the fetch the others wait for.
        return (await asyncio.shield(self._fetching)).value

    def _fresh(self) -> str | None:
        token = self._token
        if token is not None and self._clock() < token.renew_at:
            return token.value
        return None

    async def _fetch(self) -> _Token:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._app_id,
            "client_secret": self._password,
            "scope": self._scope,
        }
        asked_at = self._clock()
        try:
            response = await self._http.post(
                self._token_url, data=form, headers={"Accept": "application/json"}
            )
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
            # WARROOM_TEAMS_TOKEN_URL is not a usable URL: no retry will change that.
            detail = f"token URL unusable: {error}"
            raise self._failure(DeliveryError(BAD_URL, retryable=False, detail=detail)) from None
        except httpx.HTTPError as error:
            raise self._failure(
                DeliveryError(UNAVAILABLE, detail=f"token endpoint unreachable: {error!r}")
            ) from None
        if response.status_code != 200:
            raise self._failure(self._refusal(response))
        try:
            answer = response.json()
            value, lifetime = _access_token(answer)
        except ValueError:
            raise self._failure(
                DeliveryError(UNAVAILABLE, detail="the token endpoint's answer is malformed")
            ) from None
        # Renew halfway through a lifetime too short to leave RENEW_BEFORE_EXPIRY.
        margin = min(RENEW_BEFORE_EXPIRY, lifetime / 2)
        logger.debug("Bot Connector token fetched, valid for %s", lifetime)
        self._token = _Token(value, renew_at=asked_at + lifetime - margin)
        return self._token

    def _refusal(self, response: httpx.Response) -> DeliveryError:
        status = response.status_code
        said = _issuer_said(response)
        detail = f"token endpoint answered HTTP {status}{': ' + said if said else ''}"
        if status == 429:
            return DeliveryError(UNAVAILABLE, retry_after=_retry_after(response), detail=detail)
        if status == 408 or status >= 500:
            return DeliveryError(UNAVAILABLE, detail=detail)
        # 400 (invalid_client, invalid_scope, an unknown tenant...), 401, 403, 404: the
        # same request would fail the same way until someone fixes the settings.
        return DeliveryError(REFUSED, retryable=False, detail=detail)

    def _failure(self, error: DeliveryError) -> DeliveryError:
        # The password is never sent anywhere but the form body; this is only a guard
        # against an issuer (or a proxy) that echoes what it was sent.
        if self._password and self._password in error.detail:
            error = DeliveryError(
                error.code,
                retryable=error.retryable,
                retry_after=error.retry_after,
                detail=error.detail.replace(self._password, "[redacted]"),
            )
        logger.warning("Bot Connector token not fetched: %s", error)
        return error


def _access_token(answer: Any) -> tuple[str, timedelta]:
    if not isinstance(answer, dict):
        raise ValueError("not a JSON object")
    value, expires_in = answer.get("access_token"), answer.get("expires_in")
    if not isinstance(value, str) or not value:
        raise ValueError("no access_token")
    # Entra sends a number; some proxies of it send the number as a string.
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float | str):
        raise ValueError("no expires_in")
    seconds = float(expires_in)
    if not 0 < seconds < _LONGEST_LIFETIME:  # NaN and infinity fail this too
        raise ValueError("expires_in out of range")
    return value, timedelta(seconds=seconds)


def _issuer_said(response: httpx.Response) -> str:
    """The OAuth error of a refusal (`invalid_client: AADSTS7000215: ...`), shortened."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[name]) for name in ("error", "error_description") if body.get(name)]
    said = ": ".join(parts).splitlines()[0] if parts else ""
    return said[:_DETAIL_LIMIT]


def _retry_after(response: httpx.Response) -> float | None:
    header = response.headers.get("Retry-After")
    try:
        seconds = float(header) if header is not None else None
    except ValueError:
        return None  # an HTTP date: rare here, and the outbox's own backoff will do
    return seconds if seconds is not None and seconds >= 0 else None
