"""The status page as `/status.json` and `/status.atom`.

The JSON's shape is stable (its `version` changes if a key ever goes or changes
meaning; keys may be added): the models below are also its OpenAPI schema at `/docs`.
The feed is Atom 1.0 (RFC 4287), one entry per public update, built as XML elements so
that every text is escaped by construction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from xml.etree import ElementTree

from pydantic import BaseModel, Field

from bot.incidents.status import Status
from bot.policy.status_page import ComponentState, ImpactState
from bot.status.board import PublicIncidentView, StatusSnapshot

ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
# Entries in the feed at most: readers keep what they have seen.
MAX_FEED_ENTRIES = 100

PublicStatus = Literal["investigating", "mitigating", "resolved"]


class PublicUpdateDocument(BaseModel):
    id: int = Field(description="stable; also the anchor #update-<id> on /status")
    at: datetime
    status: PublicStatus = Field(description="the incident's status when it was posted")
    text: str


class PublicIncidentDocument(BaseModel):
    id: int = Field(description="stable; also the anchor #incident-<id> on /status")
    title: str
    status: PublicStatus
    impact: ImpactState = Field(description="what it does to the components it names")
    components: list[str]
    started_at: datetime
    resolved_at: datetime | None
    updated_at: datetime
    updates: list[PublicUpdateDocument] = Field(description="newest first")


class ComponentDocument(BaseModel):
    name: str
    description: str
    state: ComponentState


class PageDocument(BaseModel):
    title: str
    url: str
    updated_at: datetime | None = Field(description="when anything shown last changed")


class StatusDocument(BaseModel):
    """`GET /status.json`."""

    version: Literal[1] = 1
    page: PageDocument
    state: ComponentState = Field(description="the worst state an active incident causes")
    components: list[ComponentDocument]
    active_incidents: list[PublicIncidentDocument] = Field(description="newest first")
    resolved_incidents: list[PublicIncidentDocument] = Field(
        description="resolved within status_page.show_resolved_for, latest first"
    )


_WORDS: dict[Status, PublicStatus] = {
    Status.INVESTIGATING: "investigating",
    Status.MITIGATING: "mitigating",
    Status.RESOLVED: "resolved",
    Status.CLOSED: "resolved",  # the postmortem's end is no news to the public
}


def _word(status: Status) -> PublicStatus:
    return _WORDS[status]


def _incident(incident: PublicIncidentView) -> PublicIncidentDocument:
    return PublicIncidentDocument(
        id=incident.id,
        title=incident.title,
        status=_word(incident.status),
        impact=incident.impact,
        components=list(incident.components),
        started_at=incident.started_at,
        resolved_at=incident.resolved_at,
        updated_at=incident.updated_at,
        updates=[
            PublicUpdateDocument(id=u.id, at=u.at, status=_word(u.status), text=u.text)
            for u in incident.updates
        ],
    )


def status_document(snapshot: StatusSnapshot, *, page_url: str) -> StatusDocument:
    return StatusDocument(
        page=PageDocument(title=snapshot.title, url=page_url, updated_at=snapshot.updated_at),
        state=snapshot.state,
        components=[
            ComponentDocument(name=c.name, description=c.description, state=c.state)
            for c in snapshot.components
        ],
        active_incidents=[_incident(incident) for incident in snapshot.active],
        resolved_incidents=[_incident(incident) for incident in snapshot.resolved],
    )


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def atom_feed(snapshot: StatusSnapshot, *, page_url: str, feed_url: str) -> bytes:
    """The feed: its id is the page's address, each entry's the update's anchor on it."""
    feed = ElementTree.Element("feed", {"xmlns": ATOM_NAMESPACE})
    add = _add
    add(feed, "id", page_url)
    add(feed, "title", snapshot.title)
    add(feed, "subtitle", f"Incidents and their updates from {snapshot.title}")
    add(feed, "updated", rfc3339(snapshot.updated_at or snapshot.generated_at))
    add(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    add(feed, "link", rel="alternate", type="text/html", href=page_url)
    author = add(feed, "author")
    add(author, "name", snapshot.title)
    add(feed, "generator", "warroom")
    for incident, update in snapshot.updates()[:MAX_FEED_ENTRIES]:
        entry = add(feed, "entry")
        add(entry, "id", f"{page_url}#update-{update.id}")
        add(entry, "title", f"{incident.title}: {update.status.label}")
        add(entry, "published", rfc3339(update.at))
        add(entry, "updated", rfc3339(update.at))
        add(entry, "link", rel="alternate", type="text/html", href=f"{page_url}#update-{update.id}")
        for name in incident.components:
            add(entry, "category", term=name)
        add(entry, "content", update.text, type="text")
    written: bytes = ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
    return written


def _add(
    parent: ElementTree.Element, tag: str, text: str | None = None, **attributes: str
) -> ElementTree.Element:
    child = ElementTree.SubElement(parent, tag, attributes)
    child.text = text
    return child
