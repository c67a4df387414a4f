"""What the web view signs: the session cookie a token login sets, and the one-time form
tokens that protect the login and logout forms from other sites (CSRF).

Everything is signed with a key derived from WARROOM_WEB_TOKEN, so rotating the token
signs everyone out and voids every form in flight. Signatures carry their time (read
from the injected clock) and expire: a session after `SESSION_LIFETIME`, a form after
`FORM_LIFETIME`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from bot.clock import Clock

SESSION_LIFETIME = timedelta(hours=12)
FORM_LIFETIME = timedelta(hours=1)
# Each signed value has its own salt: a login form's token is never a session, nor the
# reverse.
_SESSION_SALT = "warroom.web.session"
_LOGIN_SALT = "warroom.web.login-form"
_LOGOUT_SALT = "warroom.web.logout-form"
_KEY_PURPOSE = b"warroom web view signing key v1"


def token_matches(offered: str, token: str) -> bool:
    """Whether `offered` is the token, in time that does not depend on where they differ."""
    return hmac.compare_digest(offered.encode("utf-8"), token.encode("utf-8"))


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


class _ClockedSigner(TimestampSigner):
    """itsdangerous' signer on warroom's clock (tests step it; expiry follows)."""

    def __init__(self, *args: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock().timestamp())


class Signatures:
    """Signs and checks the web view's session and form tokens."""

    def __init__(self, *, token: str, clock: Clock) -> None:
        # A key of its own rather than the token itself: nothing signed here can be turned
        # into a guess at the token.
        key = hmac.new(token.encode("utf-8"), _KEY_PURPOSE, hashlib.sha256).digest()

        def serializer(salt: str) -> URLSafeTimedSerializer:
            return URLSafeTimedSerializer(
                key, salt=salt, signer=_ClockedSigner, signer_kwargs={"clock": clock}
            )

        self._session = serializer(_SESSION_SALT)
        self._login = serializer(_LOGIN_SALT)
        self._logout = serializer(_LOGOUT_SALT)

    # the session cookie -----------------------------------------------------------------

    def new_session(self) -> tuple[str, str]:
        """A new session's cookie value and its id (what its logout form is bound to)."""
        session_id = new_nonce()
        return self._session.dumps({"sid": session_id}), session_id

    def session_id(self, cookie: str | None) -> str | None:
        """The id of the session `cookie` carries, if it is one of ours and unexpired."""
        data = _loads(self._session, cookie, SESSION_LIFETIME)
        sid = data.get("sid") if isinstance(data, dict) else None
        return sid if isinstance(sid, str) and sid else None

    # the forms ----------------------------------------------------------------------------

    def login_form_token(self, nonce: str) -> str:
        """The login form's hidden field, bound to the `nonce` of the browser's login cookie."""
        return self._login.dumps(nonce)

    def login_form_valid(self, form_token: str | None, nonce: str | None) -> bool:
        return _bound(_loads(self._login, form_token, FORM_LIFETIME), nonce)

    def logout_form_token(self, session_id: str) -> str:
        return self._logout.dumps(session_id)

    def logout_form_valid(self, form_token: str | None, session_id: str | None) -> bool:
        # A session lives longer than a form: a page left open all day can still sign out.
        return _bound(_loads(self._logout, form_token, SESSION_LIFETIME), session_id)


def _loads(serializer: URLSafeTimedSerializer, value: str | None, lifetime: timedelta) -> Any:
    if not value or len(value) > 1000:
        return None
    try:
        return serializer.loads(value, max_age=int(lifetime.total_seconds()))
    except (BadSignature, UnicodeDecodeError, ValueError):
        return None  # tampered with, expired, signed with another token, or not ours


def _bound(signed: Any, expected: str | None) -> bool:
    if not isinstance(signed, str) or not expected:
        return False
    return hmac.compare_digest(signed.encode("utf-8"), expected.encode("utf-8"))
