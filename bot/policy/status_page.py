"""The policy's `status_page:` section: the public status page's title, the components it
lists, and which state an open public incident puts its components in.

Absent, there is no status page: `/status` answers 404 and `--public` is refused. The
page is public by design, so nothing here is a secret and nothing here names people.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator
from pydantic import Field as PydanticField

from bot.policy.fields import Duration

if TYPE_CHECKING:
    from bot.policy.schema import Policy

__all__ = [
    "CLEAR_WORD",
    "STATE_LABELS",
    "ComponentState",
    "ImpactState",
    "StatusComponent",
    "StatusPagePolicy",
    "component_names",
    "status_page_problems",
]

# What an open public incident does to the components it names, least to most severe.
ImpactState = Literal["degraded", "partial_outage", "major_outage"]
ComponentState = Literal["operational", "degraded", "partial_outage", "major_outage"]
STATE_ORDER: tuple[ComponentState, ...] = (
    "operational",
    "degraded",
    "partial_outage",
    "major_outage",
)
STATE_LABELS: dict[ComponentState, str] = {
    "operational": "Operational",
    "degraded": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
}
# By rank when the policy does not say: the ladder's first severity is a major outage
# (the runbook's SEV1, "Complete outage"), its second a partial one, the rest degraded.
STATES_BY_RANK: tuple[ImpactState, ...] = ("major_outage", "partial_outage")
# `/incident components none` clears an incident's components: no component may be named so.
CLEAR_WORD = "none"


def _one_or_more(value: Any) -> Any:
    """`component: Checkout` or `component: [Checkout, API]`."""
    return (value,) if isinstance(value, str) else value


# A route's `component`: one name or a list of them.
ComponentNames = Annotated[tuple[str, ...], BeforeValidator(_one_or_more)]


class StatusComponent(BaseModel):
    """A part of the service the public knows by name (Checkout, API)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, PydanticField(min_length=1, max_length=80)]
    description: Annotated[str, PydanticField(max_length=300)] = ""

    @field_validator("name")
    @classmethod
    def _typeable(cls, name: str) -> str:
        name = " ".join(name.split())
        # Commas separate names in `/incident components Checkout, API`.
        if not name or "," in name or not re.fullmatch(r"[^\x00-\x1f<>]+", name):
            raise ValueError(
                f"component name {name!r} must be text without commas, < or > on one line"
            )
        if name.casefold() == CLEAR_WORD:
            raise ValueError(f"{CLEAR_WORD!r} cannot be a component: it clears them")
        return name


class StatusPagePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Annotated[str, PydanticField(min_length=1, max_length=120)]
    components: tuple[StatusComponent, ...] = ()
    # Severity name -> the state an open public incident of it puts its components in;
    # a severity not named here takes its state by rank (STATES_BY_RANK).
    severity_states: dict[str, ImpactState] = PydanticField(default_factory=dict)
    # How long a resolved public incident stays on the page.
    show_resolved_for: Duration = timedelta(days=7)
    # The address people reach warroom's pages at (https://status.acme.io): the feed's
    # links and ids. None: the address each request came to.
    base_url: Annotated[str, PydanticField(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")] | None = None

    @field_validator("title")
    @classmethod
    def _one_line(cls, title: str) -> str:
        title = " ".join(title.split())
        if not title:
            raise ValueError("status_page.title needs some text")
        return title

    @field_validator("components")
    @classmethod
    def _unique(cls, components: tuple[StatusComponent, ...]) -> tuple[StatusComponent, ...]:
        seen: set[str] = set()
        for component in components:
            key = component.name.casefold()
            if key in seen:
                raise ValueError(f"component {component.name!r} is listed twice")
            seen.add(key)
        return components

    @field_validator("show_resolved_for")
    @classmethod
    def _positive(cls, window: timedelta) -> timedelta:
        if window <= timedelta(0) or window > timedelta(days=90):
            raise ValueError("status_page.show_resolved_for must be from 1s to 90d")
        return window

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, url: str | None) -> str | None:
        return url.rstrip("/") if url else url

    def component(self, typed: str) -> StatusComponent | None:
        """The component a person typed (any case, spaces collapsed), if there is one."""
        key = " ".join(typed.split()).casefold()
        return next((c for c in self.components if c.name.casefold() == key), None)

    def state_of(self, severity: str, ladder: list[str]) -> ImpactState:
        """What an open public incident of `severity` (a ladder name) does to its components."""
        named = self.severity_states.get(severity)
        if named is not None:
            return named
        rank = ladder.index(severity) if severity in ladder else len(ladder)
        return STATES_BY_RANK[rank] if rank < len(STATES_BY_RANK) else "degraded"


def component_names(page: StatusPagePolicy) -> str:
    return ", ".join(component.name for component in page.components) or "none configured"


def worst(states: list[ComponentState]) -> ComponentState:
    """The most severe of `states` (operational when there are none)."""
    return max(states, key=STATE_ORDER.index, default="operational")


def status_page_problems(policy: Policy) -> list[str]:
    """Names the status page's settings and the alert routes use but nothing defines."""
    problems: list[str] = []
    page = policy.status_page
    ladder = policy.severity_names()
    if page is not None:
        for severity in page.severity_states:
            if severity not in ladder:
                problems.append(
                    f"status_page.severity_states: unknown severity {severity!r}; "
                    f"use one of {', '.join(ladder)}"
                )
    for index, route in enumerate(policy.alerts.routes):
        for name in route.component:
            where = f"{route.label(index)}.component"
            if page is None:
                problems.append(f"{where}: names {name!r} but there is no status_page")
            elif page.component(name) is None:
                problems.append(
                    f"{where}: unknown component {name!r}; the components are "
                    f"{component_names(page)}"
                )
    return problems
