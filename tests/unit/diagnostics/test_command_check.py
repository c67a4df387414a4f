"""The command check running real programs: exit codes, output, secrets, timeouts, and
the process group left behind (there must be none)."""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.diagnostics.checks import run_check
from bot.diagnostics.results import MAX_OUTPUT_BYTES, CheckOutcome
from tests.unit.diagnostics.helpers import make_check, texts


def command(*argv: str, **fields: Any) -> Any:
    return make_check(type="command", argv=argv, **fields)


def running_in_group(group: int) -> list[int]:
    """The live (not zombie) processes of process group `group`."""
    live = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp …: comm may hold spaces, so read after its ")".
        state, _, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == group and state != "Z":
            live.append(int(entry.name))
    return live


def still_running_in_group(group: int, *, within: float) -> list[int]:
    """The group's live processes once they are gone or `within` seconds have passed: a
    killed process closes its output a moment before the kernel marks it dead."""
    deadline = time.monotonic() + within
    while (live := running_in_group(group)) and time.monotonic() < deadline:
        time.sleep(0.005)
    return live


async def test_a_command_that_succeeds() -> None:
    result = await run_check(command("echo", "hello"), environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.PASSED, "exit 0")
    assert result.output == "hello\n"
    assert result.details == ("$ echo hello", "6 bytes of output")


async def test_a_non_zero_exit_fails_with_stderr_in_the_output() -> None:
    result = await run_check(command("sh", "-c", "echo out; echo broken >&2; exit 3"), environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "exit 3")
    assert result.output == "out\nbroken\n"


async def test_the_exit_code_expected() -> None:
    assert (await run_check(command("false", expect_exit=1), environ={})).outcome is (
        CheckOutcome.PASSED
    )
    result = await run_check(command("true", expect_exit=1), environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "exit 0 (expected 1)")


async def test_a_command_killed_by_a_signal() -> None:
    result = await run_check(command("sh", "-c", "kill -TERM $$"), environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "killed by SIGTERM")


async def test_a_missing_executable() -> None:
    result = await run_check(command("no-such-program-here", "ps"), environ={})
    assert (result.outcome, result.summary) == (
        CheckOutcome.FAILED,
        "command not found: no-such-program-here",
    )


async def test_the_working_directory(tmp_path: Path) -> None:
    result = await run_check(command("pwd", cwd=str(tmp_path)), environ={})
    assert result.output == f"{tmp_path}\n"
    missing = str(tmp_path / "gone")
    result = await run_check(command("pwd", cwd=missing), environ={})
    assert result.summary == f"working directory not found: {missing}"


async def test_secret_looking_output_is_redacted() -> None:
    script = (
        "echo password=hunter2; echo token: xoxb-1234567890-abcdefghij; "
        "echo key AKIAIOSFODNN7EXAMPLE; echo fine"
    )
    result = await run_check(command("sh", "-c", script), environ={})
    assert result.output == ("password=[redacted]\ntoken: [redacted]\nkey [redacted]\nfine\n")
    for secret in ("hunter2", "xoxb-", "AKIAIOSFODNN7EXAMPLE"):
        assert secret not in texts(result)


async def test_the_environment_is_clean_plus_the_checks_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WARROOM_SLACK_BOT_TOKEN", "xoxb-not-for-children")
    monkeypatch.setenv("TZ", "UTC")
    check = command(
        "env", env={"KUBECONFIG": "/etc/kube", "DIAG_TOKEN": {"env": "WARROOM_DIAG_TOKEN"}}
    )
    result = await run_check(check, environ={"WARROOM_DIAG_TOKEN": "diag-s3cr3t-value"})
    names = {line.split("=", 1)[0] for line in result.output.splitlines()}
    assert names <= {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "KUBECONFIG", "DIAG_TOKEN"}
    assert {"PATH", "TZ", "KUBECONFIG", "DIAG_TOKEN"} <= names
    assert "DIAG_TOKEN=[redacted]" in result.output.splitlines()
    assert "diag-s3cr3t-value" not in texts(result)
    assert "xoxb-not-for-children" not in result.output


async def test_a_missing_environment_variable_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    check = command("touch", str(marker), env={"TOKEN": {"env": "WARROOM_DIAG_TOKEN"}})
    result = await run_check(check, environ={})
    assert (result.outcome, result.summary) == (
        CheckOutcome.FAILED,
        "$WARROOM_DIAG_TOKEN is not set",
    )
    assert not marker.exists()


async def test_a_hanging_command_is_killed_on_time() -> None:
    check = command("sleep", "30", timeout=timedelta(milliseconds=300))
    started = time.perf_counter()
    result = await run_check(check, environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.FAILED, "timed out after 0.3s")
    assert time.perf_counter() - started < 1.5


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
async def test_a_timeout_kills_the_whole_process_group() -> None:
    script = "echo group $$; sleep 30 & sleep 30"
    check = command("sh", "-c", script, timeout=timedelta(milliseconds=500))
    result = await run_check(check, environ={})
    assert result.summary == "timed out after 0.5s"
    # What it wrote before it was killed is kept.
    first_line = result.output.splitlines()[0]
    assert first_line.startswith("group ")
    group = int(first_line.split()[1])
    assert still_running_in_group(group, within=2.0) == []


async def test_what_a_command_leaves_running_does_not_hold_the_check() -> None:
    check = command("sh", "-c", "sleep 30 & echo done", timeout=timedelta(seconds=5))
    started = time.perf_counter()
    result = await run_check(check, environ={})
    assert (result.outcome, result.output) == (CheckOutcome.PASSED, "done\n")
    assert time.perf_counter() - started < 2


async def test_stdin_is_empty() -> None:
    result = await run_check(command("cat", timeout=timedelta(seconds=2)), environ={})
    assert (result.outcome, result.output) == (CheckOutcome.PASSED, "")


async def test_big_output_is_read_to_the_end_and_capped() -> None:
    script = "import sys\nfor n in range(200_000): sys.stdout.write(f'line {n}\\n')"
    result = await run_check(command(sys.executable, "-c", script), environ={})
    assert (result.outcome, result.summary) == (CheckOutcome.PASSED, "exit 0")
    size = len(result.output.encode())
    assert MAX_OUTPUT_BYTES - 100 < size <= MAX_OUTPUT_BYTES
    assert result.output.startswith("line 0\nline 1\n")
    assert result.output.endswith("\n… (truncated)")
    total = sum(len(f"line {n}\n") for n in range(200_000))
    assert f"{total} bytes of output" in result.details


async def test_output_cut_inside_a_character_stays_valid_utf8() -> None:
    script = "import sys\nsys.stdout.write('é' * 10_000)"
    result = await run_check(command(sys.executable, "-c", script), environ={})
    assert len(result.output.encode()) <= MAX_OUTPUT_BYTES
    assert set(result.output.removesuffix("\n… (truncated)")) == {"é"}


def test_the_group_reader_reads_this_process() -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("reads /proc (Linux)")
    assert os.getpid() in running_in_group(os.getpgid(0))
