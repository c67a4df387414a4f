"""Do timers fire once, on time, across processes? Next Update reminders under load.

Creates N open incidents (declared through the service, their channels and cards set up
by the servers against a fake Slack), then moves every "Next Update" deadline to a random
moment within the next 60 s and lets the servers fire. Prints how many reminders fired
(must equal N), duplicates (must be 0) and lateness p50 / p99 (target p99 < 1 s): from
each deadline to the moment its reminder was committed.

    .venv/bin/python bench/timers.py                       # 1 process on SQLite
    .venv/bin/python bench/timers.py --processes 3 \\
        --database postgresql+psycopg://postgres@127.0.0.1:54329/warroom_bench

Needs the Slack specs beside the project (../shared/specs/slack) for the fake Slack.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ack_latency import FakeSlackProcess, start  # noqa: E402
from bot.clock import utc_now  # noqa: E402
from bot.incidents.declare import Declaration, IncidentService  # noqa: E402
from bot.policy.schema import default_policy  # noqa: E402
from bot.storage.database import Database, upgrade_database  # noqa: E402
from tests.e2e.conftest import free_port  # noqa: E402


async def declare(url: str, count: int) -> None:
    db = Database(url)
    service = IncidentService(db=db, policy=default_policy(), clock=utc_now)
    await asyncio.gather(
        *(
            service.declare(Declaration(title=f"Bench {i}", severity="sev2", declared_by="U0BENCH"))
            for i in range(count)
        )
    )
    db.dispose()


def pending(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM delivery WHERE state = 'pending'")
            ).scalar_one()
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--database", default="")
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--specs", type=Path, default=ROOT.parent / "shared" / "specs" / "slack")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="warroom-timers-"))
    url = args.database or f"sqlite:///{workdir / 'timers.db'}"
    upgrade_database(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WARROOM_"))}
    env["PYTHONPATH"] = str(ROOT)
    fake = FakeSlackProcess(args.specs, env)
    env.update(
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_SIGNING_SECRET="bench",
        WARROOM_SLACK_API_URL=fake.api_url,
        WARROOM_DATABASE_URL=url,
        WARROOM_LOG_LEVEL="WARNING",
    )
    servers = []
    try:
        asyncio.run(declare(url, args.incidents))
        for n in range(args.processes):
            port = free_port()
            command = [sys.executable, "-m", "bot", "serve", "--port", str(port)]
            servers.append(start(command, env, port, workdir / f"server-{n}.log"))
        setup = time.monotonic()
        while pending(url) and time.monotonic() - setup < 600:
            time.sleep(1)
        print(
            f"{args.incidents} incidents set up (channels, cards) "
            f"in {time.monotonic() - setup:.1f}s"
        )
        engine = create_engine(url)
        now = datetime.now(UTC)
        due: dict[int, datetime] = {}
        with engine.begin() as connection:
            ids = connection.execute(text("SELECT id FROM incident")).scalars().all()
            for incident_id in ids:
                when = now + timedelta(seconds=5 + random.uniform(0, args.window))
                due[int(incident_id)] = when
                connection.execute(
                    text(
                        "UPDATE incident SET next_update_at = :w, next_reminder_at = :w "
                        "WHERE id = :i"
                    ),
                    {
                        "w": when if "postgresql" in url else when.replace(tzinfo=None),
                        "i": incident_id,
                    },
                )
        time.sleep(args.window + 10)
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT incident_id, created_at, payload FROM delivery "
                    "WHERE kind = 'post_message' AND created_at >= :since"
                ),
                {"since": now if "postgresql" in url else now.replace(tzinfo=None)},
            ).all()
        fired: dict[int, list[datetime]] = {}
        for incident_id, created_at, payload in rows:
            if "the next update was due" in str(payload):  # a reminder, not another message
                if isinstance(created_at, str):  # SQLite hands back text
                    created_at = datetime.fromisoformat(created_at)
                stamp = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
                fired.setdefault(int(incident_id), []).append(stamp)
        lateness = sorted(
            (min(stamps) - due[i]).total_seconds() * 1000 for i, stamps in fired.items()
        )
        duplicates = sum(len(stamps) - 1 for stamps in fired.values())
        backend = "Postgres" if "postgresql" in url else "SQLite"
        print(
            f"\n{args.processes} process(es) on {backend}, "
            f"{args.incidents} deadlines within {args.window:.0f}s"
        )
        print(f"reminders fired: {len(fired)} (must be {args.incidents})")
        print(f"duplicates: {duplicates} (must be 0)")
        if lateness:
            p99 = lateness[min(len(lateness) - 1, round(0.99 * (len(lateness) - 1)))]
            print(
                f"lateness p50={statistics.median(lateness):.0f} ms  p99={p99:.0f} ms  "
                f"max={lateness[-1]:.0f} ms (target p99 < 1000 ms)"
            )
        ok = len(fired) == args.incidents and duplicates == 0 and lateness and p99 < 1000
        print("targets met" if ok else "targets NOT met")
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        fake.finish()


if __name__ == "__main__":
    main()
