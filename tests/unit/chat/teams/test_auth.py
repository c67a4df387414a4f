"""The Bot Framework's tokens, against a fake identity provider served over real HTTP:
inbound tokens checked (bot.chat.teams.auth), the bot's own fetched (bot.chat.teams.tokens)."""

from __future__ import annotations

import asyncio
import logging
import socket
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from bot.chat.teams.auth import (
    BOT_FRAMEWORK_ISSUER,
    DEFAULT_OPENID_METADATA_URL,
    LEEWAY,
    Caller,
    InboundTokens,
    Unauthorized,
)
from bot.chat.teams.tokens import BOT_CONNECTOR_SCOPE, OutboundTokens, default_token_url
from bot.errors import DeliveryError
from tests.conftest import SteppingClock
from tests.support.fake_teams_identity import CHANNEL_APP_ID, KEYS_PATH, METADATA_PATH
from tests.support.fake_teams_identity import FakeTeamsIdentity as FakeIdentity

SERVICE_URL = "https://smba.trafficmanager.net/emea/"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeIdentity]:
    with FakeIdentity() as fake:
        yield fake


@pytest.fixture
def identity(server: FakeIdentity) -> FakeIdentity:
    server.reset()
    return server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
def now_clock() -> SteppingClock:
    """A stepping clock that starts at the real time, as minted tokens do."""
    return SteppingClock(datetime.now(UTC))


@pytest.fixture
def inbound(
    http: httpx.AsyncClient, identity: FakeIdentity, now_clock: SteppingClock
) -> InboundTokens:
    return InboundTokens(
        http=http, app_id=identity.app_id, metadata_url=identity.metadata_url, clock=now_clock
    )


def bearer(token: str) -> str:
    return f"Bearer {token}"


def closed_port_url(path: str) -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}{path}"


# inbound: what gets in -------------------------------------------------------------------


async def test_a_valid_token_names_its_caller(
    inbound: InboundTokens, identity: FakeIdentity
) -> None:
    token = identity.mint(identity.app_id, service_url=SERVICE_URL)

    caller = await inbound.check(bearer(token), service_url=SERVICE_URL, channel_id="msteams")

    assert caller == Caller(CHANNEL_APP_ID, SERVICE_URL, caller.claims)
    assert caller.claims["aud"] == identity.app_id


@pytest.mark.parametrize(
    "mint_options",
    [
        pytest.param({"audience": "api://{app_id}"}, id="api-uri-audience"),
        pytest.param({"service_url": SERVICE_URL.rstrip("/")}, id="serviceurl-without-slash"),
        pytest.param({"service_url": None}, id="no-serviceurl-claim"),
        pytest.param({"expires_in": -60}, id="expired-within-leeway"),
        pytest.param({"not_before_in": 120}, id="not-yet-valid-within-leeway"),
        pytest.param({"claims": {"appid": None, "azp": "v2-caller"}}, id="v2-azp-caller"),
    ],
)
async def test_tokens_the_bot_framework_may_send_are_accepted(
    inbound: InboundTokens, identity: FakeIdentity, mint_options: dict[str, Any]
) -> None:
    token = mint(identity, **mint_options)

    caller = await inbound.check(bearer(token), service_url=SERVICE_URL, channel_id="msteams")

    assert caller.app_id in {CHANNEL_APP_ID, "v2-caller"}


def mint(
    identity: FakeIdentity,
    *,
    audience: str = "{app_id}",
    service_url: str | None = SERVICE_URL,
    not_before_in: int | None = None,
    **options: Any,
) -> str:
    not_before = None
    if not_before_in is not None:
        not_before = datetime.now(UTC) + timedelta(seconds=not_before_in)
    return identity.mint(
        audience.format(app_id=identity.app_id),
        service_url=service_url,
        not_before=not_before,
        **options,
    )


# inbound: what is refused ----------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer  ", "Bearer a b", "Bearer not-a-jwt"],
)
async def test_headers_that_carry_no_token_are_refused(
    inbound: InboundTokens, identity: FakeIdentity, authorization: str | None
) -> None:
    with pytest.raises(Unauthorized):
        await inbound.check(authorization, service_url=SERVICE_URL)
    assert identity.requests == []  # refused before any key is needed


@pytest.mark.parametrize(
    ("mint_options", "reason"),
    [
        ({"audience": "someone-else"}, "wrong audience"),
        ({"audience": "api://botid-{app_id}"}, "wrong audience"),
        ({"issuer": "https://sts.windows.net/evil/"}, "wrong issuer"),
        ({"expires_in": -301}, "token expired"),
        ({"not_before_in": 600}, "token not yet valid"),
        ({"signing_key": "other"}, "bad signature"),
        ({"kid": "never-published"}, "unknown signing key"),
        ({"service_url": "https://evil.example/"}, "serviceurl claim does not match the activity"),
        ({"claims": {"exp": None}}, "token has no 'exp' claim"),
        ({"claims": {"exp": "tomorrow"}}, "malformed 'exp' claim"),
        ({"claims": {"serviceurl": 42}}, "malformed serviceurl claim"),
    ],
)
async def test_invalid_tokens_are_refused(
    inbound: InboundTokens,
    identity: FakeIdentity,
    caplog: pytest.LogCaptureFixture,
    mint_options: dict[str, Any],
    reason: str,
) -> None:
    token = mint(identity, **mint_options)

    with pytest.raises(Unauthorized) as refused:
        await inbound.check(bearer(token), service_url=SERVICE_URL, channel_id="msteams")

    assert refused.value.reason == reason == str(refused.value)
    assert token not in caplog.text


async def test_a_serviceurl_claim_needs_an_activity_service_url(
    inbound: InboundTokens, identity: FakeIdentity
) -> None:
    with pytest.raises(Unauthorized, match="serviceurl"):
        await inbound.check(bearer(mint(identity)), service_url=None)


@pytest.mark.parametrize("algorithm", ["HS256", "none"])
async def test_only_rs256_signatures_count(
    inbound: InboundTokens, identity: FakeIdentity, algorithm: str
) -> None:
    claims = jwt.decode(mint(identity), options={"verify_signature": False})
    key = "a-shared-secret-of-enough-length-for-hs256" if algorithm == "HS256" else ""
    token = jwt.encode(claims, key, algorithm=algorithm, headers={"kid": identity.kids[0]})

    with pytest.raises(Unauthorized, match="algorithm not allowed"):
        await inbound.check(bearer(token), service_url=SERVICE_URL)


async def test_a_key_not_endorsed_for_teams_is_refused_for_teams_activities(
    inbound: InboundTokens, identity: FakeIdentity
) -> None:
    identity.rotate(endorsements=["skype", "webchat"])
    token = mint(identity)

    with pytest.raises(Unauthorized, match="not endorsed for channel 'msteams'"):
        await inbound.check(bearer(token), service_url=SERVICE_URL, channel_id="msteams")
    # Endorsed for another channel, and not checked when the activity names none.
    await inbound.check(bearer(token), service_url=SERVICE_URL, channel_id="webchat")
    await inbound.check(bearer(token), service_url=SERVICE_URL)


async def test_a_key_listing_no_endorsements_signs_for_any_channel(
    inbound: InboundTokens, identity: FakeIdentity
) -> None:
    identity.rotate(endorsements=None)

    await inbound.check(bearer(mint(identity)), service_url=SERVICE_URL, channel_id="msteams")


async def test_an_unexpected_failure_is_still_unauthorized(
    http: httpx.AsyncClient, identity: FakeIdentity
) -> None:
    def broken_clock() -> datetime:
        raise RuntimeError("clock unplugged")

    tokens = InboundTokens(
        http=http, app_id=identity.app_id, metadata_url=identity.metadata_url, clock=broken_clock
    )

    with pytest.raises(Unauthorized, match="token check failed"):
        await tokens.check(bearer(mint(identity)), service_url=SERVICE_URL)


# inbound: the keys -----------------------------------------------------------------------


async def test_keys_are_fetched_once_not_per_request(
    inbound: InboundTokens, identity: FakeIdentity
) -> None:
    await asyncio.gather(
        *(inbound.check(bearer(mint(identity)), service_url=SERVICE_URL) for _ in range(10))
    )
    for _ in range(20):
        await inbound.check(bearer(mint(identity)), service_url=SERVICE_URL)

    assert identity.requests == [f"GET {METADATA_PATH}", f"GET {KEYS_PATH}"]


async def test_rotated_keys_are_accepted_after_one_refresh(
    inbound: InboundTokens, identity: FakeIdentity
) -> None:
    await inbound.check(bearer(mint(identity)), service_url=SERVICE_URL)
    identity.rotate()

    await inbound.check(bearer(mint(identity)), service_url=SERVICE_URL)
    await inbound.check(bearer(mint(identity)), service_url=SERVICE_URL)

    assert identity.requests_to(KEYS_PATH) == 2


async def test_unknown_key_ids_refresh_the_keys_at_most_once_a_minute(
    inbound: InboundTokens, identity: FakeIdentity, now_clock: SteppingClock
) -> None:
    await inbound.check(bearer(mint(identity)), service_url=SERVICE_URL)
    for _ in range(5):
        with pytest.raises(Unauthorized, match="unknown signing key"):
            await inbound.check(bearer(mint(identity, kid="forged")), service_url=SERVICE_URL)
    assert identity.requests_to(KEYS_PATH) == 2

    now_clock.advance(seconds=61)
    with pytest.raises(Unauthorized, match="unknown signing key"):
        await inbound.check(bearer(mint(identity, kid="forged")), service_url=SERVICE_URL)
    assert identity.requests_to(KEYS_PATH) == 3


async def test_old_keys_are_refreshed_in_the_background(
    inbound: InboundTokens, identity: FakeIdentity, now_clock: SteppingClock
) -> None:
    await inbound.check(bearer(mint(identity)), service_url=SERVICE_URL)
    now_clock.advance(hours=23)
    await inbound.check(bearer(mint(identity, issued_at=now_clock.now)), service_url=SERVICE_URL)
    assert identity.requests_to(METADATA_PATH) == 1

    now_clock.advance(hours=1)
    await inbound.check(bearer(mint(identity, issued_at=now_clock.now)), service_url=SERVICE_URL)
    await eventually(lambda: identity.requests_to(KEYS_PATH) == 2)
    assert identity.requests_to(METADATA_PATH) == 2


@pytest.mark.parametrize("outage", ["metadata", "keys"])
async def test_the_last_good_keys_serve_while_the_issuer_is_down(
    inbound: InboundTokens,
    identity: FakeIdentity,
    now_clock: SteppingClock,
    caplog: pytest.LogCaptureFixture,
    outage: str,
) -> None:
    await inbound.check(bearer(mint(identity)), service_url=SERVICE_URL)
    if outage == "metadata":
        identity.stop_serving_metadata()
    else:
        identity.stop_serving_keys()
    now_clock.advance(hours=25)

    with caplog.at_level(logging.WARNING, logger="bot.chat.teams.auth"):
        for _ in range(3):
            token = mint(identity, issued_at=now_clock.now)
            await inbound.check(bearer(token), service_url=SERVICE_URL)
        await eventually(lambda: "signing keys not fetched" in caplog.text)

    assert "still using the 1 keys held" in caplog.text
    assert identity.requests_to(METADATA_PATH) == 2  # one try, then a pause before the next


async def test_a_hanging_issuer_keeps_no_check_waiting_once_keys_are_held(
    http: httpx.AsyncClient, identity: FakeIdentity, now_clock: SteppingClock
) -> None:
    hanging, released = asyncio.Event(), asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        if hanging.is_set():
            await released.wait()
        upstream = await http.get(str(request.url))
        return httpx.Response(upstream.status_code, content=upstream.content)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as through:
        tokens = InboundTokens(
            http=through,
            app_id=identity.app_id,
            metadata_url=identity.metadata_url,
            clock=now_clock,
        )
        await tokens.check(bearer(mint(identity)), service_url=SERVICE_URL)
        hanging.set()
        now_clock.advance(hours=25)

        token = mint(identity, issued_at=now_clock.now)
        await asyncio.wait_for(tokens.check(bearer(token), service_url=SERVICE_URL), timeout=1)

        released.set()
        await eventually(lambda: identity.requests_to(KEYS_PATH) == 2)


async def eventually(condition: Callable[[], bool], within: float = 5) -> None:
    """Waits for what a background task does."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "it never happened"
        await asyncio.sleep(0.01)


async def test_without_keys_ever_fetched_every_token_is_refused(
    inbound: InboundTokens, identity: FakeIdentity, now_clock: SteppingClock
) -> None:
    identity.stop_serving_metadata()

    for _ in range(3):
        with pytest.raises(Unauthorized, match="signing keys unavailable"):
            await inbound.check(bearer(mint(identity)), service_url=SERVICE_URL)
    assert identity.requests_to(METADATA_PATH) == 1

    identity.resume_serving()
    now_clock.advance(seconds=11)
    await inbound.check(bearer(mint(identity)), service_url=SERVICE_URL)


async def test_an_unreachable_issuer_refuses_without_other_errors(
    http: httpx.AsyncClient, identity: FakeIdentity
) -> None:
    tokens = InboundTokens(
        http=http, app_id=identity.app_id, metadata_url=closed_port_url(METADATA_PATH)
    )

    with pytest.raises(Unauthorized, match="signing keys unavailable"):
        await tokens.check(bearer(mint(identity)), service_url=SERVICE_URL)


RSA_KEY = {"kty": "RSA", "use": "sig", "kid": "k1", "n": "AQAB", "e": "AQAB"}


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param({"metadata": (500, b"{}")}, id="metadata-500"),
        pytest.param({"metadata": (200, b"<html>")}, id="metadata-not-json"),
        pytest.param({"metadata": (200, b"[]")}, id="metadata-a-list"),
        pytest.param({"metadata": (200, b'{"jwks_uri": 7}')}, id="no-jwks-uri"),
        pytest.param({"keys": (200, b'{"keys": {}}')}, id="keys-not-a-list"),
        pytest.param({"keys": (200, b'{"keys": []}')}, id="no-keys"),
        pytest.param({"keys": (200, b'{"keys": [{"kty": "EC", "kid": "e"}, 3]}')}, id="no-rsa"),
        pytest.param({"keys": (200, b'{"keys": [{"kty": "RSA", "kid": "x"}]}')}, id="no-modulus"),
    ],
)
async def test_odd_issuer_documents_leave_no_keys_and_refuse_cleanly(
    identity: FakeIdentity, answers: dict[str, tuple[int, bytes]]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        default = (200, b'{"jwks_uri": "https://issuer.test/keys"}')
        if request.url.path == "/keys":
            default = (200, b'{"keys": []}')
        status, body = answers.get("keys" if request.url.path == "/keys" else "metadata", default)
        return httpx.Response(status, content=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        tokens = InboundTokens(
            http=http, app_id=identity.app_id, metadata_url="https://issuer.test/metadata"
        )
        with pytest.raises(Unauthorized, match="signing keys unavailable"):
            await tokens.check(bearer(mint(identity)), service_url=SERVICE_URL)


# inbound: the Teams SDK agrees ------------------------------------------------------------


def test_the_endpoints_and_leeway_are_the_teams_sdks_public_cloud() -> None:
    from microsoft_teams.api.auth.cloud_environment import PUBLIC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK's App package calls itself experimental
        from microsoft_teams.apps.auth.token_validator import JWT_LEEWAY_SECONDS

    ours = (DEFAULT_OPENID_METADATA_URL, BOT_FRAMEWORK_ISSUER, BOT_CONNECTOR_SCOPE)
    assert ours == (PUBLIC.openid_metadata_url, PUBLIC.token_issuer, PUBLIC.bot_scope)
    assert default_token_url(None) == (
        f"{PUBLIC.login_endpoint}/{PUBLIC.login_tenant}/oauth2/v2.0/token"
    )
    assert LEEWAY.total_seconds() == JWT_LEEWAY_SECONDS


@pytest.mark.parametrize(
    "mint_options",
    [
        {},
        {"audience": "api://{app_id}"},
        {"audience": "someone-else"},
        {"issuer": "https://sts.windows.net/evil/"},
        {"expires_in": -400},
        {"not_before_in": 600},
        {"signing_key": "other"},
        {"service_url": "https://evil.example/"},
    ],
    ids=lambda options: ",".join(options) or "valid",
)
async def test_the_teams_sdk_validator_reaches_the_same_verdicts(
    inbound: InboundTokens, identity: FakeIdentity, mint_options: dict[str, Any]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from microsoft_teams.apps.auth.token_validator import JwtValidationOptions, TokenValidator

    sdk = TokenValidator(
        JwtValidationOptions(
            valid_issuers=[BOT_FRAMEWORK_ISSUER],
            valid_audiences=[identity.app_id, f"api://{identity.app_id}"],
            jwks_uri=identity.keys_url,
        )
    )
    token = mint(identity, **mint_options)

    def sdk_verdict() -> bool:  # its key fetch is synchronous: off the event loop
        try:
            asyncio.run(sdk.validate_token(token, SERVICE_URL))
        except jwt.InvalidTokenError:
            return False
        return True

    try:
        await inbound.check(bearer(token), service_url=SERVICE_URL)
        ours = True
    except Unauthorized:
        ours = False
    assert ours == await asyncio.to_thread(sdk_verdict)


# outbound --------------------------------------------------------------------------------


@pytest.fixture
def outbound(
    http: httpx.AsyncClient, identity: FakeIdentity, now_clock: SteppingClock
) -> Callable[..., OutboundTokens]:
    def make(**overrides: Any) -> OutboundTokens:
        settings: dict[str, Any] = {
            "http": http,
            "app_id": identity.app_id,
            "password": identity.password,
            "token_url": identity.token_url,
            "clock": now_clock,
        }
        return OutboundTokens(**(settings | overrides))

    return make


def test_the_default_token_url_is_the_tenants_or_the_bot_frameworks() -> None:
    assert default_token_url("contoso.onmicrosoft.com") == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    )
    assert default_token_url(None) == (
        "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
    )


async def test_a_token_is_fetched_once_and_cached(
    outbound: Callable[..., OutboundTokens], identity: FakeIdentity
) -> None:
    tokens = outbound()

    first, second = await tokens.token(), await tokens.token()

    assert first == second == identity.issued_tokens[0]
    [call] = identity.token_calls
    assert call.form == {
        "grant_type": "client_credentials",
        "client_id": identity.app_id,
        "scope": "https://api.botframework.com/.default",
    }
    assert call.secret_matched


async def test_a_token_is_renewed_five_minutes_before_it_expires(
    outbound: Callable[..., OutboundTokens], identity: FakeIdentity, now_clock: SteppingClock
) -> None:
    tokens = outbound()
    first = await tokens.token()

    now_clock.advance(seconds=3600 - 300 - 1)
    assert await tokens.token() == first
    now_clock.advance(seconds=2)
    renewed = await tokens.token()

    assert renewed != first and identity.issued_tokens == [first, renewed]


async def test_a_short_lived_token_is_renewed_halfway(
    outbound: Callable[..., OutboundTokens], identity: FakeIdentity, now_clock: SteppingClock
) -> None:
    identity.expires_in = 120
    try:
        tokens = outbound()
        first = await tokens.token()
        now_clock.advance(seconds=59)
        assert await tokens.token() == first
        now_clock.advance(seconds=2)
        assert await tokens.token() != first
    finally:
        identity.expires_in = 3600


async def test_concurrent_callers_share_one_fetch(
    outbound: Callable[..., OutboundTokens], identity: FakeIdentity
) -> None:
    tokens = outbound()

    got = await asyncio.gather(*(tokens.token() for _ in range(10)))

    assert set(got) == set(identity.issued_tokens) and len(identity.token_calls) == 1


async def test_callers_waiting_on_a_failed_fetch_share_its_failure(
    outbound: Callable[..., OutboundTokens], identity: FakeIdentity
) -> None:
    identity.rate_limit(1, retry_after=3)
    tokens = outbound()

    got = await asyncio.gather(*(tokens.token() for _ in range(5)), return_exceptions=True)

    assert all(isinstance(each, DeliveryError) and each.retry_after == 3 for each in got)
    assert len(identity.token_calls) == 1
    assert await tokens.token() == identity.issued_tokens[0]  # the next call asks again


async def test_refused_credentials_are_not_retried_and_never_show_the_secret(
    outbound: Callable[..., OutboundTokens], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wrong-Secret~value.123"
    tokens = outbound(password=secret)

    with pytest.raises(DeliveryError) as refused:
        await tokens.token()

    error = refused.value
    assert (error.code, error.retryable) == ("teams_token_refused", False)
    assert "invalid_client" in str(error)
    for text in (str(error), repr(error), error.detail, caplog.text, repr(tokens)):
        assert secret not in text


@pytest.mark.parametrize("status", [500, 503, 408])
async def test_an_unavailable_issuer_is_retryable(
    outbound: Callable[..., OutboundTokens], identity: FakeIdentity, status: int
) -> None:
    identity.fail(1, status=status)
    tokens = outbound()

    with pytest.raises(DeliveryError) as failed:
        await tokens.token()

    assert failed.value.retryable and failed.value.retry_after is None
    assert await tokens.token() == identity.issued_tokens[0]  # a failure is not cached


async def test_a_rate_limit_says_when_to_come_back(
    outbound: Callable[..., OutboundTokens], identity: FakeIdentity
) -> None:
    identity.rate_limit(1, retry_after=7)

    with pytest.raises(DeliveryError) as limited:
        await outbound().token()

    assert limited.value.retryable and limited.value.retry_after == 7


async def test_an_unreachable_token_endpoint_is_retryable(
    outbound: Callable[..., OutboundTokens],
) -> None:
    with pytest.raises(DeliveryError) as failed:
        await outbound(token_url=closed_port_url("/oauth2/v2.0/token")).token()

    assert failed.value.retryable and failed.value.code == "teams_token_unavailable"


@pytest.mark.parametrize("url", ["token.example/oauth2", "ftp://token.example/", "http://[::1"])
async def test_an_unusable_token_url_is_not_retried(
    outbound: Callable[..., OutboundTokens], url: str
) -> None:
    with pytest.raises(DeliveryError) as failed:
        await outbound(token_url=url).token()

    assert (failed.value.code, failed.value.retryable) == ("teams_token_url_invalid", False)


@pytest.mark.parametrize(
    "body",
    [b"<html>", b"[]", b'{"token_type": "Bearer"}', b'{"access_token": "t", "expires_in": 0}'],
)
async def test_a_malformed_answer_is_retryable(body: bytes) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with httpx.AsyncClient(transport=transport) as http:
        tokens = OutboundTokens(
            http=http, app_id="a", password="p", token_url="https://issuer.test/token"
        )
        with pytest.raises(DeliveryError) as failed:
            await tokens.token()

    assert failed.value.retryable and "malformed" in failed.value.detail
