"""warroom's own metrics: one `Metrics` per process, served at GET /metrics.

Each process has a registry of its own (never prometheus_client's global one), so that
several apps in one test process never share a count, and each replica exposes what it
did itself. Counters and histograms move where the thing they count becomes true: an
incident's milestones once the transaction that stores them has committed
(bot/observability/metrics_commit.py), a chat call when its answer comes back, a webhook
when it is answered. What the database holds (open incidents, the outbox) is read at
scrape time instead (bot/observability/metrics_database.py), so that it is right across
replicas and restarts.

Recording never raises (a failure is logged): a metric must never break the thing it
measures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial, wraps
from typing import Literal, ParamSpec

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy.orm import Session

from bot.chat.platforms import platform_of
from bot.diagnostics.results import Tally
from bot.incidents.status import Status
from bot.observability.metrics_commit import once_committed
from bot.storage.models import Incident

log = logging.getLogger(__name__)

# Where incidents come from, as the metrics name it: a person's command in Slack, an
# alert (any source, or a person declaring from an alert's card), a person in Teams.
SOURCES = ("command", "alert", "teams")
ChatOutcome = Literal["ok", "error", "rate_limited"]
# What a chat adapter calls for each call it makes: (method, outcome).
ChatCallObserver = Callable[[str, ChatOutcome], None]
TimerKind = Literal["escalation", "reminder"]
DiagnosticsResult = Literal["passed", "warned", "failed", "interrupted"]

# From half a minute to a day: an incident acknowledged in seconds and one resolved the
# next morning both land in a bucket that says something.
INCIDENT_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400)
# A timer is normally late by the tick's own delay (milliseconds); a process that was
# down fires what came due meanwhile, minutes or hours late.
LATENESS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


def incident_source(incident: Incident) -> str:
    """`source` of the incident metrics: command, alert or teams."""
    if incident.source != "command":
        return "alert"
    return "teams" if platform_of(incident.declared_in) == "teams" else "command"


def diagnostics_result(tally: Tally, *, interrupted: bool) -> DiagnosticsResult:
    """One word for a whole run: its worst outcome."""
    if interrupted or tally.interrupted:
        return "interrupted"
    if tally.failed:
        return "failed"
    return "warned" if tally.warned else "passed"


P = ParamSpec("P")


def _never_raises(record: Callable[P, None]) -> Callable[P, None]:
    """A recording that logs its own failure instead of failing the caller's work."""

    @wraps(record)
    def recorded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            record(*args, **kwargs)
        except Exception:
            log.exception("a metric could not be recorded")

    return recorded


class Metrics:
    """The registry and every instrument of one process.

    `severities`: the policy's, so that every severity shows from the first scrape (a
    rate over a series that appears only at its first incident misses that incident)."""

    def __init__(self, *, severities: Iterable[str] = (), process: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        if process:  # CPU, memory, open files, GC: of this process, in its own registry
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        registry = self.registry
        self.declared = Counter(
            "warroom_incidents_declared",
            "Incidents declared, by severity and source (command, alert, teams)",
            ["severity", "source"],
            registry=registry,
        )
        self.resolved = Counter(
            "warroom_incidents_resolved",
            "Incidents resolved (again after a reopen counts again), by severity and source",
            ["severity", "source"],
            registry=registry,
        )
        self.time_to_acknowledge = Histogram(
            "warroom_time_to_acknowledge_seconds",
            "From declaration to acknowledgement (MTTA), observed when the ack is stored",
            ["severity"],
            buckets=INCIDENT_BUCKETS,
            registry=registry,
        )
        self.time_to_resolve = Histogram(
            "warroom_time_to_resolve_seconds",
            "From declaration to resolution (MTTR), observed when the resolution is stored",
            ["severity"],
            buckets=INCIDENT_BUCKETS,
            registry=registry,
        )
        self.chat_calls = Counter(
            "warroom_chat_api_calls",
            "Chat platform API calls (each attempt) by platform, API method and outcome "
            "(ok, error, rate_limited)",
            ["platform", "method", "outcome"],
            registry=registry,
        )
        self.chat_rate_limited = Counter(
            "warroom_chat_api_rate_limited",
            "Chat platform API calls answered 429, including those the client retried",
            ["platform", "method"],
            registry=registry,
        )
        self.timer_lateness = Histogram(
            "warroom_timer_lateness_seconds",
            "How late each fired timer ran against its due time, by timer (escalation, reminder)",
            ["timer"],
            buckets=LATENESS_BUCKETS,
            registry=registry,
        )
        self.alert_webhooks = Counter(
            "warroom_alert_webhooks",
            "Alert webhook requests by source and the HTTP status answered",
            ["source", "status"],
            registry=registry,
        )
        self.diagnostics_runs = Counter(
            "warroom_diagnostics_runs",
            "Diagnostics runs finished, by result (passed, warned, failed, interrupted)",
            ["result"],
            registry=registry,
        )
        for severity in severities:
            self.time_to_acknowledge.labels(severity)
            self.time_to_resolve.labels(severity)
            for source in SOURCES:
                self.declared.labels(severity, source)
                self.resolved.labels(severity, source)

    # incidents: recorded once the transaction committed --------------------------------

    @_never_raises
    def incident_declared(self, session: Session, incident: Incident) -> None:
        labels = (incident.severity, incident_source(incident))
        once_committed(session, lambda: self.declared.labels(*labels).inc())

    @_never_raises
    def incident_acknowledged(self, session: Session, incident: Incident) -> None:
        if incident.acknowledged_at is None:
            return
        waited = (incident.acknowledged_at - incident.started_at).total_seconds()
        histogram = self.time_to_acknowledge.labels(incident.severity)
        once_committed(session, lambda: histogram.observe(max(waited, 0.0)))

    @_never_raises
    def incident_moved(self, session: Session, incident: Incident, *, was: Status) -> None:
        """After any change of an incident: counts a resolution if this change made one."""
        if incident.status is not Status.RESOLVED or was is Status.RESOLVED:
            return
        resolved_at = incident.resolved_at or incident.started_at
        took = max((resolved_at - incident.started_at).total_seconds(), 0.0)
        counter = self.resolved.labels(incident.severity, incident_source(incident))
        histogram = self.time_to_resolve.labels(incident.severity)

        def record() -> None:
            counter.inc()
            histogram.observe(took)

        once_committed(session, record)

    @_never_raises
    def timer_fired(
        self, session: Session, timer: TimerKind, *, due: datetime | None, now: datetime
    ) -> None:
        if due is None:
            return
        late = max((now - due).total_seconds(), 0.0)
        histogram = self.timer_lateness.labels(timer)
        once_committed(session, lambda: histogram.observe(late))

    @_never_raises
    def diagnostics_finished(self, session: Session, tally: Tally, *, interrupted: bool) -> None:
        result = diagnostics_result(tally, interrupted=interrupted)
        once_committed(session, lambda: self.diagnostics_runs.labels(result).inc())

    # calls and requests: recorded as they are answered ----------------------------------

    @_never_raises
    def chat_call(self, platform: str, method: str, outcome: ChatOutcome) -> None:
        self.chat_calls.labels(platform, method, outcome).inc()
        if outcome == "rate_limited":
            self.chat_rate_limited.labels(platform, method).inc()

    def chat_calls_of(self, platform: str) -> ChatCallObserver:
        """What `platform`'s adapter calls for each API call."""
        return partial(self.chat_call, platform)

    @_never_raises
    def alert_webhook(self, source: str, status: int) -> None:
        self.alert_webhooks.labels(source, str(status)).inc()
