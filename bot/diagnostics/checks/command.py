"""command: run a program the policy names, never through a shell, and read its exit code.

The program gets a clean environment (a few harmless variables of warroom's plus the
check's `env`), never warroom's own secrets. It runs in a session of its own so that the
whole process group can be killed: on a timeout, and once it has ended (whatever it left
running would hold its output open). Its output is taken as it comes, however long, so
it never blocks on a full pipe; only the start is kept.

The process is watched through a protocol rather than `asyncio.subprocess.Process`,
whose `wait()` (Python 3.11) only returns once the output is closed too: a child left
running in the background would hold the check until its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess

from bot.diagnostics.checks.probe import CheckFailed, Probe, Verdict
from bot.diagnostics.results import MAX_OUTPUT_BYTES, CheckOutcome
from bot.policy.diagnostics import CommandCheck

__all__ = ["PASSED_ON", "run"]

# What a program may take from warroom's environment: nothing that could be a secret.
PASSED_ON = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
# Redaction can shorten the output, so more than the output's bound is kept for it.
_KEPT_BYTES = 2 * MAX_OUTPUT_BYTES
# How long the program may take to go once killed, and its output to close after it
# ended (a child that left the group can hold it open; it is not waited for then).
_SETTLE_SECONDS = 1.0


class _Watcher(asyncio.SubprocessProtocol):
    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.output_closed: asyncio.Future[None] = loop.create_future()
        self._kept = bytearray()
        self.total = 0

    @property
    def cut(self) -> bool:
        return self.total > len(self._kept)

    def text(self) -> str:
        return self._kept.decode("utf-8", errors="replace")

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.total += len(data)
        room = _KEPT_BYTES - len(self._kept)
        if room > 0:
            self._kept += data[:room]

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        _settle(self.output_closed)

    def process_exited(self) -> None:
        _settle(self.exited)


async def run(check: CommandCheck, probe: Probe) -> Verdict:
    environment = _environment(check, probe)
    program = check.argv[0]
    probe.note(f"$ {shlex.join(check.argv)}")
    loop = asyncio.get_running_loop()
    try:
        transport, watcher = await loop.subprocess_exec(
            _Watcher,
            *check.argv,
            cwd=check.cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError as error:
        # The name of what is missing tells the program from its working directory.
        if check.cwd is not None and error.filename == check.cwd:
            raise CheckFailed(f"working directory not found: {check.cwd}") from None
        raise CheckFailed(f"command not found: {program}") from None
    except PermissionError:
        raise CheckFailed(f"permission denied: {program}") from None
    except OSError as error:
        raise CheckFailed(f"cannot run {program}: {error.strerror or error}") from None
    try:
        # Shielded: a timeout must not cancel the future that says the program is gone.
        await asyncio.shield(watcher.exited)
    finally:
        # On a timeout: the program and its children. After it ended: what it left running.
        _kill_group(transport.get_pid())
        await asyncio.wait({watcher.exited}, timeout=_SETTLE_SECONDS)
        await asyncio.wait({watcher.output_closed}, timeout=_SETTLE_SECONDS)
        if not watcher.output_closed.done():
            probe.note("the output was still open after the program ended: stopped reading it")
        transport.close()
        probe.keep_output(watcher.text(), cut=watcher.cut)
    probe.note(f"{watcher.total} bytes of output")
    code = transport.get_returncode()
    if code is None:
        raise CheckFailed("the program did not end")
    return _verdict(check, code)


def _environment(check: CommandCheck, probe: Probe) -> dict[str, str]:
    environment = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
    environment.setdefault("PATH", os.defpath)
    environment.update({name: probe.resolve(value) for name, value in check.env.items()})
    return environment


def _kill_group(group: int) -> None:
    # Nothing of the group may be left, which is no error.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _verdict(check: CommandCheck, code: int) -> Verdict:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return Verdict(CheckOutcome.FAILED, f"killed by {name}")
    if code == check.expect_exit:
        return Verdict(CheckOutcome.PASSED, f"exit {code}")
    expected = f" (expected {check.expect_exit})" if check.expect_exit != 0 else ""
    return Verdict(CheckOutcome.FAILED, f"exit {code}{expected}")
