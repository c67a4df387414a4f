"""One line for what went wrong, read from the exception and the errors behind it.

Libraries wrap the error that matters (`httpx.ConnectError` around an `OSError` around
`ConnectionRefusedError`), so the whole chain is searched for the most telling one.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Callable, Iterator

__all__ = ["describe_error", "does_not_resolve"]

# getaddrinfo's answers for a name that has no address (the others are lookup failures).
_NO_SUCH_NAME = frozenset(
    code
    for code in (
        getattr(socket, "EAI_NONAME", None),
        getattr(socket, "EAI_NODATA", None),
    )
    if code is not None
)


def does_not_resolve(error: socket.gaierror) -> bool:
    return error.errno in _NO_SUCH_NAME


def describe_error(error: BaseException, *, host: str | None = None) -> str:
    """`connection refused`, `certificate verify failed: …`, or `Type: message`."""
    chain = list(_chain(error))
    for describe in _DESCRIBERS:
        for cause in chain:
            reason = describe(cause, host)
            if reason is not None:
                return reason
    message = str(error).strip() or "(no message)"
    return f"{type(error).__name__}: {message}"


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def _certificate(error: BaseException, host: str | None) -> str | None:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {error.verify_message or error.reason}"
    return None


def _refused(error: BaseException, host: str | None) -> str | None:
    return "connection refused" if isinstance(error, ConnectionRefusedError) else None


def _name(error: BaseException, host: str | None) -> str | None:
    if not isinstance(error, socket.gaierror):
        return None
    if does_not_resolve(error):
        return f"{host} does not resolve" if host else "does not resolve"
    why = error.strerror or str(error)
    return f"looking up {host} failed: {why}" if host else f"name lookup failed: {why}"


def _tls(error: BaseException, host: str | None) -> str | None:
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error.reason or error.strerror or error}"
    return None


def _timeout(error: BaseException, host: str | None) -> str | None:
    return "timed out" if isinstance(error, TimeoutError) else None


def _os_error(error: BaseException, host: str | None) -> str | None:
    if not isinstance(error, OSError) or error.errno is None:
        return None
    if error.errno == errno.ECONNRESET:
        return "connection reset"
    strerror = error.strerror or errno.errorcode.get(error.errno, str(error.errno))
    return strerror[:1].lower() + strerror[1:]


_DESCRIBERS: tuple[Callable[[BaseException, str | None], str | None], ...] = (
    _certificate,
    _refused,
    _name,
    _tls,
    _timeout,
    _os_error,
)
