"""Every message template, rendered with realistic (and hostile) data, makes a card and a
plain reply that Teams accepts: valid against the Adaptive Cards 1.5 schema, within the
activity limit, every mention claimed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from bot.alerts.messages import alert_digest, on_card, triage_card
from bot.alerts.store import IncidentAlerts
from bot.chat.port import Message
from bot.chat.teams.cards import message_activity, text_activity
from bot.diagnostics.messages import detail_message, run_message
from bot.diagnostics.results import CheckOutcome, CheckResult
from bot.inbound.commands import usage
from bot.incidents.cards import all_clear, announcement, channel_ready, incident_card
from bot.incidents.status import Status
from bot.incidents.timeline import lines
from bot.policy.diagnostics import DiagnosticsPolicy
from bot.policy.schema import default_policy
from bot.postmortem.actions import ListedItem
from bot.postmortem.document import render_markdown
from bot.postmortem.document_sample import sample_document
from bot.postmortem.stats import Spread, Stats, render_stats
from bot.storage.models import (
    AlertGroup,
    DiagnosticRun,
    Incident,
    IncidentRole,
    RunState,
    TimelineEntry,
    TimelineKind,
)
from bot.text.markdown import alert_actor, channel_ref, group_ref, link, user_ref
from bot.text.templates import Renderer
from tests.conftest import PROJECT_ROOT
from tests.support.adaptive_cards import activity_problems

STARTED = datetime(2026, 11, 22, 14, 8, tzinfo=UTC)
HOSTILE_TITLE = "<!channel> **Checkout** </script> <at>evil</at> _down_ [x](https://evil.example)"
DECLARER, RESPONDER = "29:1declarer", "29:1responder"
NAMES = {DECLARER: "Ann Example", RESPONDER: "Bo <Responder> & co"}
RENDERER = Renderer()
POLICY = default_policy()
DIAGNOSTICS = DiagnosticsPolicy.model_validate(
    {
        "checks": [
            {"name": "api-health", "type": "http", "url": "https://api.example.com/health"},
            {"name": "app-port", "type": "tcp", "host": "10.0.0.5", "port": 3000},
        ],
        "runbooks": [
            {
                "name": "app-unresponsive",
                "title": "Application unresponsive",
                "steps": [
                    {"check": "api-health", "hint": "Restart the container"},
                    {"check": "app-port"},
                ],
            }
        ],
    }
)


def at(minutes: float) -> datetime:
    return STARTED + timedelta(minutes=minutes)


def make_incident(**overrides: object) -> Incident:
    values: dict[str, object] = dict(
        id=1,
        number=7,
        title=HOSTILE_TITLE,
        severity="SEV2",
        impact="Checkout fails for ~30% of users *sometimes*",
        status=Status.INVESTIGATING,
        declared_by=DECLARER,
        started_at=STARTED,
        next_update_at=at(30),
        channel_id="teams:3",
    )
    values.update(overrides)
    return Incident(**values)  # type: ignore[arg-type]


def entry(minutes: float, kind: TimelineKind, actor: str | None, **values: object) -> TimelineEntry:
    text = str(values.pop("text", ""))
    return TimelineEntry(
        id=int(minutes * 10) + 1,
        incident_id=1,
        kind=kind,
        at=at(minutes),
        actor=actor,
        text=text,
        data=dict(values),
    )


def timeline() -> list[TimelineEntry]:
    return [
        entry(0, TimelineKind.DECLARED, DECLARER, severity="SEV2"),
        entry(
            1,
            TimelineKind.ALERT,
            alert_actor("alertmanager"),
            text="5xx rate above 5% <b>",
            alert="firing",
            alertname="HighErrorRate",
            labels={"instance": "10.0.0.6:8080"},
            link="https://grafana.example.com/d/1?from=now-1h&to=now",
        ),
        entry(2, TimelineKind.ACKNOWLEDGED, RESPONDER, after_seconds=120),
        entry(3, TimelineKind.NOTE, RESPONDER, text="Pool at **100%**; see <user:29:1declarer>"),
        entry(4, TimelineKind.ROLE_ASSIGNED, DECLARER, role="commander", user=RESPONDER),
    ]


def alerts() -> IncidentAlerts:
    return IncidentAlerts(
        firing=2,
        resolved=1,
        truncated=0,
        links=[("Graph", "https://grafana.example.com/d/1?from=now-1h&to=now")],
        groups=["HighErrorRate", "DiskFull {{DATE(2017-02-14T06:00:00Z, SHORT)}}"],
        sources=frozenset({"alertmanager"}),
    )


def diagnostics_run(state: RunState) -> DiagnosticRun:
    results = [
        CheckResult(
            "api-health",
            CheckOutcome.FAILED,
            "HTTP 500 **boom**",
            latency_ms=1520,
            details=("status 500", "body: <html>"),
            output='{"error": "*internal*", "trace": "  at <module>\\n\\tline 2"}\n---\n1. ok',
            hint="Restart the container",
        ),
        CheckResult("app-port", CheckOutcome.PASSED, "port 3000 open", latency_ms=3),
    ]
    return DiagnosticRun(
        id=5,
        incident_id=1,
        target="app-unresponsive",
        label="runbook Application unresponsive",
        checks=["api-health", "app-port"],
        state=state,
        requested_by=RESPONDER,
        requested_at=at(5),
        started_at=at(5),
        finished_at=at(5.1) if state is not RunState.RUNNING else None,
        results=[result.as_json() for result in results],
        message_ref="1700000000000",
    )


def triage_group(state: str | None) -> AlertGroup:
    return AlertGroup(
        id=3,
        source="alertmanager",
        key_hash="0" * 64,
        group_key='{}:{alertname="HighErrorRate"}',
        labels={"alertname": "HighErrorRate", "team": "<!here>"},
        title="HighErrorRate on **checkout**",
        severity="SEV2",
        route_index=0,
        action="notify",
        status="firing",
        first_seen_at=STARTED,
        last_seen_at=STARTED,
        triage_state=state,
        triaged_by=DECLARER if state else None,
    )


def _card_messages() -> list[Message]:
    commander = IncidentRole(
        incident_id=1, role="commander", user_id=RESPONDER, assigned_at=at(4), assigned_by=DECLARER
    )
    acknowledged = make_incident(acknowledged_at=at(2), acknowledged_by=RESPONDER)
    resolved = make_incident(
        status=Status.RESOLVED, resolved_at=at(95), resolution="Rolled back `v2`"
    )
    return [
        incident_card(make_incident(), timeline()[:1], policy=POLICY, renderer=RENDERER),
        incident_card(
            acknowledged,
            timeline(),
            roles=[commander],
            policy=POLICY,
            renderer=RENDERER,
            now=at(45),
            alerts=on_card(alerts(), silenced=user_ref(RESPONDER)),
            silenceable=True,
        ),
        incident_card(resolved, timeline(), policy=POLICY, renderer=RENDERER),
    ]


def _markdown(name: str, **context: object) -> list[Message]:
    return [Message(RENDERER.render(name, **context), fallback=f"rendered {name}")]


def _listing() -> list[Message]:
    incident = SimpleNamespace(
        key="INC-7",
        private=True,
        severity="SEV2",
        title=HOSTILE_TITLE,
        status="Investigating",
        age="12 min",
        channel=channel_ref("teams:3"),
    )
    return _markdown("incident_list.md.j2", incidents=[incident]) + _markdown(
        "incident_list.md.j2", incidents=[]
    )


def _action_items() -> list[Message]:
    items = [
        ListedItem(
            1, "Add a **pool** alert <!channel>", user_ref(RESPONDER), "2026-12-01", False, True
        ),
        ListedItem(2, "Document the rollback", None, "", True, False),
    ]
    return _markdown("action_items.md.j2", key="INC-7", items=items) + _markdown(
        "action_items.md.j2", key="INC-7", items=[]
    )


def _diagnostics() -> list[Message]:
    catalogue_checks = [
        {
            "name": "api-health",
            "type": "http",
            "timeout": "5s",
            "target": "https://api.example.com/health",
            "description": "the API's *health*",
        }
    ]
    runbooks = [
        {
            "name": "app-unresponsive",
            "title": "Application unresponsive",
            "steps": ["api-health", "app-port"],
            "stop_on_failure": True,
            "description": "",
        }
    ]
    return [
        run_message(diagnostics_run(RunState.RUNNING), number=7, renderer=RENDERER),
        run_message(diagnostics_run(RunState.DONE), number=7, renderer=RENDERER),
        run_message(diagnostics_run(RunState.INTERRUPTED), number=7, renderer=RENDERER),
        detail_message(
            diagnostics_run(RunState.DONE), number=7, renderer=RENDERER, policy=DIAGNOSTICS
        ),
        *_markdown("diagnostics_list.md.j2", checks=catalogue_checks, runbooks=runbooks),
        *_markdown("diagnostics_list.md.j2", checks=[], runbooks=[]),
    ]


def _alerts() -> list[Message]:
    changes = [
        entry(10 + n, TimelineKind.ALERT, alert_actor("alertmanager"), alert=kind, alertname="X")
        for n, kind in enumerate(["firing", "firing_again", "resolved"])
    ]
    digest_args = dict(renderer=RENDERER, silenceable=True, through=9)
    all_resolved = make_incident(alerts_resolved_at=at(20))
    no_firing = IncidentAlerts(0, 3, 0, [], [], frozenset({"alertmanager"}))
    return [
        alert_digest(make_incident(), changes, alerts(), **digest_args),  # type: ignore[arg-type]
        alert_digest(all_resolved, changes, no_firing, **digest_args),  # type: ignore[arg-type]
        triage_card(
            triage_group(None), alerts(), renderer=RENDERER, incident=None, source_name="AM"
        ),
        triage_card(
            triage_group("declared"),
            alerts(),
            renderer=RENDERER,
            incident=make_incident(),
            source_name="Alertmanager",
        ),
        triage_card(
            triage_group("ignored"), alerts(), renderer=RENDERER, incident=None, source_name="AM"
        ),
    ]


def _stats() -> list[Message]:
    stats = Stats(
        since=STARTED - timedelta(days=30),
        until=STARTED,
        days=30,
        incidents_by_severity={"SEV1": 1, "SEV2": 4},
        mtta=Spread(median=240.0, p90=900.0, count=5),
        mttr=Spread(median=None, p90=None, count=0),
        open_action_items=3,
        postmortems_overdue=1,
    )
    return [Message(render_stats(stats, RENDERER), fallback="stats")]


def _reminders() -> list[Message]:
    postmortem = dict(key="INC-7", meet_by=at(60 * 48), complete_by=at(60 * 120))
    return [
        *_markdown(
            "reminder.md.j2", key="INC-7", due_at=at(30), overdue="4 min", who=user_ref(RESPONDER)
        ),
        *_markdown(
            "postmortem_reminder.md.j2",
            overdue=True,
            written=False,
            late="1 day",
            who=user_ref(DECLARER),
            **postmortem,
        ),
        *_markdown(
            "postmortem_reminder.md.j2",
            overdue=False,
            written=False,
            late="",
            who=user_ref(DECLARER),
            **postmortem,
        ),
        *_markdown(
            "action_item_reminder.md.j2",
            number=1,
            key="INC-7",
            due="2026-12-01",
            text="Add a pool alert `now`",
            owner=user_ref(RESPONDER),
        ),
        *_markdown(
            "action_item_reminder.md.j2",
            number=2,
            key="INC-7",
            due="2026-12-01",
            text="No owner",
            owner=None,
        ),
    ]


def _incident_messages() -> list[Message]:
    incident = make_incident()
    return [
        announcement(incident, renderer=RENDERER),
        announcement(make_incident(status=Status.RESOLVED, resolved_at=at(95)), renderer=RENDERER),
        channel_ready(incident, renderer=RENDERER),
        all_clear(
            make_incident(status=Status.RESOLVED, resolved_at=at(95), resolution="Rolled back"),
            renderer=RENDERER,
            policy=POLICY,
        ),
        *_markdown(
            "status_update.md.j2",
            key="INC-7",
            status="Mitigating",
            who=user_ref(RESPONDER),
            text="1. Rolled back\n- still **watching**\n# not a heading\n> not a quote",
            next_update_at=at(60),
        ),
        *_markdown(
            "role_assigned.md.j2",
            who=user_ref(RESPONDER),
            role="commander",
            key="INC-7",
            description="Leads the response",
        ),
        *_markdown(
            "escalated.md.j2",
            key="INC-7",
            level="L2 Tech lead",
            by=user_ref(DECLARER),
            reason="no <ack>",
            called=[user_ref(RESPONDER), group_ref("oncall-team"), "the pagerduty pager"],
        ),
        *_markdown(
            "incident_roles.md.j2",
            key="INC-7",
            roles=[("commander", user_ref(RESPONDER)), ("scribe", None)],
        ),
        *_markdown("incident_timeline.md.j2", key="INC-7", lines=lines(timeline())),
        *_markdown(
            "postmortem_exported.md.j2",
            key="INC-7",
            version=2,
            previous="INC-7-postmortem-v1.md",
            who=user_ref(DECLARER),
        ),
        *_markdown("postmortem_exported.md.j2", key="INC-7", version=1, previous="", who="x"),
    ]


def _help() -> list[Message]:
    graph = link("the graph", "https://grafana.example.com/d/1?from=now-1h&to=now")
    return [
        Message(usage(POLICY, RENDERER), fallback="help"),
        Message(usage(POLICY, RENDERER, subcommand="declare"), fallback="usage"),
        Message(f"**Alerts**: {graph}\n", fallback="a link"),
    ]


def _postmortem() -> list[Message]:
    return [Message(render_markdown(sample_document(), RENDERER), fallback="postmortem")]


# Which producer renders which templates (an included one counts for its includer's).
PRODUCERS: dict[str, Callable[[], list[Message]]] = {
    "incident_active.md.j2": _card_messages,
    "announcement.md.j2 channel_ready.md.j2 all_clear.md.j2 status_update.md.j2 "
    "role_assigned.md.j2 escalated.md.j2 incident_roles.md.j2 incident_timeline.md.j2 "
    "postmortem_exported.md.j2": _incident_messages,
    "incident_list.md.j2": _listing,
    "action_items.md.j2": _action_items,
    "diagnostics_run.md.j2 diagnostics_detail.md.j2 diagnostics_list.md.j2": _diagnostics,
    "alert_digest.md.j2 alert_triage.md.j2": _alerts,
    "stats.md.j2": _stats,
    "reminder.md.j2 postmortem_reminder.md.j2 action_item_reminder.md.j2": _reminders,
    "help.md.j2 usage_line.md.j2 severities.md.j2": _help,
    "postmortem.md.j2": _postmortem,
}


def test_every_markdown_template_is_rendered_here() -> None:
    shipped = {path.name for path in (PROJECT_ROOT / "templates").glob("*.md.j2")}
    covered = {name for names in PRODUCERS for name in names.split()}
    assert covered == shipped


@pytest.mark.parametrize("producer", PRODUCERS.values(), ids=list(PRODUCERS))
def test_each_message_is_a_card_teams_accepts(producer: Callable[[], list[Message]]) -> None:
    for message in producer():
        for names in (NAMES, {}):
            activity = message_activity(message, names=names)
            assert activity_problems(activity) == [], message.markdown
            body = activity["attachments"][0]["content"]["body"]
            assert body, message.markdown


@pytest.mark.parametrize("producer", PRODUCERS.values(), ids=list(PRODUCERS))
def test_each_message_is_a_reply_teams_accepts(producer: Callable[[], list[Message]]) -> None:
    for message in producer():
        activity = text_activity(message.markdown, names=NAMES)
        assert activity_problems(activity) == [], message.markdown


def test_hostile_titles_stay_text_on_every_card() -> None:
    for message in _card_messages() + _incident_messages()[:3]:
        activity = message_activity(message, names=NAMES)
        texts = [block["text"] for block in activity["attachments"][0]["content"]["body"]]
        joined = "\n".join(texts)
        assert "<at>" not in joined and "<!channel>" not in joined
        assert "**Checkout**" not in joined and "_down_" not in joined
        assert "](https://evil.example)" not in joined
        assert {e["mentioned"]["id"] for e in activity.get("entities", [])} <= set(NAMES)
