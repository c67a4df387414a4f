"""Who is looking at the web view, and so which incidents exist for them.

A private incident exists only for its people (bot/incidents/members.py): a viewer
matched to one of them sees it; a token login is nobody in particular and, like a viewer
whose email matches no chat user, sees the public incidents only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.incidents.access import IncidentRef, find_incident, not_found
from bot.incidents.members import is_member, visible_to
from bot.storage.models import Incident


class SignedIn(StrEnum):
    TOKEN = "token"  # the shared token: a bearer header or the session cookie
    PROXY = "proxy"  # the authenticating proxy's header


@dataclass(frozen=True)
class Viewer:
    how: SignedIn
    user_id: str | None = None  # the chat user they are, when known
    email: str | None = None  # as the proxy said it
    session_id: str | None = None  # a token login's session (its logout form is bound to it)

    @property
    def describe(self) -> str:
        """For the page's header: who the view is shown to."""
        if self.how is SignedIn.TOKEN:
            return "Signed in with the web token: private incidents are not shown"
        who = self.email or "an unnamed viewer"
        if self.user_id is None:
            return f"Signed in as {who}, matched to no chat user: private incidents are not shown"
        return f"Signed in as {who}"


def visible(viewer: Viewer) -> ColumnElement[bool]:
    """The incidents `viewer` may see, as a condition on the incident table."""
    if viewer.user_id is None:
        return col(Incident.private).is_(False)
    return visible_to(viewer.user_id)


def incident_for(session: Session, number: int, viewer: Viewer) -> Incident:
    """Incident `number` if `viewer` may see it; IncidentNotFound, worded as for a number
    never used, if there is none or it is hidden from them."""
    ref = IncidentRef(number=number)
    incident = find_incident(session, ref)
    if incident.private and (
        viewer.user_id is None
        or not is_member(session, incident_id=incident.id or 0, user_id=viewer.user_id)
    ):
        raise not_found(ref)
    return incident
