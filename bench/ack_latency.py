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
from tests.support.fake_slack import FakeSlack  # noqa: E402

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


def command_body(text: str, fake: FakeSlack, i: int) -> bytes:
    return urllib.parse.urlencode(
        {
            "team_id": "T0WARROOM",
            "channel_id": "C0GENERAL",
            "user_id": f"U0BENCH{i % 50:03d}",
            "user_name": "bench",
            "command": "/incident",
            "text": text,
            "api_app_id": "A0WARROOM",
            "response_url": fake.response_url(),
            "trigger_id": f"{i}.bench",
        }
    ).encode()


async def fire(url: str, bodies: list[bytes], concurrency: int, name: str) -> Figures:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                body = queue.get_nowait()
                stamp = str(int(time.time()))
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Slack-Request-Timestamp": stamp,
                    "X-Slack-Signature": slack_signature(SECRET, stamp, body),
                }
                started = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
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
    with FakeSlack(args.specs) as fake:
        fake.add_channel("incidents", channel_id="C0ANNOUNCE")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WARROOM_"))}
        env.update(
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            WARROOM_SLACK_API_URL=fake.api_url,
            WARROOM_DATABASE_URL=f"sqlite:///{workdir / 'bench.db'}",
            WARROOM_ANNOUNCE_CHANNEL="C0ANNOUNCE",
            WARROOM_LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
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
        finally:
            for process in (warroom, bare):
                process.terminate()
                process.wait(timeout=10)
        channels = sum(1 for c in fake.channels.values() if c.name.startswith("inc-"))
        print(
            f"\nfake Slack: {channels} incident channels opened, {len(fake.violations)} violations"
        )
    report(results, args)


async def run(
    args: argparse.Namespace, fake: FakeSlack, warroom_port: int, bare_port: int
) -> dict[str, Figures]:
    urls = {
        "warroom": f"http://127.0.0.1:{warroom_port}/slack/events",
        "bare": f"http://127.0.0.1:{bare_port}/slack/events",
    }
    helps = [command_body("help", fake, i) for i in range(args.help_requests)]
    declares = [
        command_body(f"declare sev3 Bench outage {i}", fake, i) for i in range(args.declares)
    ]
    results: dict[str, Figures] = {}
    for url in urls.values():  # warm-up: imports, first auth.test, connection pools
        await fire(url, helps[:100], args.concurrency, "warm-up")
    for app, url in urls.items():
        results[f"{app} help"] = await fire(url, helps, args.concurrency, f"{app} /incident help")
    for app, url in urls.items():
        results[f"{app} declare"] = await fire(
            url, declares, args.concurrency, f"{app} /incident declare"
        )
    return results


def report(results: dict[str, Figures], args: argparse.Namespace) -> None:
    print(f"\nack latency at concurrency {args.concurrency}, {os.cpu_count()} cores")
    for figures in results.values():
        print(figures.line())
    ok = True
    for phase in ("help", "declare"):
        ratio = results[f"warroom {phase}"].pct(99) / results[f"bare {phase}"].pct(99)
        print(f"p99 ratio warroom/bare ({phase}): {ratio:.2f} (target <= {TARGET_RATIO})")
        ok &= ratio <= TARGET_RATIO
    slowest = max(max(f.latencies_ms) for k, f in results.items() if k.startswith("warroom"))
    print(f"slowest warroom ack: {slowest:.1f} ms (target <= {TARGET_MAX_MS:.0f} ms)")
    ok &= slowest <= TARGET_MAX_MS
    print("targets met" if ok else "targets NOT met")


if __name__ == "__main__":
    main()
