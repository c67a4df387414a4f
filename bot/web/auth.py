"""Who may look, and as whom: the web view's access rules.

- An authenticating proxy's header (WARROOM_WEB_TRUSTED_HEADER, e.g. oauth2-proxy's
  X-Forwarded-Email) names the viewer; their email is matched to a chat user, whose
  private incidents they then see. warroom trusts the header as it comes: only the
  proxy may reach it.
- Otherwise the web token (WARROOM_WEB_TOKEN): sent as `Authorization: Bearer …`, or
  typed once at /web/login, which sets a signed session cookie. A token viewer is nobody
  in particular and sees no private incident.
- Anything else is refused: a 401 for a request that is not a browser's page load (or
  that sent a wrong bearer token), a redirect to the login form for a browser.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from bot.clock import Clock
from bot.web.pages import Chrome, WebPages
from bot.web.people import MAX_EMAIL_LENGTH, PeopleByEmail, normalized_email
from bot.web.sessions import SESSION_LIFETIME, Signatures, token_matches
from bot.web.viewers import SignedIn, Viewer

SESSION_COOKIE = "warroom_web_session"
COOKIE_PATH = "/web"
LOGIN_PATH = "/web/login"
HOME_PATH = "/web/"
MAX_NEXT_LENGTH = 2000


class WebAccess:
    def __init__(
        self,
        *,
        token: str | None,
        trusted_header: str | None,
        people: PeopleByEmail,
        pages: WebPages,
        clock: Clock,
    ) -> None:
        self.token = token
        self.trusted_header = trusted_header
        self.signatures = Signatures(token=token, clock=clock) if token else None
        self._people = people
        self._pages = pages

    @property
    def enabled(self) -> bool:
        return self.token is not None or self.trusted_header is not None

    async def viewer(self, request: Request) -> Viewer | Response:
        """The viewer this request comes from, or the answer that refuses it."""
        if self.trusted_header is not None:
            named = (request.headers.get(self.trusted_header) or "").strip()
            if named:
                email = normalized_email(named)
                user = await self._people.user_of(email) if email else None
                return Viewer(SignedIn.PROXY, user_id=user, email=email or named[:MAX_EMAIL_LENGTH])
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, offered = authorization.partition(" ")
            if (
                scheme.lower() == "bearer"
                and self.token
                and token_matches(offered.strip(), self.token)
            ):
                return Viewer(SignedIn.TOKEN)
            # A wrong token is said to be wrong, to whoever sent it: no redirect to a form.
            return _unauthorized("the bearer token is not the web token")
        cookie = request.cookies.get(SESSION_COOKIE)
        if self.signatures is not None and cookie:
            session_id = self.signatures.session_id(cookie)
            if session_id is not None:
                return Viewer(SignedIn.TOKEN, session_id=session_id)
        refusal = self._refusal(request)
        if cookie:  # expired, tampered with, or signed with an earlier token: dropped
            clear_session(refusal, request)
        return refusal

    def chrome(self, viewer: Viewer, current: str) -> Chrome:
        logout = (
            self.signatures.logout_form_token(viewer.session_id)
            if self.signatures is not None and viewer.session_id
            else None
        )
        return Chrome(current=current, viewer_line=viewer.describe, logout_token=logout)

    def _refusal(self, request: Request) -> Response:
        if not wants_page(request):
            return _unauthorized("sign in: send the web token as Authorization: Bearer")
        if self.token is not None:
            wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(
                f"{LOGIN_PATH}?next={quote(wanted, safe='')}",
                status_code=303,
                headers={"Cache-Control": "no-store"},
            )
        return self._pages.message(
            status=401,
            title="Sign in first",
            text=(
                "This web view is reached through your company's sign-in proxy, which "
                "tells warroom who you are. Open it at the proxy's address."
            ),
        )


def wants_page(request: Request) -> bool:
    """A browser loading a page (it asks for HTML), rather than a script or a probe."""
    return "text/html" in request.headers.get("accept", "")


def secure_request(request: Request) -> bool:
    # Behind a proxy that ends TLS, uvicorn reads the scheme from X-Forwarded-Proto (from
    # the addresses it trusts: --forwarded-allow-ips).
    return request.url.scheme == "https"


def set_session(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_request(request),
    )


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_request(request),
    )


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a page of the web view, never another site."""
    if not value or len(value) > MAX_NEXT_LENGTH or "\\" in value:
        return HOME_PATH
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return HOME_PATH
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith(COOKIE_PATH + "/"):
        return HOME_PATH
    if value.startswith(LOGIN_PATH):
        return HOME_PATH
    return value


def _unauthorized(detail: str) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error": "unauthorized", "detail": detail},
        status_code=401,
        headers={
            "WWW-Authenticate": 'Bearer realm="warroom web view"',
            "Cache-Control": "no-store",
        },
    )
