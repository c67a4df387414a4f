"""How long does the postmortem document of a huge incident take to render?

Seeds one incident with 10,000 timeline entries of every kind (an alert storm's worth,
two days long), its roles, members, written postmortem and action items, in a scratch
SQLite file, then measures, each as the median of `--runs`:

1. the baselines: reading the 10,000 entries alone (`entries_of`, what any rendering
   must pay), and loading and rendering a 100-entry incident;
2. load + render Markdown of the 10,000-entry incident (target < 0.5 s), HTML, and the
   Confluence body;
3. the export end to end, as an operator runs it: `warroom postmortem INC-1 -o FILE`
   in a subprocess against the scratch database, next to `warroom --version` (the
   interpreter and imports alone).

    .venv/bin/python bench/postmortem.py [--runs 5] [--entries 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.incidents.members import add_member  # noqa: E402
from bot.incidents.status import Status  # noqa: E402
from bot.incidents.timeline import entries_of, record_entries  # noqa: E402
from bot.policy.schema import Policy, default_policy  # noqa: E402
from bot.postmortem.document import (  # noqa: E402
    HtmlRenderer,
    load_document,
    render_confluence,
    render_html,
    render_markdown,
)
from bot.postmortem.document_sample import sample_entries  # noqa: E402
from bot.storage.database import Database, upgrade_database  # noqa: E402
from bot.storage.models import Incident, IncidentRole, insert_incident  # noqa: E402
from bot.storage.postmortem_models import ActionItem, Postmortem  # noqa: E402
from bot.text.templates import Renderer  # noqa: E402

TARGET_S = 0.5
START = datetime(2026, 11, 22, 14, 8, tzinfo=UTC)
WARROOM = ROOT / ".venv" / "bin" / "warroom"


def seed(session: Session, *, number: int, entries: int) -> None:
    """An incident of `entries` timeline entries, every kind in turn, over two days."""
    incident = insert_incident(
        session,
        number=number,
        title=f"Checkout errors <{number}>",
        severity="SEV2",
        impact="8% of checkouts failed",
        status=Status.RESOLVED,
        declared_by="U0DECLARER",
        started_at=START,
        resolved_at=START + timedelta(days=2),
        resolution="Pool size raised",
    )
    incident_id = incident.id or 0
    kinds = sample_entries()
    step = timedelta(days=2) / entries
    record_entries(
        session,
        [
            {
                "incident_id": incident_id,
                "kind": kinds[i % len(kinds)].kind,
                "at": START + step * i,
                "actor": kinds[i % len(kinds)].actor,
                "text": kinds[i % len(kinds)].text,
                "data": kinds[i % len(kinds)].data,
                "source": None,
            }
            for i in range(entries)
        ],
    )
    for user in ("U0DECLARER", "U0RESPONDER", "U0WATCHER"):
        add_member(session, incident_id=incident_id, user_id=user, now=START)
    session.add(
        IncidentRole(
            incident_id=incident_id,
            role="commander",
            user_id="U0DECLARER",
            assigned_at=START,
            assigned_by="U0DECLARER",
        )
    )
    session.add(
        Postmortem(
            incident_id=incident_id,
            root_cause="A deploy halved the connection pool.",
            impact="- User impact: 8% of checkouts failed\n- Business impact: orders delayed",
            went_well="Paged in time",
            written_by="U0DECLARER",
            written_at=START + timedelta(days=3),
        )
    )
    session.add(
        ActionItem(
            incident_id=incident_id,
            number=1,
            text="Alert on pool saturation",
            owner="U0RESPONDER",
            due=date(2026, 12, 9),
            created_by="U0DECLARER",
            created_at=START + timedelta(days=3),
        )
    )


def median_of(runs: int, work: Callable[[], Any]) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def incident_of(session: Session, number: int) -> Incident:
    from sqlalchemy import select
    from sqlmodel import col

    return session.scalars(select(Incident).where(col(Incident.number) == number)).one()


def in_session(db: Database, work: Callable[[Session], Any]) -> Callable[[], Any]:
    """`work` in a fresh read, as each export reads: nothing cached from the last run."""

    def run() -> Any:
        with Session(db.engine) as session:
            return work(session)

    return run


def command_seconds(runs: int, args: list[str], env: dict[str, str], cwd: Path) -> float:
    def run() -> None:
        subprocess.run(args, env=env, cwd=cwd, check=True, capture_output=True)

    return median_of(runs, run)


def export_command() -> list[str]:
    """`warroom postmortem`, or, in a checkout whose CLI does not list it yet, the same
    command function run on its own (the same settings, database and rendering)."""
    listed = subprocess.run([str(WARROOM), "postmortem", "--help"], capture_output=True)
    if listed.returncode == 0:
        return [str(WARROOM), "postmortem"]
    print("(warroom postmortem is not registered here: running its command function)")
    return [
        sys.executable,
        "-c",
        "import typer; from bot.postmortem.export_cli import postmortem_command; "
        "typer.run(postmortem_command)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--entries", type=int, default=10_000)
    options = parser.parse_args()
    policy: Policy = default_policy()
    renderer = Renderer()
    pages = HtmlRenderer(renderer)

    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as scratch:
        workdir = Path(scratch)
        url = f"sqlite:///{workdir / 'bench.db'}"
        upgrade_database(url)
        db = Database(url, threads=1)
        with Session(db.engine) as session, session.begin():
            seed(session, number=1, entries=options.entries)
            seed(session, number=2, entries=100)

        def markdown_of(number: int) -> Callable[[Session], str]:
            def work(session: Session) -> str:
                data = load_document(session, incident_of(session, number), policy=policy)
                return render_markdown(data, renderer)

            return work

        def html_of(session: Session) -> str:
            return render_html(
                load_document(session, incident_of(session, 1), policy=policy), pages
            )

        def confluence_of(session: Session) -> str:
            data = load_document(session, incident_of(session, 1), policy=policy)
            return render_confluence(data, pages)

        runs = options.runs
        in_session(db, markdown_of(1))()  # warm: templates compiled, mappers configured
        read_s = median_of(runs, in_session(db, lambda s: entries_of(s, incident_of(s, 1).id or 0)))
        small_s = median_of(runs, in_session(db, markdown_of(2)))
        markdown_s = median_of(runs, in_session(db, markdown_of(1)))
        html_s = median_of(runs, in_session(db, html_of))
        confluence_s = median_of(runs, in_session(db, confluence_of))
        size = len(in_session(db, markdown_of(1))().encode())
        db.dispose()

        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": scratch,
            "WARROOM_DATABASE_URL": url,
        }
        output = workdir / "INC-1-postmortem.md"
        startup_s = command_seconds(runs, [str(WARROOM), "--version"], env, workdir)
        export_s = command_seconds(
            runs, [*export_command(), "INC-1", "-o", str(output)], env, workdir
        )
        exported = output.stat().st_size

    entries = options.entries
    print(f"postmortem document, {entries} timeline entries (median of {runs} runs)")
    print(f"  baseline: read the {entries} entries alone      {read_s * 1000:8.1f} ms")
    print(f"  baseline: load + render Markdown, 100 entries {small_s * 1000:8.1f} ms")
    print(f"  load + render Markdown ({size / 1e6:.2f} MB)        {markdown_s * 1000:8.1f} ms")
    print(f"  load + render HTML                          {html_s * 1000:8.1f} ms")
    print(f"  load + render Confluence body               {confluence_s * 1000:8.1f} ms")
    print(f"  warroom --version (start-up alone)          {startup_s * 1000:8.1f} ms")
    print(f"  warroom postmortem INC-1 -o FILE ({exported / 1e6:.2f} MB) {export_s * 1000:8.1f} ms")
    print(
        f"  ratios: Markdown / reading the entries {markdown_s / read_s:.1f}x, "
        f"/ 100 entries {markdown_s / small_s:.0f}x; "
        f"export / start-up {export_s / startup_s:.1f}x"
    )
    verdict = "met" if markdown_s < TARGET_S else "MISSED"
    print(f"  target: Markdown under {TARGET_S * 1000:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
