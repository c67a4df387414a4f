"""Teaching the log lines which key (INC-7) an incident id stands for.

A delivery knows its incident's id only. Every incident this process creates or reads
passes through the ORM, so listening there tells bot/observability/logs.py the key of
each incident a delivery can be about, at no cost of a query.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from bot.incidents.status import incident_key
from bot.observability.logs import remember_incident_key
from bot.storage.models import Incident


def _remember(incident_id: object, number: object) -> None:
    if isinstance(incident_id, int) and isinstance(number, int):
        remember_incident_key(incident_id, incident_key(number))


def _loaded(incident: Incident, _context: Any) -> None:
    _remember(incident.id, incident.number)


def _created(_incident: Incident, _args: Any, values: dict[str, Any]) -> None:
    # A declaration builds its Incident from the row it inserted: id and number given.
    _remember(values.get("id"), values.get("number"))


def track_incident_keys() -> None:
    """Listen for incidents read and created (once per process, however often called)."""
    if not event.contains(Incident, "load", _loaded):
        event.listen(Incident, "load", _loaded)
        event.listen(Incident, "init", _created)
