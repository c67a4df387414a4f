"""Alertmanager's real webhook bodies in, the core's AlertBatch out; and what is refused."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.model import AlertBatch, AlertIn, AlertSource, AlertStatus, Link
from tests.conftest import PROJECT_ROOT
from tests.handlers.alerts.conftest import FIXTURES, accepted, fixture, refused

AM = AlertSource.ALERTMANAGER
SHARED = PROJECT_ROOT.parent / "shared" / "fixtures" / "alertmanager"
GROUP_KEY = '{}:{alertname="HighErrorRate", service="checkout"}'
GROUP_LABELS = {"alertname": "HighErrorRate", "service": "checkout"}
COMMON = {
    "alertname": "HighErrorRate",
    "env": "prod",
    "service": "checkout",
    "severity": "critical",
}
GRAPH = Link("graph", "http://prometheus.local/graph?g0.expr=foo")
RUNBOOK = Link("runbook", "https://runbooks.example/checkout")
SUMMARY = {"summary": "5xx rate above 5%"}


def at(second: int, microsecond: int = 0, minute: int = 19) -> datetime:
    return datetime(2026, 11, 22, 5, minute, second, microsecond, tzinfo=UTC)


def first(status: AlertStatus = AlertStatus.FIRING, ends_at: datetime | None = None) -> AlertIn:
    return AlertIn(
        fingerprint="a24103132a36d2fa",
        status=status,
        labels={**COMMON, "instance": "10.0.0.5:8080"},
        annotations={
            "description": "checkout 5xx ratio is 7.3% over 5m",
            "runbook_url": "https://runbooks.example/checkout",
            **SUMMARY,
        },
        # Alertmanager sends nanoseconds; the microseconds survive.
        starts_at=at(54, 430989, minute=18),
        ends_at=ends_at,
        links=(GRAPH, RUNBOOK),
    )


def second(status: AlertStatus = AlertStatus.FIRING, ends_at: datetime | None = None) -> AlertIn:
    return AlertIn(
        fingerprint="0fb26795a4ef3d59",
        status=status,
        labels={**COMMON, "instance": "10.0.0.6:8080"},
        annotations={"description": "checkout 5xx ratio is 9.1% over 5m", **SUMMARY},
        starts_at=at(3),
        ends_at=ends_at,
        links=(GRAPH,),
    )


def checkout(status: AlertStatus, *alerts: AlertIn, **overrides: Any) -> AlertBatch:
    return AlertBatch(
        **{
            "source": AM,
            "group_key": GROUP_KEY,
            "status": status,
            "alerts": alerts,
            "group_labels": GROUP_LABELS,
            "common_labels": COMMON,
            "common_annotations": SUMMARY,
            "external_url": "http://vm:9093",
            "receiver": "incident-bot",
            **overrides,
        }
    )


def disk(fingerprint: str, instance: str, starts_at: datetime) -> AlertIn:
    return AlertIn(
        fingerprint=fingerprint,
        status=AlertStatus.FIRING,
        labels={
            "alertname": "DiskFull",
            "instance": instance,
            "service": "db",
            "severity": "warning",
        },
        annotations={"summary": "disk > 90%"},
        starts_at=starts_at,
        links=(),  # generatorURL is empty
    )


EXPECTED = {
    "01-firing-one-alert.json": checkout(
        AlertStatus.FIRING,
        first(),
        common_labels={**COMMON, "instance": "10.0.0.5:8080"},
        common_annotations=dict(first().annotations),
    ),
    "02-firing-two-alerts.json": checkout(AlertStatus.FIRING, first(), second()),
    "03-one-resolved-one-firing.json": checkout(
        AlertStatus.FIRING, first(AlertStatus.RESOLVED, ends_at=at(15)), second()
    ),
    "04-group-resolved-last-alert-only.json": checkout(
        AlertStatus.RESOLVED,
        second(AlertStatus.RESOLVED, ends_at=at(21)),
        common_labels={**COMMON, "instance": "10.0.0.6:8080"},
        common_annotations=dict(second().annotations),
    ),
    "05-truncated-max-alerts-2.json": AlertBatch(
        source=AM,
        group_key='{}:{alertname="DiskFull", service="db"}',
        status=AlertStatus.FIRING,
        alerts=(
            disk("49981f96097702e6", "db1", at(36, 408842)),
            disk("13658dec206676c5", "db2", at(36, 433505)),
        ),
        group_labels={"alertname": "DiskFull", "service": "db"},
        common_labels={"alertname": "DiskFull", "service": "db", "severity": "warning"},
        common_annotations={"summary": "disk > 90%"},
        truncated=1,
        external_url="http://vm:9093",
        receiver="incident-bot",
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_each_real_body_becomes_its_batch(name: str) -> None:
    assert await accepted(AM, fixture(f"alertmanager/{name}")) == EXPECTED[name]


def test_every_vendored_body_is_checked() -> None:
    assert sorted(p.name for p in (FIXTURES / "alertmanager").glob("*.json")) == sorted(EXPECTED)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/ is not beside this clone")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_vendored_bodies_are_the_captured_ones(name: str) -> None:
    vendored = (FIXTURES / "alertmanager" / name).read_bytes()
    assert vendored == (SHARED / name).read_bytes()


async def test_an_alert_without_a_fingerprint_gets_alertmanagers_own() -> None:
    body = fixture("alertmanager/02-firing-two-alerts.json")
    for alert in body["alerts"]:
        del alert["fingerprint"]
    batch = await accepted(AM, body)
    assert [a.fingerprint for a in batch.alerts] == ["a24103132a36d2fa", "0fb26795a4ef3d59"]


async def test_a_firing_alert_has_no_end_even_when_one_is_sent() -> None:
    body = fixture("alertmanager/01-firing-one-alert.json")
    body["alerts"][0]["endsAt"] = "2026-11-22T05:30:00Z"
    (alert,) = (await accepted(AM, body)).alerts
    assert alert.ends_at is None


async def test_unknown_fields_are_ignored() -> None:
    body = fixture("alertmanager/01-firing-one-alert.json")
    body["newField"] = {"from": "a later Alertmanager"}
    body["alerts"][0]["extra"] = 1
    assert await accepted(AM, body) == EXPECTED["01-firing-one-alert.json"]


def mutated(change: Any) -> dict[str, Any]:
    body = copy.deepcopy(fixture("alertmanager/02-firing-two-alerts.json"))
    change(body)
    return body


def alert0(key: str, value: Any) -> Any:
    return lambda body: body["alerts"][0].__setitem__(key, value)


def label0(key: str, value: Any) -> Any:
    return lambda body: body["alerts"][0]["labels"].__setitem__(key, value)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body.__setitem__("version", "3"), "version"),
        (lambda body: body.pop("groupKey"), "groupKey"),
        (lambda body: body.__setitem__("status", "pending"), "status"),
        (lambda body: body.__setitem__("alerts", []), "alerts"),
        (lambda body: body.__setitem__("alerts", body["alerts"] * 501), "alerts"),
        (lambda body: body.__setitem__("truncatedAlerts", -1), "truncatedAlerts"),
        (alert0("labels", ["alertname", "HighErrorRate"]), "alerts.0.labels"),
        (alert0("status", "unknown"), "alerts.0.status"),
        (alert0("startsAt", "yesterday"), "alerts.0.startsAt"),
        (label0("instance", 8080), "alerts.0.labels.instance"),
        (label0("x" * 300, "too long a name"), "alerts.0.labels"),
        (label0("", "an empty name"), "alerts.0.labels"),
        (label0("pod", "p" * 5000), "alerts.0.labels.pod"),
        (alert0("labels", {f"l{i}": "v" for i in range(201)}), "alerts.0.labels"),
        (
            lambda body: body["alerts"][1].__setitem__("fingerprint", "f" * 201),
            "alerts.1.fingerprint",
        ),
    ],
)
async def test_a_body_that_is_not_alertmanagers_is_refused_naming_the_field(
    change: Any, field: str
) -> None:
    refusal = await refused(AM, mutated(change))
    assert (refusal.status, refusal.error, refusal.field) == (422, "invalid_payload", field)
    assert refusal.detail and len(refusal.detail) <= 200


async def test_a_refusal_echoes_no_more_than_an_excerpt() -> None:
    secret_looking = "s" * 300
    refusal = await refused(AM, mutated(label0(secret_looking, "x")))
    assert secret_looking not in repr(refusal)
    refusal = await refused(AM, mutated(label0("k" * 255, 1)))
    assert refusal.field is not None and len(refusal.field) < 120
