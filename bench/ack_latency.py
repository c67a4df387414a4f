"""How fast is `/incident` acknowledged? warroom against a bare Bolt app, same stack.

Starts a fake Slack, then `warroom serve` (SQLite in a temporary directory) and the bare
app of bench/bare_app.py, each in its own process. Sends each the same signed slash
commands at a fixed concurrency: N `/incident help`, then M `/incident declare sev3 …`
(the bare app acks those too, doing nothing). Prints p50 / p95 / p99 / max latency per
app and phase, the p99 ratio, and whether the targets hold (warroom's p99 within 1.5x the
bare app's; no ack slower than 300 ms).

    .venv/bin/python bench/ack_latency.py [--help-requests 2000] [--declares 200] [--concurrency 32]

Needs the Slack specs beside the project (../shared/specs/slack) for the fake Slack.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import free_port, slack_signature  # noqa: E402

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
TARGET_RATIO = 1.5
TARGET_MAX_MS = 300.0


@dataclass
class Figures:
    name: str
    latencies_ms: list[float]
    errors: int

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    def line(self) -> str:
        return (
            f"{self.name:<28} n={len(self.latencies_ms):>5}  p50={self.pct(50):7.2f} ms  "
            f"p95={self.pct(95):7.2f} ms  p99={self.pct(99):7.2f} ms  "
            f"max={max(self.latencies_ms):7.2f} ms  mean={statistics.fmean(self.latencies_ms):6.2f}"
            f"  errors={self.errors}"
        )


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


class FakeSlackProcess:
    """The fake Slack in a process of its own, so it takes no CPU from the load generator."""

    def __init__(self, specs: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", FAKE_SLACK_PROCESS, str(specs)],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        urls = json.loads(self.process.stdout.readline())
        self.api_url: str = urls["api_url"]
        self.base_url: str = urls["base_url"]

    def response_url(self, i: int) -> str:
        return f"{self.base_url}/respond/bench-{i}"

    def finish(self) -> dict[str, object]:
        out, _ = self.process.communicate(timeout=30)
        return dict(json.loads(out.strip().splitlines()[-1]))


def command_body(text: str, fake: FakeSlackProcess, i: int) -> bytes:
    return urllib.parse.urlencode(
        {
            "team_id": "T0WARROOM",
            "channel_id": "C0GENERAL",
            "user_id": f"U0BENCH{i % 50:03d}",
            "user_name": "bench",
            "command": "/incident",
            "text": text,
            "api_app_id": "A0WARROOM",
            "response_url": fake.response_url(i),
            "trigger_id": f"{i}.bench",
        }
    ).encode()


def signed_request(port: int, body: bytes) -> bytes:
    """A complete HTTP/1.1 request, signed now (valid for Slack's five minutes)."""
    stamp = str(int(time.time()))
    head = (
        "POST /slack/events HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Slack-Request-Timestamp: {stamp}\r\n"
        f"X-Slack-Signature: {slack_signature(SECRET, stamp, body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def fire(port: int, bodies: list[bytes], concurrency: int, name: str) -> Figures:
    """Send every request, `concurrency` at a time over keep-alive connections.

    A hand-rolled client: a general one (httpx) spends more CPU per request than the
    server under test, and on two cores that would be measured as server latency.
    """
    requests = [signed_request(port, body) for body in bodies]
    latencies: list[float] = []
    errors = 0

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while requests:
                request = requests.pop()
                started = time.perf_counter()
                writer.write(request)
                status = await read_response(reader)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += status != 200
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return Figures(name, latencies, errors)


def start(cmd: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{cmd} did not start; see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--help-requests", type=int, default=2000)
    parser.add_argument("--declares", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--specs", type=Path, default=ROOT.parent / "shared" / "specs" / "slack")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="warroom-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WARROOM_"))}
    env["PYTHONPATH"] = str(ROOT)
    fake = FakeSlackProcess(args.specs, env)
    env.update(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        WARROOM_SLACK_API_URL=fake.api_url,
        WARROOM_DATABASE_URL=f"sqlite:///{workdir / 'bench.db'}",
        WARROOM_ANNOUNCE_CHANNEL="C0ANNOUNCE",
        WARROOM_LOG_LEVEL="WARNING",
    )
    warroom_port, bare_port = free_port(), free_port()
    warroom = start(
        [sys.executable, "-m", "bot", "serve", "--port", str(warroom_port)],
        env, warroom_port, workdir / "warroom.log",
    )  # fmt: skip
    bare = start(
        [sys.executable, str(ROOT / "bench" / "bare_app.py"), str(bare_port)],
        env, bare_port, workdir / "bare.log",
    )  # fmt: skip
    try:
        results = asyncio.run(run(args, fake, warroom_port, bare_port))
        settled = wait_for_deliveries(warroom_port)
    finally:
        for process in (warroom, bare):
            process.terminate()
            process.wait(timeout=10)
        summary = fake.finish()
    print(
        f"\nfake Slack: {summary['channels']} incident channels opened, {summary['pinned']} "
        f"with a pinned card ({'all' if settled else 'NOT all'} deliveries done); "
        f"violations: {summary['violations'] or 'none'}"
    )
    report(results, args)


def wait_for_deliveries(port: int, timeout: float = 120) -> bool:
    """Let warroom finish the channels it owes, so the run ends with nothing pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"http://127.0.0.1:{port}/readyz").json()["pending_deliveries"] == 0:
            return True
        time.sleep(0.5)
    return False


async def run(
    args: argparse.Namespace, fake: FakeSlackProcess, warroom_port: int, bare_port: int
) -> dict[str, Figures]:
    ports = {"warroom": warroom_port, "bare": bare_port}
    helps = [command_body("help", fake, i) for i in range(args.help_requests)]
    declares = [
        command_body(f"declare sev3 Bench outage {i}", fake, i) for i in range(args.declares)
    ]
    results: dict[str, Figures] = {}
    for port in ports.values():  # warm-up: imports, first auth.test, connection pools
        await fire(port, helps[:100], args.concurrency, "warm-up")
    for app, port in ports.items():
        results[f"{app} help"] = await fire(port, helps, args.concurrency, f"{app} /incident help")
    for app, port in ports.items():
        name = f"{app} /incident declare"
        results[f"{app} declare"] = await fire(port, declares, args.concurrency, name)
    return results


def report(results: dict[str, Figures], args: argparse.Namespace) -> None:
    print(f"\nack latency at concurrency {args.concurrency}, {os.cpu_count()} cores")
    for app in ("warroom", "bare"):  # every ack of the run, help and declare together
        both = [results[f"{app} help"], results[f"{app} declare"]]
        results[f"{app} all"] = Figures(
            f"{app} all acks",
            [ms for f in both for ms in f.latencies_ms],
            sum(f.errors for f in both),
        )
    for figures in results.values():
        print(figures.line())
    ok = True
    for phase in ("help", "declare", "all"):
        ratio = results[f"warroom {phase}"].pct(99) / results[f"bare {phase}"].pct(99)
        print(f"p99 ratio warroom/bare ({phase}): {ratio:.2f} (target <= {TARGET_RATIO})")
        ok &= ratio <= TARGET_RATIO
    slowest = max(results["warroom all"].latencies_ms)
    print(f"slowest warroom ack: {slowest:.1f} ms (target <= {TARGET_MAX_MS:.0f} ms)")
    ok &= slowest <= TARGET_MAX_MS
    print("targets met" if ok else "targets NOT met")


if __name__ == "__main__":
    main()
