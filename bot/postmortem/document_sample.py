"""A made-up incident with every kind of timeline entry, every header figure and every
section: what the start-up check renders each document template with, so that a broken
template (or an override of one) is found before anyone exports a postmortem."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.incidents.status import Status
from bot.policy.schema import default_policy
from bot.postmortem.document_build import build_document
from bot.postmortem.document_data import DocumentData
from bot.storage.models import Incident, IncidentMember, IncidentRole, TimelineEntry, TimelineKind
from bot.storage.postmortem_models import ActionItem, Postmortem
from bot.text.markdown import alert_actor

_START = datetime(2026, 1, 5, 23, 40, tzinfo=UTC)
_COMMANDER, _RESPONDER = "U0SAMPLE1", "U0SAMPLE2"


def _at(minutes: int) -> datetime:
    return _START + timedelta(minutes=minutes)


# (minutes after the start, kind, actor, text, data): the day changes after midnight.
_ENTRIES: tuple[tuple[int, TimelineKind, str | None, str, dict[str, Any]], ...] = (
    (0, TimelineKind.DECLARED, _COMMANDER, "", {"severity": "SEV3"}),
    (
        1,
        TimelineKind.ALERT,
        alert_actor("alertmanager"),
        "5xx rate above 5% <b>",
        {
            "alert": "firing",
            "alertname": "HighErrorRate",
            "labels": {"instance": "10.0.0.6:8080"},
            "link": "https://grafana.example.com/d/1?from=now-1h&to=now",
        },
    ),
    (2, TimelineKind.ACKNOWLEDGED, _COMMANDER, "", {"after_seconds": 120}),
    (3, TimelineKind.ESCALATED, None, "", {"level": "L2", "name": "Tech lead"}),
    (4, TimelineKind.ROLE_ASSIGNED, _COMMANDER, "", {"role": "commander", "user": _COMMANDER}),
    (5, TimelineKind.SEVERITY_CHANGED, _COMMANDER, "", {"old": "SEV3", "new": "SEV2"}),
    (6, TimelineKind.NOTE, _RESPONDER, "Pool at **100%**; see <user:U0SAMPLE1>", {}),
    (
        7,
        TimelineKind.MESSAGE,
        _RESPONDER,
        "rolling back",
        {"permalink": "https://example.slack.com/archives/C0/p1"},
    ),
    (8, TimelineKind.SILENCED, _COMMANDER, "", {"until": _at(68).isoformat()}),
    (
        9,
        TimelineKind.DIAGNOSTICS,
        _RESPONDER,
        "",
        {
            "label": "runbook Checkout",
            "state": "done",
            "tally": {"passed": 1, "failed": 1},
            "checks": [
                {"name": "app-port", "outcome": "failed", "summary": "connection refused"},
                {"name": "db", "outcome": "passed", "summary": "ok"},
            ],
        },
    ),
    (10, TimelineKind.DELIVERY_FAILED, None, "pager refused the page", {}),
    (11, TimelineKind.COMPONENTS_SET, _COMMANDER, "Checkout, API", {}),
    (12, TimelineKind.MADE_PUBLIC, _COMMANDER, "Card payments failing", {}),
    (
        20,
        TimelineKind.STATUS_CHANGED,
        _COMMANDER,
        "",
        {"old": "Investigating", "new": "Mitigating"},
    ),
    (25, TimelineKind.UPDATE, _COMMANDER, "Rollback done, errors falling", {}),
    (30, TimelineKind.RESOLVED, _COMMANDER, "Rolled back the deploy", {}),
    (35, TimelineKind.REOPENED, _COMMANDER, "errors back", {}),
    (50, TimelineKind.RESOLVED, _COMMANDER, "Pool size raised", {}),
    (60, TimelineKind.POSTMORTEM, _COMMANDER, "", {"op": "written"}),
    (61, TimelineKind.ACTION_ITEM, _COMMANDER, "", {"op": "added", "number": 1}),
)


def sample_entries() -> list[TimelineEntry]:
    """One entry of each kind, a minute or more apart, across a UTC midnight."""
    return [
        TimelineEntry(
            id=number, incident_id=1, kind=kind, at=_at(minutes), actor=actor, text=text, data=data
        )
        for number, (minutes, kind, actor, text, data) in enumerate(_ENTRIES, start=1)
    ]


def sample_document() -> DocumentData:
    incident = Incident(
        id=1,
        number=1,
        title="Sample: checkout errors <script> **x**",
        severity="SEV2",
        impact="",
        status=Status.RESOLVED,
        declared_by=_COMMANDER,
        started_at=_START,
        resolved_at=_at(50),
        resolution="Pool size raised",
        source="command",
    )
    written = Postmortem(
        incident_id=1,
        root_cause="A deploy halved the pool.\n\n- first cause\n- second cause",
        impact="- User impact: 8% of checkouts failed\n- Business impact: orders delayed",
        resolution="",
        went_well="Paged in time",
        could_improve="",
        written_by=_COMMANDER,
        written_at=_at(60),
        exports=1,
    )
    items = [
        ActionItem(
            incident_id=1,
            number=1,
            text="Alert on pool saturation",
            owner=_RESPONDER,
            due=date(2026, 1, 20),
            created_by=_COMMANDER,
            created_at=_at(61),
        ),
        ActionItem(
            incident_id=1,
            number=2,
            text="Load test the pool",
            created_by=_COMMANDER,
            created_at=_at(62),
            done_at=_at(63),
        ),
    ]
    return build_document(
        incident,
        entries=sample_entries(),
        roles=[
            IncidentRole(
                incident_id=1,
                role="commander",
                user_id=_COMMANDER,
                assigned_at=_at(4),
                assigned_by=_COMMANDER,
            )
        ],
        members=[IncidentMember(incident_id=1, user_id=_RESPONDER, added_at=_at(6))],
        written=written,
        action_items=items,
        policy=default_policy(),
    )
