"""The Bot Framework's tokens: the one on every inbound activity is checked here, and the
bot's own tokens for the Bot Connector come from `bot.chat.teams.tokens` (re-exported).

How the inbound check is done, and why not by the Teams SDK's `TokenValidator`: that
validator builds its own `jwt.PyJWKClient` from a `jwks_uri` and fetches the keys
synchronously, inside its coroutine, whenever its five-minute cache runs out or a key id is
new. That would block the event loop for up to 30 s, and it never falls back to the last
good keys when the issuer is unreachable. Nothing public lets us hand it keys we already
hold: PyJWT refuses any `jwks_uri` but http(s), and replacing its key client means writing
to a private attribute. Running it in a thread would still leave it fetching (and failing)
on its own. So the keys are fetched here with httpx, kept in memory, and each token is
verified with PyJWT (`jwt.decode`, RS256 only) against the key its `kid` names: the same
checks the SDK's validator makes (audience, issuer, signature, times with 5 min of leeway,
the `serviceurl` claim), plus the key's channel endorsements, which it does not check. The
endpoints and the leeway are the SDK's public-cloud values; tests hold them equal.

Once the keys are cached a check is pure computation: no network, no thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

import httpx
import jwt

from bot.chat.teams.tokens import OutboundTokens as OutboundTokens  # re-exported
from bot.chat.teams.tokens import default_token_url as default_token_url  # re-exported
from bot.clock import utc_now

logger = logging.getLogger(__name__)

DEFAULT_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
ALGORITHM = "RS256"  # the only one the Bot Framework signs with; anything else is refused
LEEWAY = timedelta(minutes=5)  # the clock skew the Bot Framework allows for
# A token naming a key we do not know makes us fetch the keys again, but at most this
# often: otherwise anyone could make us call the issuer once per forged request.
UNKNOWN_KEY_REFETCH_INTERVAL = timedelta(seconds=60)
# After a failed fetch, requests go on with what we have (or are refused) this long before
# the issuer is asked again, so an outage is not met with one fetch per request.
FETCH_RETRY_INTERVAL = timedelta(seconds=10)


class Unauthorized(Exception):
    """A request whose token is not a valid Bot Framework token. `reason` is short and
    safe to log: it never contains the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Caller:
    """What a valid token says about who sent the request."""

    # The caller's app (`appid`, or `azp` in v2 tokens): None when the token names none,
    # as the channel's own tokens need not.
    app_id: str | None
    service_url: str | None  # the `serviceurl` claim, when present
    claims: Mapping[str, Any]


@dataclass(frozen=True)
class _SigningKey:
    jwk: jwt.PyJWK
    # The channels this key may sign for (None: the key lists none, so any).
    endorsements: frozenset[str] | None


class InboundTokens:
    """Checks the Authorization header of every POST /api/messages.

    The issuer's OpenID metadata names its key set (`jwks_uri`); both are fetched on the
    first check, then again once the keys are older than `refresh` (in the background, the
    keys held serving meanwhile), or when a token names a key id we do not know (at most
    once a minute). A failed fetch keeps the last good keys.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        app_id: str,
        metadata_url: str = DEFAULT_OPENID_METADATA_URL,
        issuers: Sequence[str] = (BOT_FRAMEWORK_ISSUER,),
        clock: Callable[[], datetime] = utc_now,
        refresh: timedelta = timedelta(hours=24),
    ) -> None:
        self._http = http
        self._audiences = (app_id, f"api://{app_id}")
        self._metadata_url = metadata_url
        self._issuers = tuple(issuers)
        self._clock = clock
        self._refresh = refresh
        self._keys: dict[str, _SigningKey] = {}
        self._fetched_at: datetime | None = None  # of the keys we hold
        self._refetched_at: datetime | None = None  # for an unknown key id
        self._failed_at: datetime | None = None  # of the last attempt, if it failed
        self._fetching = asyncio.Lock()  # concurrent checks share one fetch
        self._refreshing: asyncio.Task[None] | None = None  # a scheduled refresh

    async def check(
        self, authorization: str | None, *, service_url: str | None, channel_id: str | None = None
    ) -> Caller:
        """The caller of a request whose Authorization header carries a valid token for
        this bot, sent for an activity with this `serviceUrl` and `channelId`. Raises
        Unauthorized for anything else, and never anything but Unauthorized."""
        try:
            return await self._check(authorization, service_url=service_url, channel_id=channel_id)
        except Unauthorized:
            raise
        except Exception:
            # A bug, or an input nothing above foresaw: refused all the same, as a request
            # we cannot vouch for must not get in (the traceback names no token).
            logger.exception("Bot Framework token check failed unexpectedly")
            raise Unauthorized("token check failed") from None

    async def _check(
        self, authorization: str | None, *, service_url: str | None, channel_id: str | None
    ) -> Caller:
        token = _bearer_token(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("malformed token") from None
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("token names no signing key")
        key = await self._key(kid)
        # Bot Framework keys list the channels they may sign for: a key of another
        # channel's must not vouch for a Teams activity.
        endorsed = key.endorsements
        if channel_id is not None and endorsed is not None and channel_id not in endorsed:
            raise Unauthorized(f"signing key not endorsed for channel {channel_id!r}")
        claims = self._decode(token, key)
        self._check_times(claims)
        claimed_url = claims.get("serviceurl")
        if claimed_url is not None:
            if not isinstance(claimed_url, str):
                raise Unauthorized("malformed serviceurl claim")
            if service_url is None or claimed_url.rstrip("/") != service_url.rstrip("/"):
                raise Unauthorized("serviceurl claim does not match the activity")
        caller_app = claims.get("appid", claims.get("azp"))
        return Caller(
            app_id=caller_app if isinstance(caller_app, str) else None,
            service_url=claimed_url,
            claims=MappingProxyType(claims),
        )

    def _decode(self, token: str, key: _SigningKey) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.jwk,
                algorithms=[ALGORITHM],
                audience=self._audiences,
                issuer=self._issuers,
                # The times are checked against our own clock (`_check_times`): PyJWT
                # only knows the system's, which tests cannot steer.
                options={
                    "require": ["exp", "iss", "aud"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise Unauthorized("bad signature") from None
        except jwt.InvalidAlgorithmError:
            raise Unauthorized(f"algorithm not allowed (only {ALGORITHM})") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("wrong audience") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("wrong issuer") from None
        except jwt.MissingRequiredClaimError as error:
            raise Unauthorized(f"token has no {error.claim!r} claim") from None
        except jwt.DecodeError:
            raise Unauthorized("malformed token") from None
        except jwt.PyJWTError:
            raise Unauthorized("invalid token") from None
        return claims

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self._clock().timestamp()
        leeway = LEEWAY.total_seconds()
        expires, not_before, issued = (
            _seconds(claims, "exp"),
            _seconds(claims, "nbf"),
            _seconds(claims, "iat"),
        )
        if expires is None or expires <= now - leeway:
            raise Unauthorized("token expired")
        if not_before is not None and not_before > now + leeway:
            raise Unauthorized("token not yet valid")
        if issued is not None and issued > now + leeway:
            raise Unauthorized("token issued in the future")

    # the issuer's keys -----------------------------------------------------------------

    async def _key(self, kid: str) -> _SigningKey:
        now = self._clock()
        if self._stale(now) and self._may_retry(now):
            if self._keys:
                self._refresh_in_background()  # the keys held serve meanwhile
            else:
                await self._fetch_keys(reason="none held")
        if kid not in self._keys and self._keys:
            await self._refetch_for(kid)
        if not self._keys:
            raise Unauthorized("signing keys unavailable")
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("unknown signing key")
        return key

    def _stale(self, now: datetime) -> bool:
        return self._fetched_at is None or now - self._fetched_at >= self._refresh

    def _may_retry(self, now: datetime) -> bool:
        return self._failed_at is None or now - self._failed_at >= FETCH_RETRY_INTERVAL

    async def _refetch_for(self, kid: str) -> None:
        if self._fetching.locked():
            async with self._fetching:
                pass  # a fetch is under way: it may well bring this key
        now = self._clock()
        last = self._refetched_at
        if kid not in self._keys and (last is None or now - last >= UNKNOWN_KEY_REFETCH_INTERVAL):
            self._refetched_at = now
            await self._fetch_keys(reason="a token names an unknown key id")

    def _refresh_in_background(self) -> None:
        # A scheduled refresh keeps no request waiting: an issuer that hangs would
        # otherwise stall every inbound activity until its timeout.
        if self._fetching.locked() or not (self._refreshing is None or self._refreshing.done()):
            return
        self._refreshing = asyncio.create_task(
            self._refresh_quietly(), name="refresh Bot Framework signing keys"
        )

    async def _refresh_quietly(self) -> None:
        try:
            await self._fetch_keys(reason="scheduled")
        except Exception:
            # Nobody awaits this task: what it raises is logged here or never seen.
            logger.exception("Bot Framework signing keys refresh failed unexpectedly")

    async def _fetch_keys(self, *, reason: str) -> None:
        if self._fetching.locked():
            async with self._fetching:
                return  # a fetch is under way: its outcome serves this check too
        async with self._fetching:
            now = self._clock()
            try:
                keys = await self._download_keys()
            except _KeysUnavailable as problem:
                self._failed_at = now
                held = f"still using the {len(self._keys)} keys held" if self._keys else "none held"
                logger.warning(
                    "Bot Framework signing keys not fetched (%s): %s; %s", reason, problem, held
                )
                return
            self._keys, self._fetched_at, self._failed_at = keys, now, None
            logger.info("Bot Framework signing keys fetched (%s): %d", reason, len(keys))

    async def _download_keys(self) -> dict[str, _SigningKey]:
        metadata = await self._get_json(self._metadata_url, "OpenID metadata")
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise _KeysUnavailable("the OpenID metadata has no jwks_uri")
        key_set = await self._get_json(jwks_uri, "key set")
        entries = key_set.get("keys")
        if not isinstance(entries, list):
            raise _KeysUnavailable("the key set has no keys list")
        keys = dict(key for key in map(_signing_key, entries) if key is not None)
        if not keys:
            raise _KeysUnavailable("the key set has no usable RSA signing keys")
        return keys

    async def _get_json(self, url: str, what: str) -> Mapping[str, Any]:
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise _KeysUnavailable(f"{what} unreachable ({type(error).__name__})") from None
        if response.status_code != 200:
            raise _KeysUnavailable(f"{what} answered HTTP {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            raise _KeysUnavailable(f"{what} is not JSON") from None
        if not isinstance(document, dict):
            raise _KeysUnavailable(f"{what} is not a JSON object")
        return document


class _KeysUnavailable(Exception):
    """The issuer's metadata or keys could not be had (the message says why)."""


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    # The scheme is case-insensitive (RFC 7235); the token itself has no spaces.
    if scheme.lower() != "bearer":
        raise Unauthorized("Authorization is not a Bearer token")
    token = token.strip()
    if not token or any(character.isspace() for character in token):
        raise Unauthorized("malformed Bearer token")
    return token


def _signing_key(entry: object) -> tuple[str, _SigningKey] | None:
    """A key set entry as (kid, key); None for one we cannot check signatures with: not an
    RSA signing key, no kid, or not parseable. The others in the set still count."""
    if not isinstance(entry, dict):
        return None
    kid, use = entry.get("kid"), entry.get("use", "sig")
    if not isinstance(kid, str) or not kid or use != "sig" or entry.get("kty") != "RSA":
        return None
    try:
        jwk = jwt.PyJWK(entry, algorithm=ALGORITHM)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        logger.debug("Bot Framework key %r skipped: not a usable RSA key", kid)
        return None
    endorsements = entry.get("endorsements")
    if isinstance(endorsements, list):
        endorsed = frozenset(item for item in endorsements if isinstance(item, str))
        return kid, _SigningKey(jwk, endorsed)
    return kid, _SigningKey(jwk, None)


def _seconds(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    # bool is an int to Python, never a time to a JWT.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthorized(f"malformed {name!r} claim")
    return float(value)
