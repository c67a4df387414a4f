"""Opening a TCP (or TLS) stream to a host's addresses one after the other, so that the
reason given is the real one (`connection refused`), not asyncio's list of attempts."""

from __future__ import annotations

import asyncio
import socket
import ssl

from bot.diagnostics.checks.errors import describe_error
from bot.diagnostics.checks.probe import CheckFailed

__all__ = ["Stream", "open_stream", "shown_address"]

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter, str]


async def open_stream(
    host: str,
    port: int,
    *,
    context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> Stream:
    """The first address of `host` that answers: reader, writer and `address:port`."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise CheckFailed(describe_error(error, host=host)) from None
    failures: list[tuple[str, str]] = []
    for family, address in dict.fromkeys((info[0], info[4][:2]) for info in infos):
        shown = shown_address(str(address[0]), int(address[1]))
        try:
            reader, writer = await asyncio.open_connection(
                str(address[0]),
                int(address[1]),
                family=family,
                ssl=context,
                server_hostname=server_hostname if context is not None else None,
            )
        except ssl.SSLError as error:
            # The certificate is the same on every address: no use trying the others.
            raise CheckFailed(describe_error(error)) from None
        except OSError as error:
            failures.append((shown, describe_error(error)))
            continue
        return reader, writer, shown
    raise CheckFailed(_why_not(failures))


def shown_address(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _why_not(failures: list[tuple[str, str]]) -> str:
    if not failures:
        return "does not resolve"
    reasons = {reason for _, reason in failures}
    if len(reasons) == 1:
        return reasons.pop()
    return "; ".join(f"{address}: {reason}" for address, reason in failures)
