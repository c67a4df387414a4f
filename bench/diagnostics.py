"""How long does `/incident diag all` take when some of its targets hang, and does the
event loop stay free while the checks run?

20 checks against real targets on 127.0.0.1, started by this script: a small HTTP health
server answering `{"status": "ok"}`, listening TCP ports, `localhost` lookups, two
commands, and 5 HTTP servers that accept connections and never answer, checked with a
2 s timeout. warroom is built in this process through the composition root
(`bot.app.build`) with a FakeChat, the real checks and a scratch database, and served as
`warroom serve` serves it: the delivery worker and the timers running, both woken every
tick. Then, in one run:

1. the baselines: warroom served and idle for 2 s (the stalls of serving alone, and of
   the machine); the same 20 checks one after the other (`run_check` in a loop), the sum
   a bot running them in turn would take; and, for the floor, all 20 at once without
   warroom (the longest timeout);
2. `--runs` times, each once everything the previous run owed has landed: `diag all` in
   the incident's channel. From just before `inbound.command` (the click) to its reply,
   and to the moment the run's message in the channel shows the results. Meanwhile a task
   sleeping 2 ms at a time records how late each of its wake-ups is: the event loop's
   stalls.

Prints the figures, the ratio against the sequential baseline, and whether the targets
hold: the results within the hung checks' timeout plus 500 ms (never the sum), the
longest stall under 50 ms, and the command's reply well under Slack's 3 s (300 ms).

    .venv/bin/python bench/diagnostics.py [--runs 3]
        [--sqlite | --postgres postgresql+psycopg://postgres@127.0.0.1:54331/postgres]

SQLite in a temporary directory by default; `--postgres` (or `--database-url`) names a
Postgres server whose database is used only to create (and afterwards drop) a scratch
database for the run. The targets run in a process of their own (this script with
`--serve-targets`), as they would on other machines: on threads of the measured process
they would take its interpreter lock from the event loop, and count as its stalls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import percentile, scratch_database  # noqa: E402
from bot.app import Warroom, build  # noqa: E402
from bot.chat.fake import FakeChat  # noqa: E402
from bot.chat.port import Message  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.delivery.outbox import pending_count  # noqa: E402
from bot.diagnostics.checks import run_check  # noqa: E402
from bot.diagnostics.messages import run_marker  # noqa: E402
from bot.diagnostics.results import CheckResult  # noqa: E402
from bot.inbound.requests import CommandRequest, Requester  # noqa: E402
from bot.incidents.declare import Declaration  # noqa: E402
from bot.policy.diagnostics import CheckBase  # noqa: E402
from bot.policy.schema import Policy, load_policy  # noqa: E402
from bot.storage.database import upgrade_database  # noqa: E402
from bot.storage.models import DiagnosticRun, RunState  # noqa: E402

ANNOUNCE_CHANNEL = "C0ANNOUNCE"
DECLARER = "U0BENCH"
HUNG = 5
HUNG_TIMEOUT = timedelta(seconds=2)
HEALTHY_HTTP, TCP, DNS_HOSTS, COMMANDS = 5, 6, 2, 2
# The issue's targets: the results a few hundred ms after the hung checks' timeout.
TARGET_MARGIN_S = 0.5
TARGET_STALL_MS = 50.0
TARGET_REPLY_MS = 300.0  # Slack gives up after 3 s; a person should not notice any wait
MONITOR_INTERVAL_S = 0.002
RESULTS_TIMEOUT_S = 60.0  # a run whose results never show ends the benchmark, not hangs it


# targets ------------------------------------------------------------------------------


class _HealthHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a line per request on stderr would drown the figures


class HealthServer:
    """Any GET answers 200 `{"status": "ok"}`: what the healthy http checks expect."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _HealthHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="health"
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def __enter__(self) -> HealthServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class Ports:
    """Listening TCP ports, served by one thread: an `open` port accepts and hangs up (all
    a tcp check needs), a `hung` one accepts and never answers, holding each connection
    until the client gives up, as a stuck upstream does."""

    def __init__(self, *, open_ports: int, hung_ports: int) -> None:
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self.open = [self._listen(hold=False) for _ in range(open_ports)]
        self.hung = [self._listen(hold=True) for _ in range(hung_ports)]
        self._thread = threading.Thread(target=self._serve, name="ports")

    def _listen(self, *, hold: bool) -> int:
        listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        listener.setblocking(False)
        self._selector.register(listener, selectors.EVENT_READ, ("listener", hold))
        return int(listener.getsockname()[1])

    def _serve(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.1):
                sock = cast(socket.socket, key.fileobj)
                role, hold = key.data
                if role == "listener":
                    with contextlib.suppress(BlockingIOError):
                        connection, _ = sock.accept()
                        if hold:
                            connection.setblocking(False)
                            self._selector.register(connection, selectors.EVENT_READ, ("held", 1))
                        else:
                            connection.close()
                    continue
                # A held connection: what the client sends is read and dropped, never
                # answered; it is closed once the client has given up and closed its end.
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._selector.unregister(sock)
                    sock.close()

    def __enter__(self) -> Ports:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        for key in list(self._selector.get_map().values()):
            cast(socket.socket, key.fileobj).close()
        self._selector.close()


@dataclass(frozen=True)
class Targets:
    health_url: str  # the health server's base URL
    open: list[int]
    hung: list[int]


def serve_targets() -> None:
    """`--serve-targets`: serve them, say where on stdout, stop when stdin closes."""
    with HealthServer() as health, Ports(open_ports=TCP, hung_ports=HUNG) as ports:
        where = {"health_url": health.url(""), "open": ports.open, "hung": ports.hung}
        print(json.dumps(where), flush=True)
        sys.stdin.read()


class TargetsProcess:
    """This script with `--serve-targets`, in a process of its own."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve-targets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            self._process.kill()
            raise SystemExit("the targets did not start")
        self.targets = Targets(**json.loads(line))

    def __enter__(self) -> Targets:
        return self.targets

    def __exit__(self, *exc_info: object) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def check_definitions(targets: Targets) -> list[dict[str, object]]:
    """The policy's 20 checks, the hung ones first (`all` starts them at once, so their
    order only decides how the message lists them)."""
    ok = ['$.status == "ok"']
    checks: list[dict[str, object]] = []
    for i, port in enumerate(targets.hung, 1):
        checks.append(
            {"name": f"stuck-api-{i}", "type": "http", "url": f"http://127.0.0.1:{port}/health",
             "timeout": f"{HUNG_TIMEOUT.total_seconds():g}s", "expect": ok}
        )  # fmt: skip
    for i in range(1, HEALTHY_HTTP + 1):
        checks.append(
            {"name": f"api-{i}", "type": "http", "url": f"{targets.health_url}/svc-{i}/health",
             "expect": ok}
        )  # fmt: skip
    for i, port in enumerate(targets.open, 1):
        checks.append({"name": f"port-{i}", "type": "tcp", "host": "127.0.0.1", "port": port})
    checks.append({"name": "dns-localhost", "type": "dns", "host": "localhost"})
    checks.append(
        {"name": "dns-localhost-v4", "type": "dns", "host": "localhost",
         "expect_address": "127.0.0.1"}
    )  # fmt: skip
    checks.append({"name": "cmd-true", "type": "command", "argv": ["true"]})
    checks.append({"name": "cmd-echo", "type": "command", "argv": ["echo", "ok"]})
    assert len(checks) == HUNG + HEALTHY_HTTP + TCP + DNS_HOSTS + COMMANDS == 20
    return checks


def bench_policy(workdir: Path, checks: list[dict[str, object]]) -> Policy:
    """Loaded from a file as warroom loads its own (JSON is YAML), defaults and all."""
    path = workdir / "policy.yml"
    path.write_text(json.dumps({"diagnostics": {"checks": checks}}), encoding="utf-8")
    return load_policy(path)


# what is measured ---------------------------------------------------------------------


class WatchedChat(FakeChat):
    """FakeChat that stamps when a run's message first shows its results: the moment a
    person in the channel would see them."""

    def __init__(self) -> None:
        super().__init__()
        self._shown: dict[str, float] = {}
        self._events: dict[str, asyncio.Event] = {}

    def _stamp(self, message: Message) -> None:
        marker = message.marker or ""
        if not marker.startswith("diagnostics:") or marker in self._shown:
            return
        lines = [line for line in message.markdown.splitlines() if line.strip()]
        if lines and "⏳" not in lines[0]:  # the heading says running until the results
            self._shown[marker] = time.perf_counter()
            self._events.setdefault(marker, asyncio.Event()).set()

    async def post(self, *, channel_id: str, message: Message) -> str:
        ref = await super().post(channel_id=channel_id, message=message)
        self._stamp(message)
        return ref

    async def update(self, *, channel_id: str, message_ref: str, message: Message) -> None:
        await super().update(channel_id=channel_id, message_ref=message_ref, message=message)
        self._stamp(message)

    async def results_shown(self, marker: str) -> float:
        """When the message marked `marker` showed its results (perf_counter seconds)."""
        event = self._events.setdefault(marker, asyncio.Event())
        await asyncio.wait_for(event.wait(), timeout=RESULTS_TIMEOUT_S)
        return self._shown[marker]


@dataclass
class StallMonitor:
    """Sleeps `interval` at a time and records how late each wake-up was: while the event
    loop is blocked (a synchronous call, a long callback) nothing else on it runs."""

    interval: float = MONITOR_INTERVAL_S
    samples: list[tuple[float, float]] = field(default_factory=list)  # (woke at, late ms)

    async def run(self) -> None:
        while True:
            expected = time.perf_counter() + self.interval
            await asyncio.sleep(self.interval)
            woke = time.perf_counter()
            self.samples.append((woke, (woke - expected) * 1000))

    def window(self, start: float, end: float) -> Stalls:
        """The stalls of the wake-ups due between `start` and `end`."""
        due = [
            (late, woke)
            for woke, late in self.samples
            if woke >= start and woke - late / 1000 <= end
        ]
        if not due:
            return Stalls(0.0, 0.0, 0, 0.0)
        worst, woke = max(due)
        lateness = sorted(late for late, _ in due)
        # When the longest stall began, from the window's start, tells which step it was
        # in; 0 when the loop was busy already as the window opened.
        began = max(0.0, woke - worst / 1000 - start)
        return Stalls(worst, percentile(lateness, 99), len(due), began)


@dataclass(frozen=True)
class Stalls:
    max_ms: float
    p99_ms: float
    wakeups: int
    max_at_s: float  # when the longest one began, from the start of what was measured

    def text(self) -> str:
        return (
            f"stall max {self.max_ms:5.1f} ms (at {self.max_at_s:5.3f} s)  "
            f"p99 {self.p99_ms:4.1f} ms"
        )


@dataclass(frozen=True)
class Phase:
    """A baseline: the checks run without warroom."""

    name: str
    seconds: float
    stalls: Stalls
    tally: str


@dataclass(frozen=True)
class DiagRun:
    reply_ms: float  # click to the command's answer
    results_s: float  # click to the results shown in the channel
    took_s: float  # the run as stored: started to finished
    stalls: Stalls
    tally: str
    unexpected: list[str]  # a check that should have passed and did not, or the reverse


def tally_of(outcomes: Sequence[str]) -> str:
    counts = Counter(outcomes)
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))


def surprises(results: Sequence[tuple[str, str, str]]) -> list[str]:
    """(name, outcome, summary) of checks that did not end as designed: every stuck-api
    check times out, every other check passes."""
    wrong = []
    for name, outcome, summary in results:
        stuck = name.startswith("stuck-api-")
        if (stuck and "timed out" not in summary) or (not stuck and outcome != "passed"):
            wrong.append(f"{name}: {outcome} ({summary})")
    return wrong


# the run ------------------------------------------------------------------------------


def serve(warroom: Warroom) -> list[asyncio.Task[None]]:
    """What `warroom serve` runs beside its requests (bot/lifespan.py): the delivery
    worker and the timers, and the tick that wakes both (what was handed back to wait
    for its channel's turn resumes on a tick)."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(warroom.settings.tick_seconds)
            warroom.worker.wake()
            warroom.timer_loop.wake()

    return [
        asyncio.create_task(warroom.worker.run_forever(), name="worker"),
        asyncio.create_task(warroom.timer_loop.run_forever(), name="timers"),
        asyncio.create_task(tick(), name="tick"),
    ]


async def settle(warroom: Warroom) -> None:
    """Until nothing is owed, and the channel's next post would not wait for its turn:
    each click finds warroom idle, as a person's would between runs."""
    deadline = time.perf_counter() + 30
    while await pending_count(warroom.db):
        if time.perf_counter() > deadline:
            raise SystemExit("deliveries still pending after 30 s")
        await asyncio.sleep(0.05)
    await asyncio.sleep(warroom.settings.post_interval_seconds + 0.1)


async def open_incident(warroom: Warroom, chat: FakeChat) -> str:
    """Declare one incident and wait for its channel and card: its channel id."""
    await warroom.service.declare(
        Declaration(
            title="Checkout errors", severity="sev2", declared_by=DECLARER, declared_in="C0GENERAL"
        )
    )
    await settle(warroom)
    opened = chat.opened()
    if not opened:
        raise SystemExit("the incident's channel was never opened")
    return opened[-1].id


async def idle(monitor: StallMonitor, seconds: float = 2.0) -> Phase:
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    ended = time.perf_counter()
    return Phase("warroom idle", ended - started, monitor.window(started, ended), "no checks")


async def phase(
    name: str, monitor: StallMonitor, checks: Sequence[CheckBase], environ: Any, *, at_once: bool
) -> Phase:
    started = time.perf_counter()
    if at_once:
        results = list(await asyncio.gather(*(run_check(c, environ=environ) for c in checks)))
    else:  # what a bot running its checks in turn would take: the sum of them
        results = [await run_check(check, environ=environ) for check in checks]
    ended = time.perf_counter()
    return Phase(
        name,
        ended - started,
        monitor.window(started, ended),
        describe(results),
    )


def describe(results: Sequence[CheckResult]) -> str:
    rows = [(r.name, r.outcome.value, r.summary) for r in results]
    wrong = surprises(rows)
    return tally_of([outcome for _, outcome, _ in rows]) + (
        f"; UNEXPECTED: {wrong}" if wrong else ""
    )


async def latest_run(warroom: Warroom) -> DiagnosticRun:
    def load(session: Session) -> DiagnosticRun:
        newest = session.scalar(select(func.max(col(DiagnosticRun.id))))
        run = session.get(DiagnosticRun, newest) if newest is not None else None
        if run is None:
            raise SystemExit("diag all stored no run")
        return run

    return await warroom.db.transaction(load)


async def diag_all(
    warroom: Warroom, chat: WatchedChat, channel_id: str, monitor: StallMonitor
) -> DiagRun:
    await settle(warroom)
    request = CommandRequest(Requester(DECLARER, channel_id), "diag all")
    clicked = time.perf_counter()
    reply = await warroom.inbound.command(request)
    replied = time.perf_counter()
    if not reply.markdown.startswith("🩺"):
        raise SystemExit(f"diag all was not run: {reply.markdown}")
    run = await latest_run(warroom)
    assert run.id is not None
    shown = await chat.results_shown(run_marker(run.id))
    stalls = monitor.window(clicked, shown)
    run = await latest_run(warroom)  # as stored once done
    if run.state is not RunState.DONE:
        raise SystemExit(f"run {run.id} showed its results but is {run.state.value}")
    rows = [(str(r["name"]), str(r["outcome"]), str(r.get("summary", ""))) for r in run.results]
    took = 0.0
    if run.started_at is not None and run.finished_at is not None:
        took = (run.finished_at - run.started_at).total_seconds()
    return DiagRun(
        reply_ms=(replied - clicked) * 1000,
        results_s=shown - clicked,
        took_s=took,
        stalls=stalls,
        tally=tally_of([outcome for _, outcome, _ in rows]),
        unexpected=surprises(rows),
    )


@dataclass
class Figures:
    checks: list[str]
    idle: Phase
    sequential: Phase
    at_once: Phase
    runs: list[DiagRun]


async def measure(url: str, policy: Policy, runs: int) -> Figures:
    chat = WatchedChat()
    chat.add_channel(ANNOUNCE_CHANNEL, "incidents")
    settings = Settings(_env_file=None, database_url=url, announce_channel=ANNOUNCE_CHANNEL)
    environ = settings.secret_environment()
    # The real checks, as served: no run_check passed, so build picks default_runner.
    warroom = build(settings, chat=chat, policy=policy)
    if warroom.db.is_sqlite:
        await warroom.worker.release_all_leases()  # as serving does on SQLite
    tasks = serve(warroom)
    monitor = StallMonitor()
    try:
        channel_id = await open_incident(warroom, chat)
        # As bot/lifespan.py does once started: what lives as long as the process stays
        # out of the collector's full passes.
        gc.collect()
        gc.freeze()
        tasks.append(asyncio.create_task(monitor.run(), name="stall-monitor"))
        checks = list(policy.diagnostics.checks)
        # The baseline first: it also warms the checks' own first-use costs (the system
        # certificates loaded on a thread), which no later click pays either.
        resting = await idle(monitor)
        sequential = await phase("one after the other", monitor, checks, environ, at_once=False)
        at_once = await phase("all at once", monitor, checks, environ, at_once=True)
        measured = [await diag_all(warroom, chat, channel_id, monitor) for _ in range(runs)]
        await settle(warroom)  # what the last run owes lands before the database goes
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await warroom.http.aclose()
        warroom.db.dispose()
    kinds = Counter(str(getattr(check, "type", "?")) for check in checks)
    shown = [f"{n} {kind}" for kind, n in kinds.items()]
    return Figures(shown, resting, sequential, at_once, measured)


# the report ---------------------------------------------------------------------------


def goal(ms: float, relation: str, target: float) -> str:
    return f"{ms:.1f} ms (target {relation} {target:g} ms)"


def report(figures: Figures, backend: str) -> bool:
    total = HUNG + HEALTHY_HTTP + TCP + DNS_HOSTS + COMMANDS
    hung = f"{HUNG} of the http ones hung past a {HUNG_TIMEOUT.total_seconds():g} s timeout"
    print(
        f"\n{total} checks ({', '.join(figures.checks)}; {hung}); {backend}, {os.cpu_count()} cores"
    )
    print("\nbaselines: warroom idle, and run_check without warroom")
    for base in (figures.idle, figures.sequential, figures.at_once):
        print(f"  {base.name:<22} {base.seconds:7.3f} s   {base.stalls.text()}   {base.tally}")

    runs = figures.runs
    print(f"\ndiag all through warroom, {len(runs)} runs (from the click)")
    for i, run in enumerate(runs, 1):
        print(
            f"  run {i}: reply {run.reply_ms:6.1f} ms   results shown {run.results_s:6.3f} s"
            f"   run took {run.took_s:6.3f} s   {run.stalls.text()}   {run.tally}"
        )
        for problem in run.unexpected:
            print(f"    UNEXPECTED {problem}")
    rows = {
        "reply (ms)": [r.reply_ms for r in runs],
        "results shown (s)": [r.results_s for r in runs],
        "stall max (ms)": [r.stalls.max_ms for r in runs],
        "stall p99 (ms)": [r.stalls.p99_ms for r in runs],
    }
    for name, values in rows.items():
        print(f"  {name:<20} median {statistics.median(values):8.3f}   max {max(values):8.3f}")

    results = statistics.median(rows["results shown (s)"])
    ratio = results / figures.sequential.seconds
    print(
        f"\nresults / one after the other: {ratio:.2f} "
        f"({results:.3f} s against {figures.sequential.seconds:.3f} s); "
        f"over the checks alone at once: {(results - figures.at_once.seconds) * 1000:+.0f} ms"
    )
    limit = HUNG_TIMEOUT.total_seconds() + TARGET_MARGIN_S
    slowest = max(rows["results shown (s)"])
    stall = max(rows["stall max (ms)"])
    reply = max(rows["reply (ms)"])
    verdicts = [
        (slowest <= limit, f"slowest results {slowest:.3f} s (target <= {limit:g} s)"),
        (stall < TARGET_STALL_MS, "longest stall " + goal(stall, "<", TARGET_STALL_MS)),
        (reply <= TARGET_REPLY_MS, "slowest reply " + goal(reply, "<=", TARGET_REPLY_MS)),
        (not any(r.unexpected for r in runs), "every check ended as designed"),
    ]
    for ok, line in verdicts:
        print(f"  {'ok  ' if ok else 'FAIL'} {line}")
    met = all(ok for ok, _ in verdicts)
    print("targets met" if met else "targets NOT met")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="diag all runs measured")
    backend = parser.add_mutually_exclusive_group()
    backend.add_argument("--sqlite", action="store_true", help="SQLite (the default)")
    backend.add_argument(
        "--postgres", "--database-url", dest="database_url", metavar="URL",
        help="a Postgres server, for a scratch database",
    )  # fmt: skip
    parser.add_argument("--serve-targets", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_targets:
        serve_targets()
        return
    # Warnings only: a check failing in an unexpected way says so, the rest is quiet.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    with (
        tempfile.TemporaryDirectory(prefix="warroom-bench-") as scratch,
        TargetsProcess() as targets,
        scratch_database(args.database_url, Path(scratch)) as url,
    ):
        if args.database_url is None:
            upgrade_database(url)  # the scratch Postgres database comes migrated
        policy = bench_policy(Path(scratch), check_definitions(targets))
        figures = asyncio.run(measure(url, policy, args.runs))
    report(figures, "Postgres" if args.database_url else "SQLite")


if __name__ == "__main__":
    main()
