"""An alert storm: can warroom take Alertmanager's webhooks as fast as they come, and
does the chat side keep to Slack's pace afterwards?

200 alert groups of 50 critical alerts each, sent the way Alertmanager sends them: one
body per group and notification, each carrying 5 alerts new to the group beside all of
its earlier ones (5, 10, …, 50 alerts), 2,000 webhook v4 bodies in all. The bodies of one
group go one after the other (the next once the previous one is answered, as
Alertmanager's per-group notifier does); groups take turns, `--concurrency` in flight.

Against the real `warroom serve` (its own process, a fake Slack in another), on SQLite
and, with `--postgres-url`, on Postgres, it prints per database:

- incidents opened (must be one per group) and alerts recorded (must be every alert),
  read from the database after the run;
- ingest throughput: new alerts / wall time from the first send to the last 2xx
  (target >= 1,000 alerts/s on a 2-core machine);
- webhook latency p50 / p99 (target p99 < 100 ms);
- once the outbox is drained (`/readyz` says `pending_deliveries` 0; how long that took
  is printed), the Slack calls per incident, by method and in total, and the most
  messages one channel got within one second (must be <= 1; warroom paces to one a second
  per channel). The fake Slack stamps a call when its event loop gets to it, so posts are
  counted over 0.9 s, the margin tests/support/fake_slack.py allows (the full second is
  printed too), and the bench's own `api.test` probe says whether the fake was too busy
  for its stamps to tell warroom's pace;
- the CPU each process used in each phase, to tell warroom's limits from the machine's.

The baseline, measured in the same run just before the storm, while warroom is idle:
`GET /healthz` on the same `warroom serve` process, through the same clients at the same
concurrency, as many requests as there are bodies. It is the least latency any request
can show through this load generator and stack (httpx, the loopback, uvicorn, FastAPI)
at that concurrency on this machine, so the ratios say how much of a webhook's latency
is warroom's own work (reading, storing and routing the alerts) rather than the cost of
asking. On two cores the httpx clients, not warroom, set the baseline's pace (its CPU
line shows it): the baseline is a floor, and a ratio near 1 would mean the load generator,
not warroom, is what is measured. A bare app would answer about as fast; /healthz runs in
the measured process, with its middleware and settings, so nothing else differs.

    .venv/bin/python bench/alert_storm.py                    # SQLite only (--no-sqlite: skip it)
    .venv/bin/python bench/alert_storm.py \\
        --postgres-url postgresql+psycopg://postgres@127.0.0.1:54331/postgres
    .venv/bin/python bench/alert_storm.py --groups 20 --alerts-per-group 10   # a quick look

`--postgres-url` names a Postgres server (default: `WARROOM_TEST_DATABASE_URL`, as
scripts/test exports it) whose database is used only to create, and afterwards drop, a
scratch database for the run. PASS / FAIL is printed against each target; the exit code
is 0 unless the run itself broke. The fake Slack loads the Slack specs vendored in
tests/specs/slack (or --specs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import (  # noqa: E402
    FakeSlackProcess,
    SlackCallRecord,
    collector_paused,
    free_port,
    percentile,
    scratch_database,
    start_server,
)
from handlers.alerts.fields import fingerprint_of  # noqa: E402

ALERT_TOKEN = "bench-alert-token"
BOT_TOKEN = "xoxb-bench"
ANNOUNCE_CHANNEL = "C0ANNOUNCE"  # the fake Slack's #incidents
TARGET_ALERTS_PER_SECOND = 1000.0
TARGET_P99_MS = 100.0
TARGET_POSTS_PER_SECOND = 1
# The built-in routes replaced by one that declares every critical group, with the storm
# limit raised so that each group opens an incident of its own rather than joining the
# route's storm incident: the run measures the most chat work a storm can cause.
POLICY = """\
alerts:
  routes:
    - name: bench-critical
      matchers: ['severity=~"(?i)critical"']
      action: declare
      max_new_incidents_per_minute: {limit}
"""
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: how Alertmanager says "not ended"
# warroom spaces a channel's posts by one second when it sends them; the fake Slack
# stamps them when they arrive, and a post sent a few milliseconds slower than the one
# before it arrives less than a second after it. Posts are counted over 0.9 s, the 10%
# margin tests/support/fake_slack.py allows for the same reason; the full second is
# printed beside it.
PACING_WINDOW = 0.9
POLL_SECONDS = 0.5
PROBE_METHOD = "api.test"  # warroom never calls it: the bench's own calls, left out of tallies
# The fake Slack answering its probe slower than this stamps calls late enough to show
# posts paced a second apart as closer.
FAKE_LAG_MS = 100.0
STRAGGLERS_SECONDS = 1.0  # after the outbox is empty: room for a late call to show itself


# the bodies ---------------------------------------------------------------------------


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def group_bodies(group: int, alerts: int, per_body: int, started: datetime) -> list[bytes]:
    """The webhook bodies Alertmanager would send for one group whose alerts start firing
    `per_body` at a time: each body repeats every alert of the group seen so far."""
    service = f"svc-{group:03d}"
    group_labels = {"alertname": "BenchErrorRate", "service": service}
    common = {**group_labels, "env": "prod", "severity": "critical"}
    every: list[dict[str, Any]] = []
    for i in range(alerts):
        labels = {**common, "instance": f"10.{group // 250}.{group % 250}.{i}:8080"}
        every.append(
            {
                "status": "firing",
                "labels": labels,
                "annotations": {
                    "summary": "5xx rate above 5%",
                    "description": f"{service} 5xx ratio is {5 + i % 7}.{i % 10}% over 5m",
                    "runbook_url": f"https://runbooks.example/{service}",
                },
                "startsAt": _stamp(started + timedelta(seconds=30 * (i // per_body))),
                "endsAt": ZERO_TIME,
                "generatorURL": f"http://prometheus.local/graph?g0.expr=errors%7Bservice%3D%22{service}%22%7D",
                "fingerprint": fingerprint_of(labels),
            }
        )
    group_key = "{}:{" + ", ".join(f'{k}="{v}"' for k, v in group_labels.items()) + "}"
    bodies = []
    for end in range(per_body, alerts + per_body, per_body):
        body = {
            "receiver": "warroom",
            "status": "firing",
            "alerts": every[: min(end, alerts)],
            "groupLabels": group_labels,
            "commonLabels": common,
            "commonAnnotations": {"summary": "5xx rate above 5%"},
            "externalURL": "http://alertmanager.local:9093",
            "version": "4",
            "groupKey": group_key,
            "truncatedAlerts": 0,
        }
        bodies.append(json.dumps(body).encode())
    return bodies


# sending ------------------------------------------------------------------------------


@dataclass
class Storm:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # the first few non-2xx, for the report
    new_alerts: int = 0  # as the receipts counted them
    incidents: dict[int, set[str]] = field(default_factory=dict)  # group -> INC-N answered
    first_sent: float = 0.0
    last_answered: float = 0.0

    @property
    def wall(self) -> float:
        return self.last_answered - self.first_sent


async def send_storm(
    clients: Sequence[httpx.AsyncClient], groups: Sequence[Sequence[bytes]]
) -> Storm:
    """Every body, in order within its group; a group whose body is answered goes to the
    back of the line, so all groups overlap and none sends two bodies at once."""
    storm = Storm()
    ready: asyncio.Queue[int | None] = asyncio.Queue()
    for group in range(len(groups)):
        ready.put_nowait(group)
    sent = [0] * len(groups)
    remaining = sum(len(bodies) for bodies in groups)
    headers = {"Authorization": f"Bearer {ALERT_TOKEN}", "Content-Type": "application/json"}

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal remaining
        while (group := await ready.get()) is not None:
            body = groups[group][sent[group]]
            started = time.perf_counter()
            storm.first_sent = storm.first_sent or started
            answer = await client.post("/alerts/alertmanager", content=body, headers=headers)
            answered = time.perf_counter()
            storm.latencies_ms.append((answered - started) * 1000)
            storm.statuses[answer.status_code] += 1
            if answer.is_success:
                storm.last_answered = answered
                receipt = answer.json()
                storm.new_alerts += int(receipt.get("new", 0))
                if receipt.get("incident"):
                    storm.incidents.setdefault(group, set()).add(str(receipt["incident"]))
            elif len(storm.failures) < 5:
                storm.failures.append(f"{answer.status_code} {answer.text[:200]}")
            sent[group] += 1
            remaining -= 1
            if sent[group] < len(groups[group]):
                ready.put_nowait(group)
            if remaining == 0:
                for _ in clients:
                    ready.put_nowait(None)

    with collector_paused():
        await asyncio.gather(*(sender(client) for client in clients))
    return storm


async def send_baseline(clients: Sequence[httpx.AsyncClient], count: int) -> list[float]:
    """`GET /healthz` `count` times, one client each in flight: latencies in ms."""
    latencies: list[float] = []
    left = count

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            started = time.perf_counter()
            answer = await client.get("/healthz")
            latencies.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()

    with collector_paused():
        await asyncio.gather(*(sender(client) for client in clients))
    return latencies


@dataclass
class Drained:
    seconds: float
    pending_left: int
    # How long the fake Slack took to answer the bench's own `api.test` while warroom's
    # calls landed, ms: the fake stamps each call when it gets to it, so a busy fake
    # stamps calls late and bunched, whatever pace warroom sent them at.
    probe_ms: list[float]


async def drain(client: httpx.AsyncClient, fake_api_url: str, give_up_after: float) -> Drained:
    """Wait until the outbox holds nothing pending, probing the fake Slack meanwhile."""
    started = time.monotonic()
    probes: list[float] = []
    headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
    async with httpx.AsyncClient(base_url=fake_api_url, headers=headers, timeout=60) as fake:
        while True:
            pending = int((await client.get("/readyz")).json()["pending_deliveries"])
            waited = time.monotonic() - started
            if pending == 0 or waited > give_up_after:
                return Drained(waited, pending, probes)
            sent = time.perf_counter()
            (await fake.post(PROBE_METHOD)).raise_for_status()
            probes.append((time.perf_counter() - sent) * 1000)
            await asyncio.sleep(POLL_SECONDS)


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds each process has used so far (Linux's /proc); a process
    whose figures cannot be read is left out. Each one's share of the two cores says
    whether the machine, rather than warroom, was the limit."""
    used: dict[str, float] = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


# what the run left behind -------------------------------------------------------------


@dataclass
class Stored:
    incidents: int
    storm_incidents: int
    alerts: int
    groups: int
    groups_without_incident: int
    incidents_of_groups: int  # distinct incidents the groups point at
    alert_entries: int  # alert changes on incident timelines
    undigested: int  # of those, not yet told in a channel digest (or on the first card)
    deliveries: dict[str, tuple[int, int, int]]  # kind -> (rows, attempts, not done)


def read_database(url: str) -> Stored:
    engine = create_engine(url)
    try:
        with engine.connect() as db:

            def one(sql: str) -> int:
                return int(db.execute(text(sql)).scalar_one())

            deliveries = {
                str(kind): (int(rows), int(attempts or 0), int(left or 0))
                for kind, rows, attempts, left in db.execute(
                    text(
                        "SELECT kind, count(*), sum(attempts), "
                        "sum(CASE WHEN state <> 'done' THEN 1 ELSE 0 END) "
                        "FROM delivery GROUP BY kind ORDER BY kind"
                    )
                )
            }
            return Stored(
                incidents=one("SELECT count(*) FROM incident"),
                storm_incidents=one("SELECT count(*) FROM incident WHERE storm_route IS NOT NULL"),
                alerts=one("SELECT count(*) FROM alert"),
                groups=one("SELECT count(*) FROM alert_group"),
                groups_without_incident=one(
                    "SELECT count(*) FROM alert_group WHERE incident_id IS NULL"
                ),
                incidents_of_groups=one("SELECT count(DISTINCT incident_id) FROM alert_group"),
                alert_entries=one("SELECT count(*) FROM timeline_entry WHERE kind = 'alert'"),
                undigested=one(
                    "SELECT count(*) FROM timeline_entry t JOIN incident i "
                    "ON i.id = t.incident_id "
                    "WHERE t.kind = 'alert' AND t.id > i.alert_digest_through"
                ),
                deliveries=deliveries,
            )
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Crowding:
    """The most successful posts one channel got within one second."""

    most: int
    channel: str
    closest_gap: float  # seconds between the two closest posts to one channel
    closest_channel: str


def crowding(calls: Sequence[SlackCallRecord], window: float = 1.0) -> Crowding:
    posted: dict[str, list[float]] = {}
    for call in calls:
        if call.method == "chat.postMessage" and call.ok:
            posted.setdefault(call.channel, []).append(call.received_at)
    most, most_channel = 0, ""
    gap, gap_channel = float("inf"), ""
    for channel, times in posted.items():
        times.sort()
        start = 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            if end - start + 1 > most:
                most, most_channel = end - start + 1, channel
            if end and at - times[end - 1] < gap:
                gap, gap_channel = at - times[end - 1], channel
    return Crowding(most, most_channel, gap, gap_channel)


# one database -------------------------------------------------------------------------


@dataclass
class Measured:
    """What was measured over HTTP while the server ran."""

    storm: Storm
    baseline_ms: list[float]
    baseline_seconds: float
    drained: Drained
    # phase ("baseline", "ingest", "drain") -> process -> CPU seconds it used in that phase
    cpu: dict[str, dict[str, float]]


@dataclass
class Outcome:
    backend: str
    groups: int
    alerts: int
    bodies: int
    measured: Measured
    stored: Stored
    calls: list[SlackCallRecord]
    fake_summary: dict[str, object]


def server_env(
    base: dict[str, str], fake: FakeSlackProcess, url: str, policy: Path
) -> dict[str, str]:
    return {
        **base,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "bench",
        "WARROOM_SLACK_API_URL": fake.api_url,
        "WARROOM_DATABASE_URL": url,
        "WARROOM_ANNOUNCE_CHANNEL": ANNOUNCE_CHANNEL,
        "WARROOM_ALERT_TOKEN": ALERT_TOKEN,
        "WARROOM_CONFIG": str(policy),
        "WARROOM_LOG_LEVEL": "WARNING",
    }


def run_one(args: argparse.Namespace, server_url: str | None, workdir: Path) -> Outcome:
    backend = "Postgres" if server_url else "SQLite"
    here = workdir / backend.lower()
    here.mkdir()
    policy = here / "policy.yml"
    policy.write_text(POLICY.format(limit=max(1000, args.groups)), encoding="utf-8")
    started = datetime.now(UTC) - timedelta(minutes=10)
    groups = [
        group_bodies(g, args.alerts_per_group, args.new_per_body, started)
        for g in range(args.groups)
    ]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WARROOM_"))}
    base["PYTHONPATH"] = str(ROOT)
    fake = FakeSlackProcess(args.specs, base, calls=True)
    server: subprocess.Popen[bytes] | None = None
    try:
        with scratch_database(server_url, here) as url:
            port = free_port()
            server = start_server(
                [sys.executable, "-m", "bot", "serve", "--port", str(port)],
                server_env(base, fake, url, policy),
                port,
                here / "warroom.log",
            )
            pids = {
                "warroom serve": server.pid,
                "fake Slack": fake.process.pid,
                "load generator": os.getpid(),
            }
            measured = asyncio.run(measure(args, port, fake.api_url, pids, groups))
            server.terminate()
            server.wait(timeout=30)
            server = None
            stored = read_database(url)
    finally:
        if server is not None:
            server.kill()
            server.wait()
        summary = fake.finish()
    calls = [c for c in SlackCallRecord.taken_from(summary) if c.method != PROBE_METHOD]
    return Outcome(
        backend=backend,
        groups=args.groups,
        alerts=args.groups * args.alerts_per_group,
        bodies=sum(len(bodies) for bodies in groups),
        measured=measured,
        stored=stored,
        calls=calls,
        fake_summary=summary,
    )


async def measure(
    args: argparse.Namespace,
    port: int,
    fake_api_url: str,
    pids: dict[str, int],
    groups: Sequence[Sequence[bytes]],
) -> Measured:
    bodies = sum(len(group) for group in groups)
    base_url = f"http://127.0.0.1:{port}"
    async with contextlib.AsyncExitStack() as stack:
        # One client and connection per sender, as each Alertmanager notifier has its
        # own: one shared httpx pool costs more CPU per request and, with 16 requests
        # in flight, adds a latency tail of its own on two cores.
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base_url, limits=one, timeout=60)
            )
            for _ in range(args.concurrency)
        ]
        client = clients[0]
        await send_baseline(clients, min(200, bodies))  # warm-up
        at_rest = cpu_of(pids)
        started = time.perf_counter()
        baseline = await send_baseline(clients, bodies)
        baseline_seconds = time.perf_counter() - started
        before = cpu_of(pids)
        storm = await send_storm(clients, groups)
        ingested = cpu_of(pids)
        drained = await drain(client, fake_api_url, args.drain_timeout)
        await asyncio.sleep(STRAGGLERS_SECONDS)
        after = cpu_of(pids)
    cpu = {
        "baseline": {name: before[name] - at_rest[name] for name in at_rest if name in before},
        "ingest": {name: ingested[name] - before[name] for name in before if name in ingested},
        "drain": {name: after[name] - ingested[name] for name in ingested if name in after},
    }
    return Measured(storm, baseline, baseline_seconds, drained, cpu)


# the report ---------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(outcome: Outcome) -> None:
    measured, stored = outcome.measured, outcome.stored
    storm = measured.storm
    print(
        f"\n== {outcome.backend}: {outcome.groups} groups x "
        f"{outcome.alerts // max(1, outcome.groups)} alerts, {outcome.bodies} bodies, "
        f"{os.cpu_count()} cores"
    )
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(storm.statuses.items()))
    print(f"webhook answers: {statuses}")
    for failure in storm.failures:
        print(f"  e.g. {failure}")

    print(
        f"incidents opened: {stored.incidents} (must be {outcome.groups}) "
        f"{verdict(stored.incidents == outcome.groups)}; storm incidents {stored.storm_incidents}, "
        f"groups {stored.groups}, without an incident {stored.groups_without_incident}, "
        f"distinct incidents of groups {stored.incidents_of_groups}"
    )
    answered_twice = sum(1 for numbers in storm.incidents.values() if len(numbers) > 1)
    answered = len({n for numbers in storm.incidents.values() for n in numbers})
    print(
        f"  webhook receipts named {answered} distinct incidents; "
        f"groups answered with more than one: {answered_twice}"
    )
    print(
        f"alerts recorded: {stored.alerts} (must be {outcome.alerts}) "
        f"{verdict(stored.alerts == outcome.alerts)}; receipts counted {storm.new_alerts} new"
    )
    print(
        f"  on incident timelines: {stored.alert_entries}; not yet in a digest after the "
        f"drain: {stored.undigested} (should be 0)"
    )

    throughput = outcome.alerts / storm.wall if storm.wall > 0 else 0.0
    print(
        f"ingest: {outcome.alerts} alerts in {storm.wall:.2f} s = {throughput:,.0f} alerts/s "
        f"({outcome.bodies / storm.wall if storm.wall > 0 else 0:,.0f} bodies/s; target >= "
        f"{TARGET_ALERTS_PER_SECOND:,.0f}) {verdict(throughput >= TARGET_ALERTS_PER_SECOND)}"
    )
    cpu = measured.cpu
    if cpu["ingest"]:
        print(f"  CPU during ingest: {shares(cpu['ingest'], storm.wall)}")

    hooks = sorted(storm.latencies_ms)
    base = sorted(measured.baseline_ms)
    p99 = percentile(hooks, 99)
    print(
        f"webhook latency  n={len(hooks)}  p50={percentile(hooks, 50):7.2f} ms  "
        f"p99={p99:7.2f} ms  max={hooks[-1]:7.2f} ms  mean={statistics.fmean(hooks):6.2f} ms "
        f"(target p99 < {TARGET_P99_MS:.0f} ms) {verdict(p99 < TARGET_P99_MS)}"
    )
    print(
        f"baseline GET /healthz  n={len(base)}  p50={percentile(base, 50):7.2f} ms  "
        f"p99={percentile(base, 99):7.2f} ms  max={base[-1]:7.2f} ms  "
        f"mean={statistics.fmean(base):6.2f} ms  "
        f"({len(base) / measured.baseline_seconds:,.0f} requests/s)"
    )
    if cpu["baseline"]:
        print(f"  CPU during the baseline: {shares(cpu['baseline'], measured.baseline_seconds)}")
    print(
        f"  ratio webhook/healthz: p50 {percentile(hooks, 50) / percentile(base, 50):.1f}x, "
        f"p99 {p99 / percentile(base, 99):.1f}x"
    )

    drained = measured.drained
    print(
        f"outbox drained in {drained.seconds:.1f} s after the last 2xx"
        + (
            ""
            if drained.pending_left == 0
            else f": NOT drained, {drained.pending_left} deliveries still pending"
        )
    )
    if cpu["drain"]:
        print(f"  CPU during the drain: {shares(cpu['drain'], drained.seconds)}")
    for kind, (rows, attempts, left) in stored.deliveries.items():
        print(f"  delivery {kind:<20} rows={rows:>5}  attempts={attempts:>5}  not done={left}")

    incidents = max(1, stored.incidents)
    methods = Counter(call.method for call in outcome.calls)
    print(f"Slack calls per incident ({stored.incidents} incidents, {len(outcome.calls)} calls):")
    for method, n in sorted(methods.items()):
        print(f"  {method:<24} {n:>6}  {n / incidents:6.2f} per incident")
    print(f"  {'total':<24} {len(outcome.calls):>6}  {len(outcome.calls) / incidents:6.2f}")
    refused = Counter(f"{c.method} {c.status} {c.error}" for c in outcome.calls if not c.ok)
    for what, n in refused.most_common():
        print(f"  not ok: {what} x{n}")
    summary = outcome.fake_summary
    violations = summary["violations"]
    assert isinstance(violations, list)
    print(
        f"  fake Slack: {summary['channels']} incident channels, {summary['pinned']} with a "
        f"pinned card; violations: {len(violations)}"
    )
    for violation in violations[:5]:
        print(f"    {violation}")

    strict, margin = crowding(outcome.calls, 1.0), crowding(outcome.calls, PACING_WINDOW)
    print(
        f"most messages in one channel within one second: {margin.most} (in "
        f"{channel_name(margin.channel)}; must be <= {TARGET_POSTS_PER_SECOND}) "
        f"{verdict(margin.most <= TARGET_POSTS_PER_SECOND)}"
    )
    print(
        f"  counted over {PACING_WINDOW:.1f} s, as the test suite counts; over a full "
        f"1.0 s: {strict.most} (in {channel_name(strict.channel)})"
    )
    if strict.closest_channel:
        print(
            f"  closest two posts to one channel: {strict.closest_gap * 1000:.0f} ms apart "
            f"(in {channel_name(strict.closest_channel)}), as the fake Slack received them"
        )
    probes = sorted(outcome.measured.drained.probe_ms)
    if probes:
        lag = probes[-1]
        print(
            f"  the fake Slack answered the bench's {PROBE_METHOD} in p50 "
            f"{percentile(probes, 50):.0f} ms, max {lag:.0f} ms during the drain"
            + (
                f": it stamps calls late when that busy, so posts warroom paced may "
                f"look closer than they were sent (over {FAKE_LAG_MS:.0f} ms)"
                if lag > FAKE_LAG_MS
                else ""
            )
        )


def shares(cpu: dict[str, float], wall: float) -> str:
    return ", ".join(
        f"{name} {seconds:.1f} s ({seconds / wall if wall > 0 else 0:.0%} of a core)"
        for name, seconds in cpu.items()
    )


def channel_name(channel: str) -> str:
    return "the announce channel" if channel == ANNOUNCE_CHANNEL else channel or "no channel"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=200, help="alert groups (incidents)")
    parser.add_argument("--alerts-per-group", type=int, default=50, help="alerts in each group")
    parser.add_argument("--new-per-body", type=int, default=5, help="alerts new in each body")
    parser.add_argument("--concurrency", type=int, default=16, help="bodies in flight")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("WARROOM_TEST_DATABASE_URL") or None,
        help="a Postgres server to run on too (default: $WARROOM_TEST_DATABASE_URL)",
    )
    parser.add_argument(
        "--sqlite", action=argparse.BooleanOptionalAction, default=True, help="run on SQLite"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=600.0, help="seconds to wait for the outbox"
    )
    parser.add_argument("--specs", type=Path, default=ROOT / "tests" / "specs" / "slack")
    args = parser.parse_args()
    if min(args.groups, args.alerts_per_group, args.new_per_body, args.concurrency) < 1:
        parser.error("--groups, --alerts-per-group, --new-per-body and --concurrency must be >= 1")
    servers: list[str | None] = ([None] if args.sqlite else []) + (
        [args.postgres_url] if args.postgres_url else []
    )
    if not servers:
        parser.error("nothing to run: --no-sqlite and no --postgres-url")
    if args.postgres_url is None:
        print("no --postgres-url (nor WARROOM_TEST_DATABASE_URL): SQLite only")
    workdir = Path(tempfile.mkdtemp(prefix="warroom-alert-storm-"))
    for server_url in servers:
        began = time.monotonic()
        outcome = run_one(args, server_url, workdir)
        report(outcome)
        print(f"{outcome.backend} run took {time.monotonic() - began:.0f} s in all")
    print(f"\nserver logs: {workdir}")


if __name__ == "__main__":
    main()
