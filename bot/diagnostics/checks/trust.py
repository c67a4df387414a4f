"""The certificates checks trust: the system's store, or the CA bundle a check names.

Loading a bundle takes tens of milliseconds, too long for the event loop: a context is
built once per bundle on a worker thread and shared by every check after it (an
`SSLContext` may serve many connections at once).
"""

from __future__ import annotations

import asyncio
import os
import ssl

from bot.diagnostics.checks.probe import CheckFailed

__all__ = ["verifying_context"]

# (ca_file, SSL_CERT_FILE, SSL_CERT_DIR): the system store follows those two variables.
_Key = tuple[str | None, str | None, str | None]
_contexts: dict[_Key, ssl.SSLContext] = {}
# Bundles come from the policy, so there are few; the bound only guards against surprises.
_MAX_CONTEXTS = 32


async def verifying_context(ca_file: str | None) -> ssl.SSLContext:
    """A context that verifies the peer's chain and name against `ca_file`, or against the
    system's store (honouring SSL_CERT_FILE and SSL_CERT_DIR) when it is None."""
    key = (ca_file, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    context = _contexts.get(key)
    if context is None:
        try:
            context = await asyncio.to_thread(_build, ca_file)
        except (OSError, ssl.SSLError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            what = f"ca_file {ca_file}" if ca_file else "the system's certificates"
            raise CheckFailed(f"cannot load {what}: {reason}") from None
        if len(_contexts) >= _MAX_CONTEXTS:
            _contexts.clear()
        context = _contexts.setdefault(key, context)
    return context


def _build(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)
