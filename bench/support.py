"""What the benchmarks share: free ports, the fake Slack in a process of its own,
`warroom serve` started and waited for, percentiles. Plain scripts need no pytest
fixtures, so nothing here imports the test suite's conftest files."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

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
    print(json.dumps({"channels": channels, "pinned": pinned, "violations": fake.violations}))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeSlackProcess:
    """The fake Slack in a process of its own, so it takes no CPU from the measured one."""

    def __init__(self, specs: Path, env: dict[str, str]) -> None:
        if not specs.is_dir():
            raise SystemExit(f"the fake Slack needs the Slack specs at {specs} (see --specs)")
        self.process = subprocess.Popen(
            [sys.executable, "-c", FAKE_SLACK_PROCESS, str(specs)],
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
