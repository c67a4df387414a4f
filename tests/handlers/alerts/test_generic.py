"""warroom's own alert JSON: one body, one alert, keyed by `dedup_key` or title and service."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.alerts.model import AlertBatch, AlertIn, AlertSource, AlertStatus, Link
from handlers.alerts.generic import EXAMPLE
from tests.handlers.alerts.conftest import accepted, refused

GENERIC = AlertSource.GENERIC


async def test_the_documented_example_becomes_one_group_of_one_alert() -> None:
    description = "5xx ratio 7.3% over the last 5 minutes."
    assert await accepted(GENERIC, EXAMPLE) == AlertBatch(
        source=GENERIC,
        group_key="checkout-5xx",
        status=AlertStatus.FIRING,
        alerts=(
            AlertIn(
                fingerprint="checkout-5xx",
                status=AlertStatus.FIRING,
                labels={
                    "env": "prod",
                    "region": "eu-west-1",
                    "alertname": "Checkout error rate above 5%",
                    "severity": "sev2",
                    "service": "checkout",
                },
                annotations={"summary": "Checkout error rate above 5%", "description": description},
                links=(Link("Dashboard", "https://grafana.example/d/checkout"),),
            ),
        ),
        title="Checkout error rate above 5%",
        description=description,
    )


async def test_a_title_alone_is_enough() -> None:
    batch = await accepted(GENERIC, {"title": "Nightly backup failed"})
    (alert,) = batch.alerts
    assert batch.status is alert.status is AlertStatus.FIRING
    assert alert.labels == {"alertname": "Nightly backup failed"}
    assert alert.fingerprint == batch.group_key
    assert batch.route_labels() == alert.labels


async def test_without_a_dedup_key_title_and_service_are_the_key() -> None:
    async def key(**body: Any) -> str:
        return (await accepted(GENERIC, body)).group_key

    backup = await key(title="Backup failed", service="db")
    assert backup == await key(title="Backup failed", service="db", severity="sev3")
    assert backup == await key(title="  Backup failed ", service="db", status="resolved")
    assert (
        len(
            {
                backup,
                await key(title="Backup failed"),
                await key(title="Backup failed", service="mq"),
            }
        )
        == 3
    )
    assert await key(title="a b", service="c") != await key(title="a", service="b c")
    # The same key in every process: a stored alert group is found again after a restart.
    assert backup == "2b7ed102cde1af4d90a04705190139c7"


async def test_resolving_names_the_same_alert() -> None:
    firing = await accepted(GENERIC, {"title": "Disk full", "dedup_key": "db1-disk"})
    resolved = await accepted(
        GENERIC, {"title": "Disk full", "dedup_key": "db1-disk", "status": "resolved"}
    )
    assert resolved.group_key == firing.group_key == "db1-disk"
    assert resolved.status is resolved.alerts[0].status is AlertStatus.RESOLVED


async def test_the_named_fields_win_over_labels_and_empty_ones_are_absent() -> None:
    body = {
        "title": "Queue backlog",
        "severity": "sev1",
        "service": "",
        "description": "",
        "dedup_key": "",
        "labels": {"severity": "low", "service": "mq", "team": "data"},
    }
    batch = await accepted(GENERIC, body)
    (alert,) = batch.alerts
    assert alert.labels == {
        "severity": "sev1",
        "service": "mq",
        "team": "data",
        "alertname": "Queue backlog",
    }
    assert batch.description is None and "description" not in alert.annotations
    assert batch.group_key == (await accepted(GENERIC, {"title": "Queue backlog"})).group_key


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": "   "}, "title"),
        ({"title": 42}, "title"),
        ({"title": "t" * 501}, "title"),
        ({"title": "x", "severty": "sev1"}, "severty"),
        ({"title": "x", "status": "acknowledged"}, "status"),
        ({"title": "x", "labels": {"team": 7}}, "labels.team"),
        ({"title": "x", "labels": "team=data"}, "labels"),
        ({"title": "x", "links": [{"title": "Run", "url": "javascript:alert(1)"}]}, "links.0.url"),
        ({"title": "x", "links": [{"url": "https://x.example"}]}, "links.0.title"),
        ({"title": "x", "links": [{"title": "a", "url": "https://x.example"}] * 21}, "links"),
        ({"title": "x", "severity": "s" * 41}, "severity"),
    ],
)
async def test_a_body_that_is_not_the_format_is_refused(body: dict[str, Any], field: str) -> None:
    refusal = await refused(GENERIC, body)
    assert (refusal.status, refusal.error, refusal.field) == (422, "invalid_payload", field)
    assert refusal.body() == {
        "ok": False,
        "error": "invalid_payload",
        "field": field,
        "detail": refusal.detail,
    }


@pytest.mark.parametrize("body", [[], ["title"], "title", 7, None])
async def test_json_that_is_not_an_object_is_refused_without_a_field(body: Any) -> None:
    refusal = await refused(GENERIC, json.dumps(body).encode())
    assert (refusal.status, refusal.error, refusal.field) == (422, "invalid_payload", None)
    assert refusal.detail == "expected a JSON object"


async def test_escaped_characters_outside_the_basic_plane_are_text() -> None:
    batch = await accepted(GENERIC, b'{"title": "Pager \\ud83d\\udcdf down"}')
    assert batch.title == "Pager \N{PAGER} down"
