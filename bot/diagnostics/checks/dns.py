"""dns: does a name resolve, and to one of the addresses expected?"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from bot.diagnostics.checks.errors import does_not_resolve
from bot.diagnostics.checks.probe import CheckFailed, Probe, Verdict
from bot.diagnostics.results import CheckOutcome
from bot.policy.diagnostics import DnsCheck

__all__ = ["run"]

# Addresses named in the summary; the details list them all.
_SHOWN = 3


async def run(check: DnsCheck, probe: Probe) -> Verdict:
    loop = asyncio.get_running_loop()
    try:
        # One socket type, or each address comes back once per type.
        infos = await loop.getaddrinfo(check.host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        if does_not_resolve(error):
            raise CheckFailed("does not resolve") from None
        raise CheckFailed(f"lookup failed: {error.strerror or error}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise CheckFailed("does not resolve")
    for address in addresses:
        probe.note(f"{check.host} → {address}")
    found = _listed(addresses)
    expected = check.addresses()
    if expected:
        wanted = {_normal(address) for address in expected}
        if not wanted.intersection(_normal(address) for address in addresses):
            return Verdict(
                CheckOutcome.FAILED, f"resolves to {found}, expected {', '.join(expected)}"
            )
    return Verdict(CheckOutcome.PASSED, f"resolves to {found}")


def _listed(addresses: list[str]) -> str:
    shown = ", ".join(addresses[:_SHOWN])
    more = len(addresses) - _SHOWN
    return f"{shown} (+{more} more)" if more > 0 else shown


def _normal(address: str) -> str:
    """The one spelling of an address (`::1` and `0:0::1` are the same)."""
    try:
        return ipaddress.ip_address(address).compressed
    except ValueError:
        return address.lower()
