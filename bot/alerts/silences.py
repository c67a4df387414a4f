"""Silencing an incident's alerts at Alertmanager, from chat.

`/incident silence 1h` (or the Silence 1h button) owes one delivery in the pager lane;
the delivery creates one silence per Alertmanager group of the incident, matching the
group's labels, through Alertmanager's API (`POST /api/v2/silences`). Creating a silence
is not idempotent, so each silence's comment carries a marker, and an attempt after one
whose outcome is unknown first lists the silences and adopts those it finds. The timeline
records who silenced it and until when once Alertmanager has it. Resolving the incident
leaves the silence to run out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.alerts.model import AlertSource, AlertStatus
from bot.alerts.store import IncidentAlerts
from bot.clock import Clock
from bot.delivery.outbox import DeliveryKind, Landed, enqueue
from bot.errors import DeliveryError, UserError
from bot.incidents.access import IncidentRef, card_refresh_waiting, find_incident
from bot.incidents.permissions import check_access
from bot.incidents.status import incident_key
from bot.incidents.timeline import record
from bot.policy.schema import Policy
from bot.storage.database import Database
from bot.storage.models import Alert, AlertGroup, Delivery, Incident, TimelineKind
from bot.text.durations import format_duration
from bot.text.markdown import user_ref
from bot.text.templates import format_hhmm, format_utc

log = logging.getLogger(__name__)

SILENCES_PATH = "/api/v2/silences"


def silence_end(until: datetime, *, now: datetime) -> str:
    """When a silence ends, with the date once it is not within the next twelve hours."""
    return f"{format_hhmm(until)} UTC" if until - now <= timedelta(hours=12) else format_utc(until)


def alertmanager_url(policy: Policy) -> str | None:
    source = policy.alerts.sources.alertmanager
    return source.alertmanager_url if source is not None else None


def can_silence(policy: Policy, alerts: IncidentAlerts) -> bool:
    """Whether the incident's alerts can be silenced from chat: some came from
    Alertmanager, and the policy says where it is."""
    return alertmanager_url(policy) is not None and AlertSource.ALERTMANAGER.value in alerts.sources


def _silenceable_groups(session: Session, incident_id: int) -> list[AlertGroup]:
    return list(
        session.scalars(
            select(AlertGroup)
            .where(
                col(AlertGroup.incident_id) == incident_id,
                col(AlertGroup.source) == AlertSource.ALERTMANAGER.value,
            )
            .order_by(col(AlertGroup.id))
        )
    )


class SilenceRequests:
    """The use case: check and owe the silence; the effect below makes it."""

    def __init__(
        self,
        *,
        db: Database,
        policy: Policy,
        clock: Clock,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._policy = policy
        self._clock = clock
        self._on_commit = on_commit

    async def silence(self, ref: IncidentRef, *, actor: str, duration: timedelta) -> str:
        if alertmanager_url(self._policy) is None:
            raise UserError(
                "silencing needs Alertmanager's address: set alerts.sources.alertmanager."
                "alertmanager_url in the policy"
            )
        now = self._clock()

        def work(session: Session) -> str:
            incident = find_incident(session, ref, lock=True)
            check_access(session, incident, ref, actor=actor, action="silence", policy=self._policy)
            key = incident_key(incident.number)
            assert incident.id is not None
            groups = _silenceable_groups(session, incident.id)
            if not groups:
                raise UserError(f"{key} has no alerts from Alertmanager to silence")
            until = now + duration
            payload = {
                "until": until.isoformat(),
                "by": actor,
                "duration": format_duration(duration),
            }
            enqueue(
                session, incident_id=incident.id, owed=[(DeliveryKind.SILENCE, payload)], now=now
            )
            count = len(groups)
            what = "its alert group" if count == 1 else f"its {count} alert groups"
            return (
                f"Silencing {what} of {key} at Alertmanager until {silence_end(until, now=now)}; "
                "the channel is told once it is in place"
            )

        summary = await self._db.transaction(work, urgent=True)
        self._on_commit()
        return summary


class Silencer:
    """The SILENCE delivery: one Alertmanager silence per group of the incident."""

    def __init__(
        self, *, db: Database, policy: Policy, client: httpx.AsyncClient, clock: Clock
    ) -> None:
        self._db = db
        self._policy = policy
        self._client = client
        self._clock = clock

    async def silence(self, delivery: Delivery) -> Landed:
        base = alertmanager_url(self._policy)
        if base is None:
            raise DeliveryError("alertmanager_url_missing", retryable=False)
        url = base.rstrip("/") + SILENCES_PATH
        incident_id = delivery.incident_id
        if incident_id is None:
            raise DeliveryError("incident_missing", retryable=False)

        def load(
            session: Session,
        ) -> tuple[Incident | None, list[tuple[AlertGroup, dict[str, str]]]]:
            incident = session.get(Incident, incident_id)
            return incident, [
                (group, _matched_labels(session, group))
                for group in _silenceable_groups(session, incident_id)
            ]

        incident, groups = await self._db.transaction(load)
        if incident is None:
            raise DeliveryError("incident_missing", retryable=False, detail=str(incident_id))
        until = datetime.fromisoformat(str(delivery.payload["until"]))
        by = str(delivery.payload.get("by", ""))
        marker = f"warroom-delivery-{delivery.id}"
        # A retry looks first: the earlier attempt may have created some of them.
        existing = await self._existing(url, marker) if delivery.attempts > 1 else {}
        silence_ids: list[str] = []
        for group, labels in groups:
            if not labels:
                log.warning("alert group %s has no labels to silence by: skipped", group.id)
                continue
            tag = f"{marker}-group-{group.id}"
            if tag in existing:
                silence_ids.append(existing[tag])
                continue
            body = {
                "matchers": [
                    {"name": name, "value": value, "isRegex": False, "isEqual": True}
                    for name, value in sorted(labels.items())
                ],
                "startsAt": self._clock().isoformat(),
                "endsAt": until.isoformat(),
                "createdBy": f"warroom ({by})" if by else "warroom",
                "comment": f"{incident_key(incident.number)}: silenced from chat [{tag}]",
            }
            silence_ids.append(await self._create(url, body))
        if not silence_ids:
            raise DeliveryError("nothing_to_silence", retryable=False)
        return _landed(incident, silence_ids, by=by, until=until, now=self._clock())

    async def _create(self, url: str, body: dict[str, Any]) -> str:
        try:
            response = await self._client.post(url, json=body, timeout=10)
        except httpx.HTTPError as error:
            raise DeliveryError("alertmanager_unreachable", detail=f"{url}: {error!r}") from error
        if response.status_code == 429 or response.status_code >= 500:
            raise DeliveryError(f"http_{response.status_code}", detail=url)
        if response.status_code >= 400:
            raise DeliveryError(
                f"http_{response.status_code}", retryable=False, detail=response.text[:300]
            )
        try:
            return str(response.json()["silenceID"])
        except (ValueError, KeyError, TypeError) as error:
            raise DeliveryError("alertmanager_answer_unreadable", detail=url) from error

    async def _existing(self, url: str, marker: str) -> dict[str, str]:
        """Silences an earlier attempt created, by the tag in their comment."""
        try:
            response = await self._client.get(url, timeout=10)
            silences = response.json() if response.status_code == 200 else []
        except (httpx.HTTPError, ValueError) as error:
            raise DeliveryError("alertmanager_unreachable", detail=f"{url}: {error!r}") from error
        found: dict[str, str] = {}
        for silence in silences if isinstance(silences, list) else []:
            comment = str(silence.get("comment", ""))
            state = (silence.get("status") or {}).get("state")
            if marker in comment and state != "expired" and "[" in comment:
                tag = comment[comment.rindex("[") + 1 :].rstrip("]")
                found[tag] = str(silence.get("id"))
        return found


def _matched_labels(session: Session, group: AlertGroup) -> dict[str, str]:
    """What a silence of the group matches: its group labels, else what all its alerts
    share (never nothing: an empty matcher list would silence everything)."""
    if group.group_labels:
        return dict(group.group_labels)
    if group.labels:
        return dict(group.labels)
    first = session.scalars(
        select(Alert).where(
            col(Alert.group_id) == group.id, col(Alert.status) == AlertStatus.FIRING.value
        )
    ).first()
    return dict(first.labels) if first is not None else {}


def _landed(
    incident: Incident, silence_ids: list[str], *, by: str, until: datetime, now: datetime
) -> Landed:
    def write(session: Session) -> None:
        assert incident.id is not None
        record(
            session,
            incident_id=incident.id,
            kind=TimelineKind.SILENCED,
            at=now,
            actor=by or None,
            data={"until": until.isoformat(), "silences": silence_ids},
        )
        who = user_ref(by) if by else "warroom"
        key = incident_key(incident.number)
        markdown = (
            f"🔕 The alerts of **{key}** are silenced at Alertmanager until "
            f"{silence_end(until, now=now)} by {who}. While silenced, Alertmanager sends "
            "no updates: the alert counts here stand still until it ends."
        )
        owed: list[tuple[DeliveryKind, dict[str, object]]] = [
            (DeliveryKind.POST_MESSAGE, {"markdown": markdown, "fallback": f"{key} silenced"})
        ]
        if not card_refresh_waiting(session, incident.id):
            owed.append((DeliveryKind.UPDATE_CARD, {}))
        enqueue(session, incident_id=incident.id, owed=owed, now=now)

    return write
