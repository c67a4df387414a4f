"""`/incident components`: replace, clear and show the components an incident affects,
through the same parser and use cases as every command; an alert route's `component`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bot.storage.models import TimelineKind
from bot.storage.status_models import IncidentComponent
from tests.status.conftest import POLICY, StatusHarness, policy_of
from tests.unit.alerts.conftest import alert, batch


async def named(status: StatusHarness) -> list[tuple[int, str]]:
    rows = await status.warroom.db.transaction(
        lambda session: list(
            session.execute(
                select(col(IncidentComponent.incident_id), col(IncidentComponent.name)).order_by(
                    col(IncidentComponent.id)
                )
            )
        )
    )
    return [(int(incident), str(name)) for incident, name in rows]


async def test_set_show_replace_and_clear(status: StatusHarness) -> None:
    here = await status.declare()
    shown = await status.command("components", channel=here)
    assert shown.startswith("**INC-1** names no components.\nComponents: Checkout, API, Search")
    assert "It is not on the status page: `/incident update --public <text>` publishes it." in shown

    # Any case; names as the policy spells them, in the order given.
    assert await status.command("components api, CHECKOUT", channel=here) == (
        "✅ INC-1 now names API, Checkout"
    )
    assert await named(status) == [(1, "API"), (1, "Checkout")]
    assert (await status.command("components API, Checkout", channel=here)) == (
        "⚠️ INC-1 already names API, Checkout."
    )
    # Typed without a comma, two names are still two names.
    assert await status.command("components INC-1 Search Checkout", user="U0DECLARER") == (
        "✅ INC-1 now names Search, Checkout"
    )
    assert await named(status) == [(1, "Search"), (1, "Checkout")]
    assert (
        await status.command("components none", channel=here) == "✅ INC-1 now names no components"
    )
    assert await named(status) == []
    entries = [e for e in await status.timeline() if e.kind is TimelineKind.COMPONENTS_SET]
    assert [(e.actor, e.text) for e in entries] == [
        ("U0DECLARER", "API, Checkout"),
        ("U0DECLARER", "Search, Checkout"),
        ("U0DECLARER", "none"),
    ]


async def test_an_unknown_component_is_refused_with_the_known_ones(status: StatusHarness) -> None:
    here = await status.declare()
    reply = await status.command("components Checkout, Billing", channel=here)
    assert reply == (
        "⚠️ unknown component 'Billing'; the components are Checkout, API, Search.\n"
        "Usage: `/incident components \\[INC-N\\] \\[name, name…\\|none\\]`\n"
        "Severities: SEV1 (Complete outage), SEV2 (Major degradation), SEV3 (Partial impact), "
        "SEV4 (Minimal impact)"
    )
    assert await named(status) == []


async def test_showing_says_whether_the_page_shows_it(status: StatusHarness) -> None:
    here = await status.declare()
    await status.command("components Checkout", channel=here)
    await status.command("update --public Looking", channel=here)
    shown = await status.command("components", channel=here)
    assert shown.endswith(
        "It is on the status page as “Incident affecting Checkout” since 2026-11-22 14:08 UTC."
    )
    private = await status.declare("-p sev2 Leak")
    await status.command("components API", channel=private)
    shown = await status.command("components", channel=private)
    assert shown.endswith("It is private: it never appears on the status page.")


async def test_a_private_incident_s_components_are_hidden_from_outsiders(
    status: StatusHarness,
) -> None:
    await status.declare("--private sev1 Leak")
    for text in ("components INC-1", "components INC-1 Checkout"):
        assert (await status.command(text, user="U0OUTSIDER")).startswith("⚠️ there is no INC-1")


async def test_setting_components_is_checked_like_an_update(status: StatusHarness) -> None:
    await status.declare()
    # From outside its channel, someone not in the incident may not change it.
    reply = await status.command("components INC-1 Checkout", user="U0PASSERBY")
    assert reply == "⚠️ only people in INC-1's channel may post updates on it."
    assert await named(status) == []


ROUTED = (
    POLICY
    + """\
alerts:
  routes:
    - {matchers: ['service="checkout"'], action: declare, component: [checkout, api]}
    - {matchers: ['service="search"'], action: declare}
"""
)


async def test_an_alert_route_names_its_components(
    wire: Callable[..., Any], tmp_path: Path
) -> None:
    async for status in wire(policy_of(tmp_path, ROUTED)):
        receipt = await status.warroom.alerts.receive(batch([alert("a1")], group="checkout"))
        assert receipt.action == "declare" and receipt.incident == "INC-1"
        receipt = await status.warroom.alerts.receive(batch([alert("s1")], group="search"))
        assert receipt.incident == "INC-2"
        await status.warroom.worker.drain()
        assert await named(status) == [(1, "Checkout"), (1, "API")]
        (entry,) = [e for e in await status.timeline() if e.kind is TimelineKind.COMPONENTS_SET]
        assert (entry.actor, entry.text) == ("alert:alertmanager", "Checkout, API")
        # Alerts name components; they never publish: the page stays as it was.
        assert await status.public_incidents() == []
        # Later alerts of the group attach to the incident without naming them again.
        await status.warroom.alerts.receive(batch([alert("a1"), alert("a2")], group="checkout"))
        assert await named(status) == [(1, "Checkout"), (1, "API")]
