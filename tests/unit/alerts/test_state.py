"""What a body changes, by fingerprint: only real changes count."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.alerts.model import AlertIn, AlertStatus
from bot.alerts.state import ChangeKind, Known, changes

STARTED = datetime(2026, 11, 22, 5, 18, tzinfo=UTC)


def alert(fingerprint: str, status: str = "firing", starts_at: datetime = STARTED) -> AlertIn:
    return AlertIn(fingerprint, AlertStatus(status), {"instance": fingerprint}, starts_at=starts_at)


def known(**statuses: str) -> dict[str, Known]:
    return {fp: Known(AlertStatus(status), STARTED) for fp, status in statuses.items()}


def test_the_same_state_again_is_no_change() -> None:
    assert changes(known(a="firing", b="resolved"), [alert("a"), alert("b", "resolved")]) == []


def test_new_resolved_and_firing_again() -> None:
    found = changes(
        known(a="firing", b="resolved"), [alert("a", "resolved"), alert("b"), alert("c")]
    )
    assert [(c.alert.fingerprint, c.kind, c.is_new) for c in found] == [
        ("a", ChangeKind.RESOLVED, False),
        ("b", ChangeKind.FIRING_AGAIN, False),
        ("c", ChangeKind.FIRING, True),
    ]


def test_what_a_body_leaves_out_keeps_its_state() -> None:
    """A resolved group's body carries only its last alert."""
    assert [
        c.alert.fingerprint
        for c in changes(known(a="resolved", b="firing"), [alert("b", "resolved")])
    ] == ["b"]


def test_a_new_start_is_a_new_occurrence_and_a_fingerprint_counts_once() -> None:
    later = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    found = changes(known(a="firing"), [alert("a", starts_at=later), alert("d"), alert("d")])
    assert [(c.alert.fingerprint, c.kind) for c in found] == [
        ("a", ChangeKind.FIRING_AGAIN),
        ("d", ChangeKind.FIRING),
    ]


def test_an_alert_first_seen_resolved_is_stored_and_tells_nobody() -> None:
    (found,) = changes({}, [alert("z", "resolved")])
    assert found.kind is ChangeKind.SEEN_RESOLVED and found.is_new and not found.tells
