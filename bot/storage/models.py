"""The stored tables. Timestamps are timezone-aware UTC on the way in and on the way out."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, TypeDecorator, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlalchemy import false as sa_false
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import Table
from sqlmodel import Field, SQLModel

from bot.clock import ensure_utc
from bot.incidents.status import Status


class UTCDateTime(TypeDecorator[datetime]):
    """Refuses naive datetimes and always returns aware UTC ones (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use the injected UTC clock")
        return ensure_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else ensure_utc(value)


def utc_column(*, nullable: bool, index: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable, index=index)


def enum_column(enum: type[StrEnum], *, index: bool = False) -> Any:
    """Stored as the enum's value in a plain string column (no native enum to migrate)."""
    return Column(
        SAEnum(
            enum,
            native_enum=False,
            create_constraint=False,
            length=40,
            values_callable=lambda members: [member.value for member in members],
        ),
        nullable=False,
        index=index,
    )


class IncidentCounter(SQLModel, table=True):
    """One row per numbering scope; incremented under a row lock to hand out INC numbers."""

    __tablename__ = "incident_counter"

    scope: str = Field(default="incident", primary_key=True, max_length=40)
    last_number: int = Field(default=0)


class Incident(SQLModel, table=True):
    __tablename__ = "incident"
    __table_args__ = (UniqueConstraint("number", name="uq_incident_number"),)

    id: int | None = Field(default=None, primary_key=True)
    number: int
    title: str = Field(max_length=500)
    severity: str = Field(max_length=40)
    impact: str = Field(default="", max_length=2000)
    status: Status = Field(sa_column=enum_column(Status, index=True))
    private: bool = False
    declared_by: str = Field(max_length=64)
    declared_in: str | None = Field(default=None, max_length=64)
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    next_update_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # When to remind the channel that the update is overdue (None: no reminder due).
    next_reminder_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True, index=True)
    )
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    acknowledged_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    acknowledged_by: str | None = Field(default=None, max_length=64)
    resolution: str = Field(default="", max_length=2000)
    # When the next automatic escalation is due; whether the ack SLA was already broken.
    next_escalation_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True, index=True)
    )
    sla_breached: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    # How many levels of the escalation path have been reached (0: none yet).
    escalation_level: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Filled in as chat effects land; the database stays the truth while they are pending.
    channel_id: str | None = Field(default=None, max_length=64, index=True)
    channel_name: str | None = Field(default=None, max_length=80)
    card_ref: str | None = Field(default=None, max_length=64)
    # The announcement of a public incident, edited in place as it moves: where, and which.
    announced_in: str | None = Field(default=None, max_length=64)
    announcement_ref: str | None = Field(default=None, max_length=64)
    # Bumped on every change so concurrent writers notice each other (optimistic locking).
    version: int = Field(default=1)
    # What opened it: "command" (a person), or the alert source ("alertmanager"…).
    source: str = Field(
        default="command", max_length=20, sa_column_kwargs={"server_default": "command"}
    )
    # Alerts attached to it: the last timeline entry the channel's alert digest covered,
    # when every alert had resolved (None while any fires), and, for a route's storm
    # incident, which route's overflow it gathers.
    alert_digest_through: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    alerts_resolved_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    storm_route: int | None = Field(default=None)
    # The diagnostics runbook its alert route attached (offered on the card), if any.
    runbook: str | None = Field(default=None, max_length=64)
    # When the postmortem's next follow-through reminder is due (None: none owed), and
    # when it was closed (its postmortem complete).
    followup_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True, index=True)
    )
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


def set_next_update(incident: Incident, when: datetime | None) -> None:
    """A new "Next Update" deadline; the overdue reminder follows it."""
    incident.next_update_at = when
    incident.next_reminder_at = when


INCIDENT_TABLE: Table = SQLModel.metadata.tables["incident"]
_INSERT_INCIDENT = INCIDENT_TABLE.insert().returning(INCIDENT_TABLE.c.id)


def insert_incident(session: Session, **values: Any) -> Incident:
    """Insert a new incident with one plain statement and return it.

    Declaring sits on the path of a person waiting for Slack's answer: a direct INSERT …
    RETURNING costs a fraction of the ORM's unit-of-work flush.
    """
    values.setdefault("version", 1)
    values.setdefault("resolution", "")
    values.setdefault("escalation_level", 0)
    values.setdefault("next_reminder_at", values.get("next_update_at"))
    values.setdefault("sla_breached", False)
    values.setdefault("source", "command")
    values.setdefault("alert_digest_through", 0)
    incident_id = session.connection().execute(_INSERT_INCIDENT, values).scalar_one()
    return Incident(id=incident_id, **values)


class IncidentMember(SQLModel, table=True):
    """Someone in the incident: its declarer, role holders, people invited."""

    __tablename__ = "incident_member"
    __table_args__ = (
        UniqueConstraint("incident_id", "user_id", name="uq_member_incident_user"),
        Index("ix_member_user", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    user_id: str = Field(max_length=64)
    added_at: datetime = Field(sa_column=utc_column(nullable=False))


class IncidentRole(SQLModel, table=True):
    """Who holds a role (commander, comms, scribe…); one holder per role."""

    __tablename__ = "incident_role"
    __table_args__ = (UniqueConstraint("incident_id", "role", name="uq_role_incident_role"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    role: str = Field(max_length=40)
    user_id: str = Field(max_length=64)
    assigned_at: datetime = Field(sa_column=utc_column(nullable=False))
    assigned_by: str = Field(max_length=64)


class TimelineKind(StrEnum):
    DECLARED = "declared"
    STATUS_CHANGED = "status_changed"
    SEVERITY_CHANGED = "severity_changed"
    NOTE = "note"
    UPDATE = "update"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    ROLE_ASSIGNED = "role_assigned"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    MESSAGE = "message"  # a chat message captured by a pin, a reaction or the shortcut
    DELIVERY_FAILED = "delivery_failed"  # a chat effect or page refused for good
    ALERT = "alert"  # an alert of the incident fired, fired again or resolved
    SILENCED = "silenced"  # its alerts silenced at the alert source, by whom, until when
    DIAGNOSTICS = "diagnostics"  # a diagnostics run's results (one entry per run)
    POSTMORTEM = "postmortem"  # the postmortem written, edited, exported or completed
    ACTION_ITEM = "action_item"  # a follow-up action added or done
    COMPONENTS_SET = "components_set"  # the status page components it names, replaced
    MADE_PUBLIC = "made_public"  # shown on the status page from its first public update


class TimelineEntry(SQLModel, table=True):
    __tablename__ = "timeline_entry"
    __table_args__ = (
        Index("ix_timeline_incident_at", "incident_id", "at"),
        UniqueConstraint("incident_id", "source", name="uq_timeline_source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    kind: TimelineKind = Field(sa_column=enum_column(TimelineKind))
    at: datetime = Field(sa_column=utc_column(nullable=False))
    actor: str | None = Field(default=None, max_length=64)
    text: str = Field(default="", max_length=4000)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The chat message this entry was captured from, e.g. "C0123:1700000000.000100".
    source: str | None = Field(default=None, max_length=200)


class ProcessedEvent(SQLModel, table=True):
    """Chat events already handled: a re-delivered event is recognised and skipped."""

    __tablename__ = "processed_event"

    event_id: str = Field(primary_key=True, max_length=100)
    received_at: datetime = Field(sa_column=utc_column(nullable=False))


class DeliveryState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # refused for good by the receiver (a pager's 4xx): not retried


class Delivery(SQLModel, table=True):
    """A chat effect owed to an incident, kept until it lands (the outbox).

    Deliveries of one incident run strictly in id order: the card cannot be posted before
    its channel exists. Different incidents proceed independently.
    """

    __tablename__ = "delivery"
    __table_args__ = (Index("ix_delivery_pending", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # None: owed to no incident (an alert's triage card, before anyone declares one).
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    kind: str = Field(max_length=40)
    # Order holds within a lane: a pager outage never holds up chat, nor the reverse.
    lane: str = Field(default="chat", max_length=20, sa_column_kwargs={"server_default": "chat"})
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: DeliveryState = Field(
        default=DeliveryState.PENDING, sa_column=enum_column(DeliveryState)
    )
    attempts: int = 0
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    next_attempt_at: datetime = Field(sa_column=utc_column(nullable=False))
    lease_owner: str | None = Field(default=None, max_length=80)
    lease_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_error: str | None = Field(default=None, max_length=2000)
    done_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class AlertGroup(SQLModel, table=True):
    """One alert group of one source (Alertmanager's groupKey, Grafana's group key, a
    generic dedup_key): routed once, when first seen, and attached to at most one
    incident at a time."""

    __tablename__ = "alert_group"
    __table_args__ = (
        UniqueConstraint("source", "key_hash", name="uq_alert_group_key"),
        Index("ix_alert_group_route_declared", "route_index", "declared_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=20)
    # The group key can be long: it is looked up by its hash, kept in full for people.
    key_hash: str = Field(max_length=64)
    group_key: str = Field(max_length=4000)
    group_labels: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    labels: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    title: str = Field(max_length=500)
    severity: str = Field(max_length=40)
    route_index: int  # -1: no route matched
    action: str = Field(max_length=20)  # declare | notify | drop
    status: str = Field(max_length=20)  # firing | resolved
    truncated: int = 0  # alerts the source left out of its last body
    external_url: str | None = Field(default=None, max_length=500)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    # When this group opened its own incident (what storm control counts per route).
    declared_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    first_seen_at: datetime = Field(sa_column=utc_column(nullable=False))
    last_seen_at: datetime = Field(sa_column=utc_column(nullable=False))
    # notify: the alert card in the triage channel, and what became of it.
    triage_channel: str | None = Field(default=None, max_length=64)
    triage_ref: str | None = Field(default=None, max_length=64)
    triage_state: str | None = Field(default=None, max_length=20)  # open | declared | ignored
    triaged_by: str | None = Field(default=None, max_length=64)


class Alert(SQLModel, table=True):
    """One alert of a group, by fingerprint, as last reported."""

    __tablename__ = "alert"
    __table_args__ = (UniqueConstraint("group_id", "fingerprint", name="uq_alert_fingerprint"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="alert_group.id")
    fingerprint: str = Field(max_length=200)
    status: str = Field(max_length=20)
    labels: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    annotations: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    links: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    starts_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ends_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    changed_at: datetime = Field(sa_column=utc_column(nullable=False))


class RunState(StrEnum):
    QUEUED = "queued"  # asked for; its checks not started yet
    RUNNING = "running"
    DONE = "done"
    INTERRUPTED = "interrupted"  # warroom stopped while its checks ran


class DiagnosticRun(SQLModel, table=True):
    """One run of diagnostics on an incident: which checks, who asked, what they found
    (redacted), and the channel message that shows it, edited as the run ends."""

    __tablename__ = "diagnostic_run"
    __table_args__ = (Index("ix_diagnostic_run_incident_state", "incident_id", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    # What was asked for: a check's or runbook's name, or "all"; and how it reads.
    target: str = Field(max_length=64)
    label: str = Field(max_length=200)
    checks: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    stop_on_failure: bool = False
    state: RunState = Field(default=RunState.QUEUED, sa_column=enum_column(RunState))
    requested_by: str = Field(max_length=64)
    requested_at: datetime = Field(sa_column=utc_column(nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    results: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    message_ref: str | None = Field(default=None, max_length=64)


# Registered on the same metadata; defined apart to keep this module about incidents.
from bot.storage.postmortem_models import ActionItem as ActionItem  # noqa: E402
from bot.storage.postmortem_models import Postmortem as Postmortem  # noqa: E402
from bot.storage.status_models import IncidentComponent as IncidentComponent  # noqa: E402
from bot.storage.status_models import PublicIncident as PublicIncident  # noqa: E402
from bot.storage.status_models import PublicUpdate as PublicUpdate  # noqa: E402
from bot.storage.teams_models import TeamsConversation as TeamsConversation  # noqa: E402
from bot.storage.teams_models import TeamsPerson as TeamsPerson  # noqa: E402
