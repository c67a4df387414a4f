"""Which status page components an incident affects: `/incident components [INC-N]
Checkout, API` replaces the set (`none` clears it), `components` alone shows it, and an
alert route's `component` names them for the incidents it declares.

Setting them is checked like posting an update (what the public is told is the update
poster's call); reading them, like any other view of the incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.errors import UserError
from bot.incidents.access import IncidentRef, Outcome, write_entry
from bot.incidents.lifecycle import IncidentLifecycle
from bot.incidents.status import incident_key
from bot.incidents.views import visible_incident
from bot.policy.alerts import AlertRoute
from bot.policy.schema import Policy
from bot.policy.status_page import StatusPagePolicy, component_names
from bot.status.publishing import components_of, public_record, public_title
from bot.storage.database import Database
from bot.storage.models import Incident, TimelineKind
from bot.storage.status_models import IncidentComponent
from bot.text.markdown import escape_markdown, excerpt
from bot.text.templates import format_utc

NO_STATUS_PAGE = "there is no status page here (status_page in the policy)"


def status_page_of(policy: Policy) -> StatusPagePolicy:
    if policy.status_page is None:
        raise UserError(NO_STATUS_PAGE)
    return policy.status_page


def resolve_names(page: StatusPagePolicy, typed: Sequence[str]) -> tuple[str, ...]:
    """The components typed, as the policy spells them, each once, in the order given.
    Commas separate names; `Checkout API` without one is read as two names when both are
    components. UserError listing the components when one is unknown."""
    found: list[str] = []
    for part in typed:
        component = page.component(part)
        if component is not None:
            found.append(component.name)
            continue
        words = [page.component(word) for word in part.split()]
        if len(words) > 1 and all(words):
            found.extend(word.name for word in words if word is not None)
            continue
        raise UserError(
            f"unknown component {excerpt(part)}; the components are "
            f"{escape_markdown(component_names(page))}",
            usage="components",
        )
    return tuple(dict.fromkeys(found))


def set_components_in(
    session: Session,
    incident: Incident,
    names: tuple[str, ...],
    *,
    actor: str,
    now: datetime,
) -> None:
    """Replace the components `incident` names, on its timeline, in the caller's transaction."""
    assert incident.id is not None
    session.execute(
        delete(IncidentComponent).where(col(IncidentComponent.incident_id) == incident.id)
    )
    session.add_all(IncidentComponent(incident_id=incident.id, name=name) for name in names)
    session.flush()
    shown = ", ".join(names) or "none"
    write_entry(session, incident, TimelineKind.COMPONENTS_SET, now, actor, text=shown)


def name_route_components_in(
    session: Session,
    incident: Incident,
    route: AlertRoute,
    policy: Policy,
    *,
    actor: str,
    now: datetime,
) -> None:
    """An incident an alert route declared names the route's components (checked against
    the policy when it was loaded)."""
    page = policy.status_page
    if page is None or not route.component:
        return
    known = [page.component(name) for name in route.component]
    names = tuple(dict.fromkeys(component.name for component in known if component))
    if names:
        set_components_in(session, incident, names, actor=actor, now=now)


class IncidentComponents:
    def __init__(self, *, db: Database, policy: Policy, lifecycle: IncidentLifecycle) -> None:
        self._db = db
        self._policy = policy
        self._lifecycle = lifecycle

    async def replace(self, ref: IncidentRef, *, actor: str, typed: tuple[str, ...]) -> Outcome:
        page = status_page_of(self._policy)
        names = resolve_names(page, typed)

        def change(session: Session, incident: Incident, now: datetime) -> str:
            key = incident_key(incident.number)
            assert incident.id is not None
            if components_of(session, incident.id) == names:
                raise UserError(f"{key} already names {_listed(names)}")
            set_components_in(session, incident, names, actor=actor, now=now)
            return f"{key} now names {_listed(names)}"

        return await self._lifecycle.apply(ref, change, action="update", actor=actor)

    async def show(self, ref: IncidentRef, *, viewer: str) -> str:
        """What the incident names, what it could name, and whether the page shows it."""
        page = status_page_of(self._policy)

        def read(session: Session) -> str:
            incident = visible_incident(session, ref, viewer)
            assert incident.id is not None
            key = incident_key(incident.number)
            names = components_of(session, incident.id)
            example = ", ".join(c.name for c in page.components[:2]) or "Checkout"
            lines = [
                f"**{key}** names {_listed(names)}.",
                f"Components: {escape_markdown(component_names(page))} "
                f"(`/incident components {key} {example}` sets them, `none` clears them).",
            ]
            record = public_record(session, incident.id)
            if incident.private:
                lines.append("It is private: it never appears on the status page.")
            elif record is None:
                lines.append(
                    "It is not on the status page: `/incident update --public <text>` publishes it."
                )
            else:
                title = escape_markdown(public_title(record.title, names))
                since = format_utc(record.published_at)
                lines.append(f"It is on the status page as “{title}” since {since}.")
            return "\n".join(lines)

        return await self._db.transaction(read)


def _listed(names: tuple[str, ...]) -> str:
    return escape_markdown(", ".join(names)) if names else "no components"
