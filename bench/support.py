"""What the benchmarks share: free ports, the fake Slack in a process of its own,
`warroom serve` started and waited for, a scratch database, percentiles. Plain scripts
need no pytest fixtures, so nothing here imports the test suite's conftest files."""

from __future__ import annotations

import gc
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

FAKE_SLACK_PROCESS = """
import json, sys
from pathlib import Path
from tests.support.fake_slack import FakeSlack
with FakeSlack(Path(sys.argv[1]), validate=False) as fake:
    fake.add_channel("incidents", channel_id="C0ANNOUNCE")
    print(json.dumps({"api_url": fake.api_url, "base_url": fake.base_url}), flush=True)
    sys.stdin.read()  # serve until the benchmark closes our stdin
    channels = sum(1 for c in fake.channels.values() if c.name.startswith("inc-"))
    pinned = sum(1 for c in fake.channels.values() if c.name.startswith("inc-") and c.pins)
    summary = {"channels": channels, "pinned": pinned, "violations": fake.violations}
    if "--calls" in sys.argv:
        summary["calls"] = [
            [c.method, str(c.args.get("channel", "")), c.received_at, c.status,
             bool(c.response.get("ok")), str(c.response.get("error", ""))]
            for c in fake.calls
        ]
    print(json.dumps(summary))
"""


@dataclass(frozen=True)
class SlackCallRecord:
    """One Web API call the fake Slack answered, as `FakeSlackProcess(calls=True)` lists it."""

    method: str
    channel: str  # the `channel` argument, "" if none
    received_at: float  # time.monotonic() in the fake's process: CLOCK_MONOTONIC on Linux
    status: int  # HTTP status; 0 if never answered
    ok: bool
    error: str

    @classmethod
    def parse(cls, row: list[Any]) -> SlackCallRecord:
        method, channel, at, status, ok, error = row
        return cls(str(method), str(channel), float(at), int(status), bool(ok), str(error))

    @classmethod
    def taken_from(cls, summary: dict[str, object]) -> list[SlackCallRecord]:
        """The calls of a `finish()` summary, removed from it (they are long)."""
        rows = summary.pop("calls", None)
        if not isinstance(rows, list):
            raise ValueError("the fake Slack listed no calls: start it with calls=True")
        return [cls.parse(row) for row in rows]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeSlackProcess:
    """The fake Slack in a process of its own, so it takes no CPU from the measured one."""

    def __init__(self, specs: Path, env: dict[str, str], *, calls: bool = False) -> None:
        """`calls`: what `finish()` returns also lists every Web API call under "calls",
        one row each for `SlackCallRecord.parse`."""
        if not specs.is_dir():
            raise SystemExit(f"the fake Slack needs the Slack specs at {specs} (see --specs)")
        self.process = subprocess.Popen(
            [sys.executable, "-c", FAKE_SLACK_PROCESS, str(specs), *(["--calls"] if calls else [])],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        urls = json.loads(self.process.stdout.readline())
        self.api_url: str = urls["api_url"]
        self.base_url: str = urls["base_url"]

    def finish(self) -> dict[str, object]:
        """Stop it; returns what it saw (incident channels, pinned cards, violations)."""
        out, _ = self.process.communicate(timeout=30)
        return dict(json.loads(out.strip().splitlines()[-1]))


def start_server(
    command: list[str], env: dict[str, str], port: int, log: Path
) -> subprocess.Popen[bytes]:
    """Start a server and return once its /readyz answers 200."""
    process = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{command} did not start; see {log}")


def percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank percentile `q` (0-100) of an already sorted, non-empty list."""
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@contextmanager
def collector_paused() -> Iterator[None]:
    """The load generator's own garbage collection pauses are not the server's latency:
    collect before a phase and not during it."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def scratch_database(server_url: str | None, workdir: Path) -> Iterator[str]:
    """SQLite in `workdir`, or a migrated scratch database on the Postgres server given
    (its own database is used only to create and afterwards drop the scratch one)."""
    if server_url is None:
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from bot.storage.database import upgrade_database

    name = f"warroom_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
