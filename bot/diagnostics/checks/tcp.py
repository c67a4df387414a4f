"""tcp: can a connection be opened to host:port?"""

from __future__ import annotations

import contextlib
import time

from bot.diagnostics.checks.connect import open_stream
from bot.diagnostics.checks.probe import Probe, Verdict
from bot.diagnostics.results import CheckOutcome
from bot.policy.diagnostics import TcpCheck

__all__ = ["run"]


async def run(check: TcpCheck, probe: Probe) -> Verdict:
    started = time.perf_counter()
    _, writer, address = await open_stream(check.host, check.port)
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    probe.note(f"connected to {address}")
    return Verdict(CheckOutcome.PASSED, f"connected in {elapsed_ms} ms")
