"""The signed values of the web view: sessions and form tokens, bound, expiring on
warroom's clock, and void under another token."""

from __future__ import annotations

from bot.web.auth import safe_next
from bot.web.sessions import Signatures, token_matches
from tests.conftest import SteppingClock

TOKEN = "one-web-token-0123456789"


def test_a_session_round_trips_and_expires_after_12_hours(clock: SteppingClock) -> None:
    signatures = Signatures(token=TOKEN, clock=clock)
    cookie, session_id = signatures.new_session()
    assert signatures.session_id(cookie) == session_id
    assert TOKEN not in cookie
    clock.advance(hours=12)
    assert signatures.session_id(cookie) == session_id
    clock.advance(seconds=1)
    assert signatures.session_id(cookie) is None


def test_a_session_from_another_token_or_tampered_is_none(clock: SteppingClock) -> None:
    cookie, _ = Signatures(token=TOKEN, clock=clock).new_session()
    assert Signatures(token=TOKEN + "2", clock=clock).session_id(cookie) is None
    signatures = Signatures(token=TOKEN, clock=clock)
    for broken in (cookie[:-1], cookie + "x", "", "x" * 2000, "a.b.c", cookie.replace(".", "", 1)):
        assert signatures.session_id(broken) is None
    assert signatures.session_id(None) is None


def test_a_form_token_is_not_a_session_nor_the_other_form(clock: SteppingClock) -> None:
    signatures = Signatures(token=TOKEN, clock=clock)
    login = signatures.login_form_token("nonce-1")
    assert signatures.session_id(login) is None
    assert signatures.login_form_valid(login, "nonce-1")
    assert not signatures.login_form_valid(login, "nonce-2")
    assert not signatures.login_form_valid(login, None)
    assert not signatures.logout_form_valid(login, "nonce-1")
    cookie, session_id = signatures.new_session()
    logout = signatures.logout_form_token(session_id)
    assert signatures.logout_form_valid(logout, session_id)
    assert not signatures.logout_form_valid(cookie, session_id)
    clock.advance(hours=1, seconds=1)
    assert not signatures.login_form_valid(login, "nonce-1")  # a form lasts an hour
    assert signatures.logout_form_valid(logout, session_id)  # the page's lasts its session


def test_tokens_compare_whole() -> None:
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(TOKEN[:-1], TOKEN)
    assert not token_matches(TOKEN + " ", TOKEN)
    assert not token_matches("", TOKEN)
    assert token_matches("pässwörd-ß", "pässwörd-ß")


def test_only_web_view_pages_are_followed_after_signing_in() -> None:
    assert safe_next("/web/incidents/INC-1?x=1") == "/web/incidents/INC-1?x=1"
    for elsewhere in (
        None, "", "https://evil.example", "//evil.example", "/web", "/webx/", "/web/login",
        "/web/\\evil", "/web/\nSet-Cookie: x", "javascript:alert(1)", "/status", "x" * 3000,
    ):  # fmt: skip
        assert safe_next(elsewhere) == "/web/", elsewhere
