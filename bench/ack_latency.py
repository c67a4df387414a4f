"""How fast is `/incident` acknowledged, and how soon is the card in the new channel?

Starts a fake Slack (bench/stamped_slack.py), then `warroom serve` and the bare Bolt app of
bench/bare_app.py, each in its own process. Then, in one run:

1. at a fixed concurrency, N `/incident help` and M `/incident declare sev3 …` to each app
   (the bare app acks those too, doing nothing): ack latency p50 / p95 / p99 / max;
2. K declarations one after the other (each once the previous one is announced): the ack,
   and from the moment the command was sent until the fake Slack answered
   `conversations.create`, the card's `chat.postMessage` in the new channel and its
   `pins.add` (stamps on the machine's monotonic clock, shared by the processes).

Prints the figures, the p99 ratios against the bare app, and whether the targets hold.

    .venv/bin/python bench/ack_latency.py [--help-requests 2000] [--declares 200]
        [--concurrency 32] [--sequential 50] [--database-url postgresql+psycopg://…]

SQLite in a temporary directory by default; `--database-url` names a Postgres server whose
database is used only to create (and afterwards drop) a scratch database for the run.
The fake Slack loads the Slack specs vendored in tests/specs/slack (or --specs).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import (  # noqa: E402
    collector_paused,
    free_port,
    percentile,
    scratch_database,
    start_server,
)

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
ANNOUNCE_CHANNEL = "C0ANNOUNCE"
TARGET_RATIO = 1.5
TARGET_MAX_MS = 300.0
TARGET_CARD_P50_MS = 14.0
TARGET_PIN_P50_MS = 20.0


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def pct(values: list[float], q: float) -> float:
    return percentile(sorted(values), q)


@dataclass
class Figures:
    name: str
    latencies_ms: list[float]
    errors: int

    def pct(self, q: float) -> float:
        return pct(self.latencies_ms, q)

    def line(self) -> str:
        return (
            f"{self.name:<32} n={len(self.latencies_ms):>5}  p50={self.pct(50):7.2f} ms  "
            f"p95={self.pct(95):7.2f} ms  p99={self.pct(99):7.2f} ms  "
            f"max={max(self.latencies_ms):7.2f} ms  mean={statistics.fmean(self.latencies_ms):6.2f}"
            f"  errors={self.errors}"
        )


class StampedSlackProcess:
    """bench/stamped_slack.py in a process of its own, so it takes no CPU from the load
    generator (bench/support.py's FakeSlackProcess, plus the call stamps)."""

    def __init__(self, specs: Path, env: dict[str, str]) -> None:
        if not specs.is_dir():
            raise SystemExit(f"the fake Slack needs the Slack specs at {specs} (see --specs)")
        script = ROOT / "bench" / "stamped_slack.py"
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(specs), ANNOUNCE_CHANNEL],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        urls = json.loads(self.process.stdout.readline())
        self.api_url: str = urls["api_url"]
        self.base_url: str = urls["base_url"]

    def response_url(self, i: int) -> str:
        return f"{self.base_url}/respond/bench-{i}"

    async def declaration(self, client: httpx.AsyncClient, suffix: str) -> dict[str, float]:
        """Stamps of the declaration whose channel ends with `suffix`, once announced."""
        answer = await client.get(
            f"{self.base_url}/bench/declaration", params={"suffix": suffix}, timeout=15
        )
        answer.raise_for_status()
        return dict(answer.json())

    def finish(self) -> dict[str, object]:
        out, _ = self.process.communicate(timeout=30)
        return dict(json.loads(out.strip().splitlines()[-1]))


def command_body(text: str, fake: StampedSlackProcess, i: int) -> bytes:
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

    with collector_paused():
        await asyncio.gather(*(connection() for _ in range(concurrency)))
    return Figures(name, latencies, errors)


@dataclass
class Sequential:
    """Milliseconds from each command sent to its ack and to each Slack call it led to."""

    ack: list[float] = field(default_factory=list)
    create: list[float] = field(default_factory=list)
    card: list[float] = field(default_factory=list)
    pin: list[float] = field(default_factory=list)
    edits: int = 0  # card edits seen before the announcement (the first card should be right)

    def follow(self, sent: float, stamps: dict[str, float]) -> None:
        self.create.append((stamps["create"] - sent) * 1000)
        self.card.append((stamps["card"] - sent) * 1000)
        self.pin.append((stamps["pin"] - sent) * 1000)
        self.edits += "edit" in stamps and stamps["edit"] < stamps["announce"]


async def sequential(
    port: int, fake: StampedSlackProcess, count: int, run_id: str, *, follow: bool = True
) -> Sequential:
    """Declare `count` incidents one at a time; `follow` False: only the acks (bare app)."""
    result = Sequential()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    async with httpx.AsyncClient() as client:
        with collector_paused():
            for i in range(count):
                request = signed_request(
                    port, command_body(f"declare sev3 Seq {run_id} {i}", fake, i)
                )
                sent = time.monotonic()
                writer.write(request)
                await read_response(reader)
                result.ack.append((time.monotonic() - sent) * 1000)
                if follow:
                    result.follow(sent, await fake.declaration(client, f"-seq-{run_id}-{i}"))
    writer.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--help-requests", type=int, default=2000)
    parser.add_argument("--declares", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--sequential", type=int, default=50)
    parser.add_argument("--database-url", help="a Postgres server (default: SQLite)")
    parser.add_argument("--specs", type=Path, default=ROOT / "tests" / "specs" / "slack")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="warroom-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WARROOM_"))}
    env["PYTHONPATH"] = str(ROOT)
    fake = StampedSlackProcess(args.specs, env)
    with scratch_database(args.database_url, workdir) as database_url:
        env.update(
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            WARROOM_SLACK_API_URL=fake.api_url,
            WARROOM_DATABASE_URL=database_url,
            WARROOM_ANNOUNCE_CHANNEL=ANNOUNCE_CHANNEL,
            WARROOM_LOG_LEVEL="WARNING",
        )
        warroom_port, bare_port = free_port(), free_port()
        warroom = start_server(
            [sys.executable, "-m", "bot", "serve", "--port", str(warroom_port)],
            env, warroom_port, workdir / "warroom.log",
        )  # fmt: skip
        bare = start_server(
            [sys.executable, str(ROOT / "bench" / "bare_app.py"), str(bare_port)],
            env, bare_port, workdir / "bare.log",
        )  # fmt: skip
        try:
            results, steps = asyncio.run(run(args, fake, warroom_port, bare_port))
            settled = wait_for_deliveries(warroom_port)
        finally:
            for process in (warroom, bare):
                process.terminate()
                process.wait(timeout=10)
            summary = fake.finish()
    backend = "Postgres" if args.database_url else "SQLite"
    print(
        f"\n{backend}; fake Slack: {summary['channels']} incident channels opened, "
        f"{summary['pinned']} with a pinned card ({'all' if settled else 'NOT all'} deliveries "
        f"done), {summary['card_edits']} card edits; violations: {summary['violations'] or 'none'}"
    )
    report(results, steps, args)


def wait_for_deliveries(port: int, timeout: float = 120) -> bool:
    """Let warroom finish the channels it owes, so the run ends with nothing pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"http://127.0.0.1:{port}/readyz").json()["pending_deliveries"] == 0:
            return True
        time.sleep(0.5)
    return False


async def run(
    args: argparse.Namespace, fake: StampedSlackProcess, warroom_port: int, bare_port: int
) -> tuple[dict[str, Figures], dict[str, Sequential]]:
    ports = {"warroom": warroom_port, "bare": bare_port}
    helps = [command_body("help", fake, i) for i in range(args.help_requests)]
    declares = [
        command_body(f"declare sev3 Bench outage {i}", fake, i) for i in range(args.declares)
    ]
    results: dict[str, Figures] = {}
    for port in ports.values():  # warm-up: imports, first auth.test, connection pools
        await fire(port, helps[:100], args.concurrency, "warm-up")
    for phase, bodies in (("help", helps), ("declare", declares)):
        for app, port in ports.items():
            name = f"{app} /incident {phase}"
            results[f"{app} {phase}"] = await fire(port, bodies, args.concurrency, name)
            # The channels warroom owes are opened after the acks: let them be, so that
            # they take no CPU from the next app measured (the machine is shared).
            await asyncio.to_thread(wait_for_deliveries, warroom_port)
    # Then one declaration at a time.
    run_id = uuid.uuid4().hex[:6]
    await sequential(warroom_port, fake, 3, run_id + "w")  # warm-up of the delivery path
    steps = {
        "warroom": await sequential(warroom_port, fake, args.sequential, run_id),
        "bare": await sequential(bare_port, fake, args.sequential, run_id, follow=False),
    }
    return results, steps


def report(
    results: dict[str, Figures], steps: dict[str, Sequential], args: argparse.Namespace
) -> None:
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

    ours, bare = steps["warroom"], steps["bare"]
    print(f"\n{len(ours.ack)} sequential declarations, from the command sent (ms)")
    rows = {
        "bare ack": bare.ack,
        "warroom ack": ours.ack,
        "conversations.create": ours.create,
        "card chat.postMessage": ours.card,
        "card pins.add": ours.pin,
    }
    for name, values in rows.items():
        print(f"  {name:<24} p50={pct(values, 50):7.2f}  p95={pct(values, 95):7.2f}")
    card, pin = pct(ours.card, 50), pct(ours.pin, 50)
    print(f"card posted p50 {card:.1f} ms (target <= {TARGET_CARD_P50_MS:.0f} ms)")
    print(f"card pinned p50 {pin:.1f} ms (target <= {TARGET_PIN_P50_MS:.0f} ms)")
    print(f"card edits before the announcement: {ours.edits} (the first card should be right)")
    ok &= card <= TARGET_CARD_P50_MS and pin <= TARGET_PIN_P50_MS
    print("targets met" if ok else "targets NOT met")


if __name__ == "__main__":
    main()
