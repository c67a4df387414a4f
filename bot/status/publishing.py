"""Making an incident public and posting updates for the public, within the transaction
of the use case that asked (`update --public`, `resolve --public`).

Only what is written here reaches the status page: an update posted with `--public`
(its text exactly as typed), the public title, and the lines warroom writes itself when
a public incident is resolved or reopened. A private incident can never be published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.errors import UserError
from bot.incidents.access import Change, write_entry
from bot.incidents.status import Status, incident_key
from bot.storage.models import Incident, TimelineKind
from bot.storage.status_models import (
    PUBLIC_TEXT_LENGTH,
    PUBLIC_TITLE_LENGTH,
    IncidentComponent,
    PublicIncident,
    PublicUpdate,
)
from bot.text.markdown import REFERENCE, single_line

# What the page says when a public incident moves without anyone writing for the public.
RESOLVED_LINE = "This incident has been resolved."
REOPENED_LINE = "This incident has been reopened: we are investigating again."


@dataclass(frozen=True)
class PublicPost:
    """`--public` on an update or a resolution: post it on the status page too, and, with
    `--public-title`, what the page calls the incident from now on."""

    title: str | None = None


def public_title(stored: str | None, components: tuple[str, ...]) -> str:
    """What the page calls an incident: the title given for the public, else its
    components' names. Never the incident's own title, which is written for responders."""
    if stored:
        return stored
    if not components:
        return "Service incident"
    named = components[0] if len(components) == 1 else (
        f"{', '.join(components[:-1])} and {components[-1]}"
    )  # fmt: skip
    return f"Incident affecting {named}"


def checked_public_text(text: str, *, what: str = "a public update") -> str:
    """`text` if it may be shown to anyone; UserError saying why not otherwise."""
    text = text.strip()
    if REFERENCE.search(text):
        # A mention is someone's chat id: never on a public page.
        raise UserError(
            f"{what} cannot mention people, groups or channels (the status page is public): "
            "write it without them"
        )
    if len(text) > PUBLIC_TEXT_LENGTH:
        raise UserError(f"{what} is {len(text)} characters; keep it under {PUBLIC_TEXT_LENGTH}")
    return text


def checked_public_title(title: str) -> str:
    title = checked_public_text(single_line(title), what="a public title")
    if not title:
        raise UserError('--public-title needs the title, e.g. --public-title "Payments failing"')
    if len(title) > PUBLIC_TITLE_LENGTH:
        raise UserError(
            f"the public title is {len(title)} characters; keep it under {PUBLIC_TITLE_LENGTH}"
        )
    return title


def public_record(session: Session, incident_id: int) -> PublicIncident | None:
    return session.scalar(
        select(PublicIncident).where(col(PublicIncident.incident_id) == incident_id)
    )


def components_of(session: Session, incident_id: int) -> tuple[str, ...]:
    """The components an incident names, in the order they were given."""
    rows = session.scalars(
        select(col(IncidentComponent.name))
        .where(col(IncidentComponent.incident_id) == incident_id)
        .order_by(col(IncidentComponent.id))
    )
    return tuple(rows)


def publish_in(
    session: Session,
    incident: Incident,
    post: PublicPost | None,
    *,
    text: str,
    actor: str,
    now: datetime,
) -> str:
    """Post `text` on the status page for the locked `incident`; its first public update
    makes it public (a timeline entry says so). Returns what to tell the person ("" when
    `post` is None: nothing was asked for the public)."""
    if post is None:
        return ""
    key = incident_key(incident.number)
    assert incident.id is not None
    if incident.private:
        raise UserError(
            f"{key} is private: it never appears on the status page, so --public is refused "
            "(post it without --public)"
        )
    text = checked_public_text(text)
    title = checked_public_title(post.title) if post.title is not None else None
    record = public_record(session, incident.id)
    first = record is None
    if record is None:
        record = PublicIncident(incident_id=incident.id, title=title, published_at=now)
        session.add(record)
        shown = public_title(title, components_of(session, incident.id))
        write_entry(session, incident, TimelineKind.MADE_PUBLIC, now, actor, text=shown)
    elif title is not None:
        record.title = title
    session.add(
        PublicUpdate(incident_id=incident.id, at=now, status=incident.status.value, text=text)
    )
    session.flush()
    return "published on the status page" + (f" ({key} is now public)" if first else "")


def publishing(change: Change, post: PublicPost, *, text: str, actor: str) -> Change:
    """`change` (a resolution), then `text` posted on the status page in its transaction."""

    def published(session: Session, incident: Incident, now: datetime) -> str:
        summary = change(session, incident, now)
        told = publish_in(session, incident, post, text=text or RESOLVED_LINE, actor=actor, now=now)
        return f"{summary}; {told}"

    return published


def tell_public_of_move(
    session: Session, incident: Incident, *, was: Status, now: datetime
) -> None:
    """After any change: a public incident resolved or reopened gets its line on the page,
    unless the change wrote one itself (`resolve --public …`)."""
    if incident.id is None or incident.status is was:
        return
    resolved = was.is_open and incident.status is Status.RESOLVED
    reopened = not was.is_open and incident.status.is_open
    if not (resolved or reopened) or incident.private:
        return
    if public_record(session, incident.id) is None:
        return
    told = session.scalar(
        select(col(PublicUpdate.id)).where(
            col(PublicUpdate.incident_id) == incident.id,
            col(PublicUpdate.at) == now,
            col(PublicUpdate.status) == incident.status.value,
        )
    )
    if told is None:
        line = RESOLVED_LINE if resolved else REOPENED_LINE
        session.add(
            PublicUpdate(incident_id=incident.id, at=now, status=incident.status.value, text=line)
        )
        session.flush()
