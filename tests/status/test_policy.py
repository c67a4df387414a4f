"""The policy's `status_page:` section and the alert routes' `component`: validated like the
rest of the policy, every problem named where it is."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.errors import ConfigurationError
from bot.policy.schema import default_policy, load_policy
from tests.status.conftest import policy_of


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigurationError) as raised:
        policy_of(tmp_path, text)
    return str(raised.value)


def test_absent_means_no_status_page() -> None:
    assert default_policy().status_page is None
    assert load_policy(None).status_page is None


def test_a_full_section(tmp_path: Path) -> None:
    policy = policy_of(
        tmp_path,
        """\
status_page:
  title: "  Acme   Status "
  components:
    - {name: Checkout, description: Paying for an order}
    - {name: "  Public   API "}
  severity_states: {SEV3: partial_outage}
  show_resolved_for: 3d
  base_url: https://status.acme.io/
alerts:
  routes:
    - {matchers: ['team="payments"'], action: declare, component: checkout}
    - {matchers: ['team="api"'], component: [public api, Checkout]}
""",
    )
    page = policy.status_page
    assert page is not None
    assert page.title == "Acme Status"
    assert [c.name for c in page.components] == ["Checkout", "Public API"]
    assert page.components[0].description == "Paying for an order"
    assert page.show_resolved_for == timedelta(days=3)
    assert page.base_url == "https://status.acme.io"
    assert page.component("PUBLIC api") is page.components[1]
    assert page.component("Billing") is None
    assert policy.alerts.routes[0].component == ("checkout",)  # one name or a list
    assert policy.alerts.routes[1].component == ("public api", "Checkout")


def test_states_by_severity_follow_the_ladder_unless_the_policy_says(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, "status_page: {title: S, severity_states: {SEV4: major_outage}}")
    page, ladder = policy.status_page, policy.severity_names()
    assert page is not None
    assert [page.state_of(name, ladder) for name in ladder] == [
        "major_outage",  # SEV1, complete outage
        "partial_outage",  # SEV2
        "degraded",  # SEV3
        "major_outage",  # SEV4, as the policy says
    ]
    own = policy_of(
        tmp_path,
        "severities: [{name: P0, response: 5m}, {name: P1, response: 1h},"
        " {name: P2, response: 4h}]\n"
        "status_page: {title: S}\n",
    )
    assert own.status_page is not None
    states = [own.status_page.state_of(name, own.severity_names()) for name in ("P0", "P1", "P2")]
    assert states == ["major_outage", "partial_outage", "degraded"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "status_page: {title: S, colour: red}",
            "status_page.colour: Extra inputs are not permitted",
        ),
        ("status_page: {components: [{name: API}]}", "status_page.title: Field required"),
        ("status_page: {title: '   '}", "status_page.title needs some text"),
        (
            "status_page: {title: S, components: [{name: API, owner: me}]}",
            "status_page.components[0] (API).owner: Extra inputs are not permitted",
        ),
        (
            "status_page: {title: S, components: [{name: API}, {name: api}]}",
            "component 'api' is listed twice",
        ),
        (
            "status_page: {title: S, components: [{name: 'A, B'}]}",
            "component name 'A, B' must be text without commas",
        ),
        ("status_page: {title: S, components: [{name: None}]}", "'none' cannot be a component"),
        ("status_page: {title: S, components: [{name: ''}]}", "at least 1 character"),
        (
            "status_page: {title: S, severity_states: {SEV9: degraded}}",
            "status_page.severity_states: unknown severity 'SEV9'; use one of SEV1, SEV2, SEV3",
        ),
        (
            "status_page: {title: S, severity_states: {SEV1: down}}",
            "Input should be 'degraded', 'partial_outage' or 'major_outage'",
        ),
        ("status_page: {title: S, show_resolved_for: 0s}", "must be from 1s to 90d"),
        ("status_page: {title: S, show_resolved_for: 1y}", "invalid duration"),
        ("status_page: {title: S, base_url: status.acme.io}", "status_page.base_url"),
        (
            "status_page: {title: S, components: [{name: API}]}\n"
            "alerts: {routes: [{matchers: ['a=\"b\"'], component: Checkout}]}",
            "alerts.routes[0].component: unknown component 'Checkout'; the components are API",
        ),
        (
            "alerts: {routes: [{name: pay, matchers: ['a=\"b\"'], component: Checkout}]}",
            "alerts.routes[0] (pay).component: names 'Checkout' but there is no status_page",
        ),
    ],
)
def test_bad_sections_are_refused_naming_the_field(tmp_path: Path, text: str, message: str) -> None:
    assert message in refused(tmp_path, text)


def test_check_config_prints_the_section(tmp_path: Path) -> None:
    policy = policy_of(tmp_path, "status_page: {title: Acme, components: [{name: API}]}")
    printed = policy.as_yaml()
    assert "status_page:\n  title: Acme\n" in printed
    assert "show_resolved_for: 7d" in printed
