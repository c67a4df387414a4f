"""Do timers fire once, on time, across processes? Next Update reminders under load.

Declares N incidents through the composition root, lets the servers (`warroom serve`,
against a fake Slack) open their channels and cards, then moves every "Next Update"
deadline to a random moment within the next 60 s and lets the servers fire. Prints how
many reminders fired (must equal N), duplicates (must be 0) and lateness p50 / p99 / max,
from each deadline to the moment its reminder was committed (target p99 < 100 ms).

    .venv/bin/python bench/timers.py                       # 1 process on SQLite
    .venv/bin/python bench/timers.py --processes 3 \\
        --database postgresql+psycopg://postgres@127.0.0.1:54331/warroom_bench

The fake Slack loads the Slack specs vendored in tests/specs/slack (or --specs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlmodel import col

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import FakeSlackProcess, free_port, percentile, start_server  # noqa: E402
from bot.app import Warroom, build  # noqa: E402
from bot.chat.fake import FakeChat  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.delivery.outbox import DeliveryKind, pending_count  # noqa: E402
from bot.incidents.declare import Declaration  # noqa: E402
from bot.storage.database import upgrade_database  # noqa: E402
from bot.storage.models import Delivery, Incident  # noqa: E402

TARGET_P99_MS = 100.0
LEAD = timedelta(seconds=5)  # before the first deadline: every server has polled by then
SETUP_TIMEOUT = 600.0
STRAGGLERS = 2.0  # after the last reminder: room for a duplicate to show itself


@dataclass
class Outcome:
    fired: int
    duplicates: int
    lateness_ms: list[float]  # sorted


async def declare(warroom: Warroom, count: int) -> None:
    """Declared in this process: the servers do the chat set-up the outbox holds."""
    await asyncio.gather(
        *(
            warroom.service.declare(
                Declaration(title=f"Bench {i}", severity="sev2", declared_by="U0BENCH")
            )
            for i in range(count)
        )
    )


async def settle(warroom: Warroom) -> float:
    """Wait for the servers to deliver every channel, invite and card; returns seconds."""
    started = time.monotonic()
    while await pending_count(warroom.db):
        if time.monotonic() - started > SETUP_TIMEOUT:
            raise SystemExit(f"deliveries still pending after {SETUP_TIMEOUT:.0f}s")
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def move_deadlines(warroom: Warroom, window: float) -> tuple[datetime, dict[int, datetime]]:
    """Every Next Update (and its reminder) to a random moment of the window. Written
    straight to the database, as another process would: the servers learn of them
    through their poll, not through a wake-up."""
    now = warroom.clock()
    due: dict[int, datetime] = {}

    def write(session: Session) -> None:
        for incident_id in session.scalars(select(col(Incident.id))):
            when = now + LEAD + timedelta(seconds=random.uniform(0, window))
            due[int(incident_id or 0)] = when
            session.execute(
                update(Incident)
                .where(col(Incident.id) == incident_id)
                .values(next_update_at=when, next_reminder_at=when)
            )

    await warroom.db.transaction(write)
    return now, due


async def reminders(warroom: Warroom, since: datetime) -> dict[int, list[datetime]]:
    """When each incident's reminders were committed. With the default policy nothing else
    posts in the window (the next escalations are 30 min away): every message is one."""

    def read(session: Session) -> dict[int, list[datetime]]:
        fired: dict[int, list[datetime]] = {}
        rows = session.execute(
            select(col(Delivery.incident_id), col(Delivery.created_at)).where(
                col(Delivery.kind) == DeliveryKind.POST_MESSAGE.value,
                col(Delivery.created_at) >= since,
            )
        )
        for incident_id, created_at in rows:
            fired.setdefault(int(incident_id), []).append(created_at)
        return fired

    return await warroom.db.transaction(read)


async def measure(warroom: Warroom, count: int, window: float) -> Outcome:
    since, due = await move_deadlines(warroom, window)
    last = max(due.values())
    give_up = last + timedelta(seconds=10)  # any still missing by then are misses
    while len(await reminders(warroom, since)) < count:
        if warroom.clock() > give_up:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(STRAGGLERS)
    fired = await reminders(warroom, since)
    return Outcome(
        fired=len(fired),
        duplicates=sum(len(stamps) - 1 for stamps in fired.values()),
        lateness_ms=sorted(
            (min(stamps) - due[i]).total_seconds() * 1000 for i, stamps in fired.items()
        ),
    )


def report(outcome: Outcome, args: argparse.Namespace, backend: str) -> bool:
    print(
        f"\n{args.processes} process(es) on {backend}, "
        f"{args.incidents} deadlines within {args.window:.0f}s"
    )
    print(f"reminders fired: {outcome.fired} (must be {args.incidents})")
    print(f"duplicates: {outcome.duplicates} (must be 0)")
    late = outcome.lateness_ms
    if not late:
        print("targets NOT met")
        return False
    p99 = percentile(late, 99)
    print(
        f"lateness p50={statistics.median(late):.0f} ms  p99={p99:.0f} ms  "
        f"max={late[-1]:.0f} ms (target p99 < {TARGET_P99_MS:.0f} ms)"
    )
    ok = outcome.fired == args.incidents and outcome.duplicates == 0 and p99 < TARGET_P99_MS
    print("targets met" if ok else "targets NOT met")
    return ok


def server_env(fake: FakeSlackProcess, base: dict[str, str], url: str) -> dict[str, str]:
    return {
        **base,
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": "bench",
        "WARROOM_SLACK_API_URL": fake.api_url,
        "WARROOM_DATABASE_URL": url,
        "WARROOM_LOG_LEVEL": "WARNING",
    }


async def run(args: argparse.Namespace, url: str, workdir: Path) -> bool:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WARROOM_"))}
    base["PYTHONPATH"] = str(ROOT)
    fake = FakeSlackProcess(args.specs, base)
    # The composition root, with a chat that is never called: this process runs no worker.
    warroom = build(Settings(_env_file=None, database_url=url), chat=FakeChat())
    servers: list[subprocess.Popen[bytes]] = []
    try:
        await declare(warroom, args.incidents)
        env = server_env(fake, base, url)
        for n in range(args.processes):
            port = free_port()
            command = [sys.executable, "-m", "bot", "serve", "--port", str(port)]
            servers.append(start_server(command, env, port, workdir / f"server-{n}.log"))
        took = await settle(warroom)
        print(f"{args.incidents} incidents set up (channels, cards) in {took:.1f}s")
        outcome = await measure(warroom, args.incidents, args.window)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        fake.finish()
        await warroom.http.aclose()
        warroom.db.dispose()
    return report(outcome, args, "SQLite" if warroom.db.is_sqlite else "Postgres")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--database", default="", help="an empty database (default: SQLite)")
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--specs", type=Path, default=ROOT / "tests" / "specs" / "slack")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="warroom-timers-"))
    url = args.database or f"sqlite:///{workdir / 'timers.db'}"
    if url.startswith("sqlite") and args.processes != 1:
        raise SystemExit("SQLite serves one process: use --database postgresql+psycopg://…")
    upgrade_database(url)
    ok = asyncio.run(run(args, url, workdir))
    print(f"server logs: {workdir}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
