"""Typing the web token once: /web/login's form, which sets the session cookie, and the
sign-out form.

Both forms are protected from other sites twice over: the cookies are SameSite=Lax (a
cross-site POST carries none), and each form carries a signed token bound to the
browser: the login form's to a cookie of its own set with the form, the sign-out form's
to the session.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from bot.web.auth import (
    HOME_PATH,
    LOGIN_PATH,
    SESSION_COOKIE,
    WebAccess,
    clear_session,
    safe_next,
    secure_request,
    set_session,
)
from bot.web.pages import Chrome, WebPages
from bot.web.sessions import FORM_LIFETIME, Signatures, new_nonce, token_matches

LOGIN_COOKIE = "warroom_web_login"
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 8192


class LoginForms:
    def __init__(self, *, access: WebAccess, pages: WebPages) -> None:
        self._access = access
        self._pages = pages

    async def show(self, request: Request) -> Response:
        signatures = self._access.signatures
        if signatures is None:
            return self._no_token_login()
        return self._form(
            request, signatures, next_page=safe_next(request.query_params.get("next"))
        )

    async def submit(self, request: Request) -> Response:
        signatures = self._access.signatures
        if signatures is None or self._access.token is None:
            return self._no_token_login()
        fields = await _form_fields(request)
        if fields is None:
            return self._form(
                request, signatures, next_page=HOME_PATH, status=400,
                problem="The form did not arrive as a form: type the token and sign in again.",
            )  # fmt: skip
        next_page = safe_next(fields.get("next"))
        if not signatures.login_form_valid(
            fields.get("form_token"), request.cookies.get(LOGIN_COOKIE)
        ):
            return self._form(
                request, signatures, next_page=next_page, status=403,
                problem="This form has expired or came from elsewhere: sign in again here.",
            )  # fmt: skip
        if not token_matches(fields.get("token", "").strip(), self._access.token):
            return self._form(
                request, signatures, next_page=next_page, status=401,
                problem="That is not the web token.",
            )  # fmt: skip
        cookie, _ = signatures.new_session()
        response = RedirectResponse(
            next_page, status_code=303, headers={"Cache-Control": "no-store"}
        )
        set_session(response, request, cookie)
        response.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
        return response

    async def sign_out(self, request: Request) -> Response:
        signatures = self._access.signatures
        if signatures is None:
            return self._no_token_login()
        fields = await _form_fields(request) or {}
        session_id = signatures.session_id(request.cookies.get(SESSION_COOKIE))
        if session_id is not None and not signatures.logout_form_valid(
            fields.get("form_token"), session_id
        ):
            return self._pages.message(
                status=403,
                title="Not signed out",
                text="This sign-out form came from elsewhere or is too old: use the page's own.",
            )
        # Signed out (or never signed in: nothing to undo either way).
        response = RedirectResponse(
            LOGIN_PATH, status_code=303, headers={"Cache-Control": "no-store"}
        )
        clear_session(response, request)
        return response

    def _form(
        self,
        request: Request,
        signatures: Signatures,
        *,
        next_page: str,
        status: int = 200,
        problem: str = "",
    ) -> Response:
        nonce = new_nonce()
        response = self._pages.response(
            "login.html.j2",
            chrome=Chrome(),
            status=status,
            form_token=signatures.login_form_token(nonce),
            next_page=next_page,
            problem=problem,
            proxy=self._access.trusted_header,
        )
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            max_age=int(FORM_LIFETIME.total_seconds()),
            path=LOGIN_PATH,
            httponly=True,
            samesite="lax",
            secure=secure_request(request),
        )
        return response

    def _no_token_login(self) -> Response:
        return self._pages.message(
            status=404,
            title="No token sign-in here",
            text=(
                "This web view has no token (WARROOM_WEB_TOKEN): you are signed in by "
                "your company's sign-in proxy. Open it at the proxy's address."
            ),
        )


async def _form_fields(request: Request) -> dict[str, str] | None:
    """A small urlencoded form's fields (the first value of each); None if the body is
    not one."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        parsed = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=20
        )
    except (UnicodeDecodeError, ValueError):
        return None
    return {name: values[0] for name, values in parsed.items() if values}
