"""Who gets in: off unless configured; the token as a bearer header or through the login
form's signed session cookie; refusals as 401 for scripts and a redirect for browsers."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from bot.web.auth import SESSION_COOKIE
from tests.web.conftest import BEARER, HEADER, PAGE, TOKEN, MakeWeb, Web
from tests.web.seed import PUBLIC_TITLE

PATHS = ("/web/", "/web/resolved", "/web/stats", "/web/incidents/INC-1", "/web/nope")


async def login_form(web: Web, next_page: str = "/web/") -> str:
    """Load the login form (its cookie lands in the client); its signed form token."""
    answer = await web.get("/web/login", params={"next": next_page}, headers=PAGE)
    assert answer.status_code == 200
    found = re.search(r'name="form_token" value="([^"]+)"', answer.text)
    assert found is not None
    return found[1]


async def sign_in(web: Web, *, token: str = TOKEN, next_page: str = "/web/") -> httpx.Response:
    form_token = await login_form(web, next_page)
    return await web.client.post(
        "/web/login",
        data={"form_token": form_token, "token": token, "next": next_page},
        headers=PAGE,
    )


# off unless configured -------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PATHS, "/web/login", "/web/incidents/INC-1/postmortem"])
async def test_without_configuration_every_page_says_how_to_turn_it_on(
    make_web: MakeWeb, path: str
) -> None:
    web = await make_web()
    for headers in (PAGE, BEARER, {HEADER: "u0bob@example.com"}):
        answer = await web.get(path, headers=headers)
        assert answer.status_code == 503
        assert answer.headers["content-type"].startswith("text/html")
        assert "The web view is off" in answer.text
        assert "WARROOM_WEB_TOKEN" in answer.text and "WARROOM_WEB_TRUSTED_HEADER" in answer.text
        assert PUBLIC_TITLE not in answer.text
    posted = await web.client.post("/web/login", data={"token": "anything"})
    assert posted.status_code == 503


async def test_the_stylesheet_is_served_even_when_off(make_web: MakeWeb) -> None:
    web = await make_web(seeded=False)
    answer = await web.get("/web/static/web.css")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/css")
    assert "tr.incident.overdue" in answer.text


# the bearer token ---------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS[:4])
async def test_the_bearer_token_opens_every_page(web: Web, path: str) -> None:
    answer = await web.get(path, headers=BEARER)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert answer.headers["cache-control"] == "no-store"
    assert "<script" not in answer.text


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {TOKEN}x", "Bearer ", "Bearer", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN[:-1]}"],
)
async def test_a_wrong_bearer_token_is_a_401_even_for_a_browser(
    web: Web, authorization: str
) -> None:
    answer = await web.get("/web/", headers={**PAGE, "Authorization": authorization})
    assert answer.status_code == 401
    assert answer.json() == {
        "ok": False,
        "error": "unauthorized",
        "detail": "the bearer token is not the web token",
    }
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert TOKEN not in answer.text


async def test_nothing_sent_redirects_a_browser_to_the_login_form(web: Web) -> None:
    answer = await web.get("/web/incidents/INC-1", params={"x": "1"}, headers=PAGE)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/web/login?next=%2Fweb%2Fincidents%2FINC-1%3Fx%3D1"


async def test_nothing_sent_is_a_401_for_a_script(web: Web) -> None:
    answer = await web.get("/web/", headers={"Accept": "application/json"})
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"


async def test_unknown_paths_are_refused_before_being_said_unknown(web: Web) -> None:
    assert (await web.get("/web/admin", headers=PAGE)).status_code == 303
    answer = await web.get("/web/admin", headers=BEARER)
    assert answer.status_code == 404 and "There is no such page" in answer.text
    deleted = await web.client.delete("/web/", headers=BEARER)
    assert deleted.status_code == 404
    assert (await web.get("/web", headers=BEARER)).headers["location"] == "/web/"


# the login form and its cookie ---------------------------------------------------------


async def test_signing_in_sets_a_signed_http_only_lax_cookie_for_12_hours(web: Web) -> None:
    answer = await sign_in(web, next_page="/web/incidents/INC-1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/web/incidents/INC-1"
    cookie = next(
        value
        for name, value in answer.headers.multi_items()
        if name == "set-cookie" and value.startswith(f"{SESSION_COOKIE}=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= attributes
    assert "secure" not in attributes  # plain http: a Secure cookie would never come back
    assert "samesite=lax" in cookie.lower() and "path=/web" in cookie.lower()
    assert "max-age=43200" in cookie.lower()
    assert TOKEN not in cookie
    page = await web.get("/web/incidents/INC-1", headers=PAGE)
    assert page.status_code == 200 and PUBLIC_TITLE in page.text
    assert "Sign out" in page.text


async def test_over_https_the_cookie_is_secure(make_web: MakeWeb) -> None:
    web = await make_web(seeded=False, web_token=TOKEN)
    web.client.base_url = httpx.URL("https://warroom.test")
    answer = await sign_in(web)
    assert answer.status_code == 303
    assert "secure" in answer.headers["set-cookie"].lower()


async def test_a_wrong_token_in_the_form_is_refused_and_sets_no_session(web: Web) -> None:
    answer = await sign_in(web, token="not-the-token")
    assert answer.status_code == 401
    assert "That is not the web token" in answer.text
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    assert (await web.get("/web/", headers=PAGE)).status_code == 303


async def test_a_form_from_elsewhere_is_refused(web: Web) -> None:
    form_token = await login_form(web)
    # Another site's form: it has neither this browser's login cookie nor its form token.
    stranger = httpx.AsyncClient(transport=web.client._transport, base_url=web.client.base_url)
    async with stranger:
        forged = await stranger.post(
            "/web/login", data={"form_token": form_token, "token": TOKEN}, headers=PAGE
        )
        assert forged.status_code == 403
        assert SESSION_COOKIE not in forged.headers.get("set-cookie", "")
        made_up = await stranger.post(
            "/web/login", data={"form_token": "x", "token": TOKEN}, headers=PAGE
        )
        assert made_up.status_code == 403
    # The login cookie alone, without the form's token, is not enough either.
    answer = await web.client.post("/web/login", data={"token": TOKEN}, headers=PAGE)
    assert answer.status_code == 403


async def test_an_expired_login_form_is_refused(web: Web) -> None:
    form_token = await login_form(web)
    web.clock.advance(hours=1, seconds=1)
    answer = await web.client.post(
        "/web/login", data={"form_token": form_token, "token": TOKEN}, headers=PAGE
    )
    assert answer.status_code == 403 and "expired" in answer.text


async def test_a_body_that_is_not_a_form_is_a_400(web: Web) -> None:
    await login_form(web)
    answer = await web.client.post("/web/login", json={"token": TOKEN}, headers=PAGE)
    assert answer.status_code == 400
    huge = await web.client.post(
        "/web/login",
        content=b"token=" + b"x" * 10_000,
        headers={**PAGE, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 400


@pytest.mark.parametrize(
    "next_page",
    ["https://evil.example/", "//evil.example/web/", "/web\\@evil.example", "/elsewhere", ""],
)
async def test_after_signing_in_only_web_view_pages_are_followed(web: Web, next_page: str) -> None:
    answer = await sign_in(web, next_page=next_page)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/web/"


async def test_a_tampered_cookie_is_refused_and_dropped(web: Web) -> None:
    await sign_in(web)
    cookie = web.client.cookies[SESSION_COOKIE]
    changed = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    web.client.cookies.clear()
    web.client.cookies.set(SESSION_COOKIE, changed, domain="warroom.test", path="/web")
    answer = await web.get("/web/", headers=PAGE)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/web/login")
    assert f'{SESSION_COOKIE}=""' in answer.headers["set-cookie"]
    web.client.cookies.set(SESSION_COOKIE, changed, domain="warroom.test", path="/web")
    assert (await web.get("/web/", headers={"Accept": "*/*"})).status_code == 401


async def test_a_session_lasts_12_hours(web: Web) -> None:
    await sign_in(web)
    web.clock.advance(hours=11, minutes=59)
    assert (await web.get("/web/", headers=PAGE)).status_code == 200
    web.clock.advance(minutes=2)
    assert (await web.get("/web/", headers=PAGE)).status_code == 303


async def test_rotating_the_token_signs_everyone_out(make_web: MakeWeb) -> None:
    before = await make_web(seeded=False, web_token=TOKEN)
    await sign_in(before)
    cookie = before.client.cookies[SESSION_COOKIE]
    after = await make_web(seeded=False, web_token=TOKEN + "-rotated")
    after.client.cookies.set(SESSION_COOKIE, cookie, domain="warroom.test", path="/web")
    answer = await after.get("/web/", headers=PAGE)
    assert answer.status_code == 303


async def test_signing_out_needs_the_pages_own_form(web: Web) -> None:
    await sign_in(web)
    page = await web.get("/web/", headers=PAGE)
    found = re.search(
        r'action="/web/logout">\s*<input type="hidden" name="form_token" value="([^"]+)"', page.text
    )
    assert found is not None
    refused = await web.client.post("/web/logout", data={"form_token": "forged"}, headers=PAGE)
    assert refused.status_code == 403
    assert (await web.get("/web/", headers=PAGE)).status_code == 200  # still signed in
    answer = await web.client.post("/web/logout", data={"form_token": found[1]}, headers=PAGE)
    assert answer.status_code == 303 and answer.headers["location"] == "/web/login"
    assert SESSION_COOKIE not in web.client.cookies
    assert (await web.get("/web/", headers=PAGE)).status_code == 303


async def test_the_token_is_never_logged(web: Web, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await sign_in(web)
    await sign_in(web, token=TOKEN + "wrong")
    await web.get("/web/", headers={"Authorization": f"Bearer {TOKEN}zz"})
    await web.get("/web/stats", headers=BEARER)
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(web.warroom.settings)


async def test_a_short_token_is_warned_about(
    make_web: MakeWeb, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await make_web(seeded=False, web_token="short-one")
    assert "WARROOM_WEB_TOKEN is shorter than 16 characters" in caplog.text
    assert "short-one" not in caplog.text


# the proxy's header alone ---------------------------------------------------------------


async def test_with_only_a_trusted_header_there_is_no_token_login(make_web: MakeWeb) -> None:
    web = await make_web(web_trusted_header=HEADER)
    answer = await web.get("/web/", headers=PAGE)
    assert answer.status_code == 401 and "sign-in proxy" in answer.text
    assert (await web.get("/web/", headers=BEARER)).status_code == 401
    assert (await web.get("/web/login", headers=PAGE)).status_code == 404
    signed = await web.get("/web/", headers={**PAGE, HEADER: "someone@example.com"})
    assert signed.status_code == 200
    assert "Signed in as someone@example.com" in signed.text


async def test_a_head_request_gets_the_pages_headers(web: Web) -> None:
    answer = await web.client.head("/web/incidents/INC-1", headers=BEARER)
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["content-type"].startswith("text/html")
    assert (await web.client.head("/web/", headers=PAGE)).status_code == 303
