"""A fake Bot Framework identity provider: the OpenID metadata and signing keys the bot
checks inbound tokens against, and the token endpoint it gets its own tokens from.

Served over real HTTP on 127.0.0.1 from a background thread, so the bot's httpx clients
talk to it as they would to login.botframework.com and login.microsoftonline.com. Tests
mint inbound tokens with `mint` (signed by a published key, or by one that is not), plan
failures of the token endpoint, and read what was asked (`requests`, `token_calls`) and
handed out (`issued_tokens`).
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.chat.teams.auth import BOT_FRAMEWORK_ISSUER
from tests.support.served import ServedApp

METADATA_PATH = "/v1/.well-known/openidconfiguration"
KEYS_PATH = "/v1/.well-known/keys"
TOKEN_PATH = "/oauth2/v2.0/token"
# The app id the Bot Framework's own tokens name as their caller (`appid`): made up here.
CHANNEL_APP_ID = "bf000000-0000-4000-8000-00000000c4a1"


@dataclass
class TokenCall:
    """One POST to the token endpoint, as received (the secret is not kept)."""

    form: dict[str, str]
    secret_matched: bool
    status: int = 0


@dataclass
class _Key:
    kid: str
    private: rsa.RSAPrivateKey
    endorsements: tuple[str, ...] | None

    def public_jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        jwk: dict[str, Any] = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": _b64url(numbers.n),
            "e": _b64url(numbers.e),
        }
        if self.endorsements is not None:
            jwk["endorsements"] = list(self.endorsements)
        return jwk


@dataclass
class _Plan:
    status: int
    times: int
    retry_after: int | None = None


@dataclass
class _State:
    requests: list[str] = field(default_factory=list)  # "GET /path", oldest first
    token_calls: list[TokenCall] = field(default_factory=list)
    issued_tokens: list[str] = field(default_factory=list)
    plans: deque[_Plan] = field(default_factory=deque)
    serving_metadata: bool = True
    serving_keys: bool = True


class FakeTeamsIdentity:
    """One Bot Framework identity provider, started by `start()` (or `with`)."""

    def __init__(
        self,
        *,
        app_id: str = "00000000-0000-4000-8000-00000000b07a",
        password: str = "fake-teams-app-password",
        expires_in: int = 3600,
    ) -> None:
        self.app_id, self.password, self.expires_in = app_id, password, expires_in
        self.base_url = ""
        self._lock = threading.Lock()  # the server thread writes while the test thread reads
        self._first_key = _new_key(("msteams", "skype"))
        self._keys = [self._first_key]
        self._unpublished = _new_key(("msteams",))  # signs tokens no published key verifies
        self._state = _State()
        self._served = ServedApp("fake Teams identity provider")

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.base_url = self._served.start(self._build_app())

    def stop(self) -> None:
        self._served.stop()

    def __enter__(self) -> FakeTeamsIdentity:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # where the bot is pointed ----------------------------------------------------------

    @property
    def metadata_url(self) -> str:
        return self.base_url + METADATA_PATH

    @property
    def keys_url(self) -> str:
        return self.base_url + KEYS_PATH

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    # what the tests read ---------------------------------------------------------------

    @property
    def requests(self) -> list[str]:
        with self._lock:
            return list(self._state.requests)

    def requests_to(self, path: str) -> int:
        return sum(1 for line in self.requests if line.split(" ", 1)[1] == path)

    @property
    def token_calls(self) -> list[TokenCall]:
        with self._lock:
            return list(self._state.token_calls)

    @property
    def issued_tokens(self) -> list[str]:
        """Every access token the token endpoint handed out, oldest first."""
        with self._lock:
            return list(self._state.issued_tokens)

    @property
    def kids(self) -> list[str]:
        """The published keys' ids, oldest first."""
        with self._lock:
            return [key.kid for key in self._keys]

    # what the tests steer --------------------------------------------------------------

    def mint(
        self,
        audience: str,
        *,
        issuer: str = BOT_FRAMEWORK_ISSUER,
        service_url: str | None = None,
        expires_in: int = 3600,
        not_before: datetime | None = None,
        issued_at: datetime | None = None,
        kid: str | None = None,
        signing_key: Literal["good", "other"] = "good",
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """An inbound token as the Bot Framework would send it. `kid` None names the
        newest published key; "other" signs with a key that is never published (under the
        kid asked for, or the newest one's: a forged signature). `claims` adds or replaces
        claims (None as a value drops that claim)."""
        now = issued_at or datetime.now(UTC)
        with self._lock:
            newest = self._keys[-1]
            key = next((k for k in self._keys if k.kid == kid), newest)
        private = key.private if signing_key == "good" else self._unpublished.private
        payload: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "appid": CHANNEL_APP_ID,
            "ver": "1.0",
            "iat": int(now.timestamp()),
            "nbf": int((not_before or now).timestamp()),
            "exp": int((now + timedelta(seconds=expires_in)).timestamp()),
        }
        if service_url is not None:
            payload["serviceurl"] = service_url
        for name, value in (claims or {}).items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        return jwt.encode(payload, private, algorithm="RS256", headers={"kid": kid or key.kid})

    def rotate(self, *, endorsements: Iterable[str] | None = ("msteams", "skype")) -> str:
        """Publishes a new key (the old ones stay) and returns its kid: `mint` signs with
        it from now on. `endorsements` None publishes it without any."""
        key = _new_key(None if endorsements is None else tuple(endorsements))
        with self._lock:
            self._keys.append(key)
        return key.kid

    def stop_serving_metadata(self) -> None:
        with self._lock:
            self._state.serving_metadata = False

    def stop_serving_keys(self) -> None:
        with self._lock:
            self._state.serving_keys = False

    def resume_serving(self) -> None:
        with self._lock:
            self._state.serving_metadata = self._state.serving_keys = True

    def fail(self, times: int = 1, *, status: int = 503) -> None:
        """The next `times` token requests are answered `status` (after any earlier plan)."""
        with self._lock:
            self._state.plans.append(_Plan(status, times))

    def rate_limit(self, times: int = 1, *, retry_after: int = 1) -> None:
        with self._lock:
            self._state.plans.append(_Plan(429, times, retry_after))

    def reset(self) -> None:
        """Forgets requests, tokens, plans and rotated keys, and serves everything again."""
        with self._lock:
            self._state = _State()
            self._keys = [self._first_key]

    # the server ------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(METADATA_PATH, self._metadata, methods=["GET"]),
                Route(KEYS_PATH, self._key_set, methods=["GET"]),
                Route(TOKEN_PATH, self._token, methods=["POST"]),
                # Entra's own form of the path: the tenant first.
                Route("/{tenant}" + TOKEN_PATH, self._token, methods=["POST"]),
            ]
        )

    def _record(self, request: Request) -> None:
        with self._lock:
            self._state.requests.append(f"{request.method} {request.url.path}")

    async def _metadata(self, request: Request) -> Response:
        self._record(request)
        with self._lock:
            serving = self._state.serving_metadata
        if not serving:
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
        return JSONResponse(
            {
                "issuer": BOT_FRAMEWORK_ISSUER,
                "authorization_endpoint": self.base_url + "/v1/.well-known/authorize",
                "jwks_uri": self.keys_url,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _key_set(self, request: Request) -> Response:
        self._record(request)
        with self._lock:
            serving, keys = self._state.serving_keys, list(self._keys)
        if not serving:
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
        return JSONResponse({"keys": [key.public_jwk() for key in keys]})

    async def _token(self, request: Request) -> Response:
        self._record(request)
        # Parsed by hand: Starlette's form parser needs python-multipart, which the
        # project does not install.
        form = dict(parse_qsl((await request.body()).decode("utf-8")))
        secret = form.pop("client_secret", None)
        call = TokenCall(form=form, secret_matched=secret == self.password)
        with self._lock:
            self._state.token_calls.append(call)
            plan = self._next_plan()
        if plan is not None:
            call.status = plan.status
            headers = {"Retry-After": str(plan.retry_after)} if plan.retry_after else None
            error = "temporarily_unavailable" if plan.status != 429 else "too_many_requests"
            return JSONResponse({"error": error}, status_code=plan.status, headers=headers)
        if form.get("grant_type") != "client_credentials":
            call.status = 400
            return _oauth_error(400, "unsupported_grant_type", "AADSTS70003")
        if form.get("client_id") != self.app_id or not call.secret_matched:
            call.status = 401
            return _oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client secret.")
        if not form.get("scope"):
            call.status = 400
            return _oauth_error(400, "invalid_request", "AADSTS900144: 'scope' is missing.")
        access_token = "fake-bf-" + secrets.token_urlsafe(24)
        with self._lock:
            self._state.issued_tokens.append(access_token)
        call.status = 200
        return JSONResponse(
            {"access_token": access_token, "token_type": "Bearer", "expires_in": self.expires_in}
        )

    def _next_plan(self) -> _Plan | None:
        plans = self._state.plans
        if not plans:
            return None
        plan = plans[0]
        plan.times -= 1
        if plan.times <= 0:
            plans.popleft()
        return plan


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _new_key(endorsements: tuple[str, ...] | None) -> _Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _Key(kid=secrets.token_hex(8), private=private, endorsements=endorsements)


def _b64url(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
