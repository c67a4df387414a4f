"""tls: does the server's certificate verify, and for how many more days?"""

from __future__ import annotations

import math
import ssl
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.diagnostics.checks.connect import open_stream
from bot.diagnostics.checks.probe import CheckFailed, Probe, Verdict
from bot.diagnostics.checks.trust import verifying_context
from bot.diagnostics.results import CheckOutcome
from bot.policy.diagnostics import TlsCheck

__all__ = ["run"]

_SHORT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
}


async def run(check: TlsCheck, probe: Probe) -> Verdict:
    context = await verifying_context(check.ca_file)
    name = check.server_name or check.host
    _, writer, address = await open_stream(
        check.host, check.port, context=context, server_hostname=name
    )
    try:
        certificate: dict[str, Any] | None = writer.get_extra_info("peercert")
        ssl_object: ssl.SSLObject | None = writer.get_extra_info("ssl_object")
    finally:
        # Only the handshake was wanted; waiting for the server's close_notify could hang.
        writer.transport.abort()
    if not certificate or "notAfter" not in certificate:
        raise CheckFailed("the server sent no certificate")
    probe.note(f"connected to {address} as {name}")
    if ssl_object is not None:
        cipher = ssl_object.cipher()
        probe.note(f"{ssl_object.version()}{f', {cipher[0]}' if cipher else ''}")
    _note_certificate(probe, certificate)
    not_after = datetime.fromtimestamp(ssl.cert_time_to_seconds(certificate["notAfter"]), UTC)
    return _verdict(check, not_after, now=datetime.now(UTC))


def _verdict(check: TlsCheck, not_after: datetime, *, now: datetime) -> Verdict:
    days = math.floor((not_after - now) / timedelta(days=1))
    valid = f"certificate valid for {days} day{'' if days == 1 else 's'}"
    until = not_after.date().isoformat()
    if days < check.fail_days:
        return Verdict(
            CheckOutcome.FAILED, f"{valid} (until {until}, fail below {check.fail_days})"
        )
    if days < check.warn_days:
        return Verdict(
            CheckOutcome.WARNED, f"{valid} (until {until}, warn below {check.warn_days})"
        )
    return Verdict(CheckOutcome.PASSED, f"{valid} (until {until})")


def _note_certificate(probe: Probe, certificate: dict[str, Any]) -> None:
    probe.note(f"subject: {_distinguished_name(certificate.get('subject', ()))}")
    probe.note(f"issuer: {_distinguished_name(certificate.get('issuer', ()))}")
    names = [
        value
        for kind, value in certificate.get("subjectAltName", ())
        if kind in ("DNS", "IP Address")
    ]
    if names:
        probe.note(f"names: {', '.join(names)}")
    if "notBefore" in certificate:
        probe.note(f"not before: {certificate['notBefore']}")
    probe.note(f"not after: {certificate['notAfter']}")


def _distinguished_name(rdns: tuple[tuple[tuple[str, str], ...], ...]) -> str:
    parts = [f"{_SHORT_NAMES.get(key, key)}={value}" for rdn in rdns for key, value in rdn]
    return ", ".join(parts) or "(empty)"
