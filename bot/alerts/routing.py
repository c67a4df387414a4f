"""Which route an alert group takes, and what it decides: declare, notify or drop, at which
severity, under which title, in which channel.

Routes are the policy's `alerts.routes`, first match wins; a group none matches is
notified at its mapped severity (an alert nobody planned for is shown, never lost).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Literal

from bot.errors import UnknownSeverity
from bot.policy.alerts import AlertRoute, compile_title
from bot.policy.schema import Policy

__all__ = [
    "FALLBACK_ROUTE",
    "TITLE_MAX",
    "RouteDecision",
    "alert_title",
    "route_alert_group",
    "severity_from_labels",
]

log = logging.getLogger(__name__)

TITLE_MAX = 200
FALLBACK_ROUTE = AlertRoute(action="notify")
# The runbook's alert severities, by rank on the ladder (0: its first level).
_SEVERITY_LABEL_RANKS = {"critical": 0, "error": 1, "high": 1, "warning": 2, "info": 3, "low": 3}
_UNKNOWN_SEVERITY_RANK = 2


@dataclass(frozen=True)
class RouteDecision:
    route_index: int  # index in policy.alerts.routes; -1 for the implicit fallback
    route: AlertRoute  # the fallback is FALLBACK_ROUTE
    action: Literal["declare", "notify", "drop"]
    severity: str  # a ladder name of the policy (e.g. "SEV2")
    title: str  # one line, at most TITLE_MAX characters
    # notify: the route's channel, else the announce channel; declare: the announce
    # channel (where the incident is announced); drop: None.
    channel: str | None

    @property
    def route_label(self) -> str:
        return self.route.label(self.route_index)


def route_alert_group(
    policy: Policy,
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    source_title: str | None = None,
    announce_channel: str | None = None,
) -> RouteDecision:
    """The decision of the first route whose matchers all match `labels`.

    `announce_channel` is the effective one (a setting may override the policy's); when
    not given, the policy's own is used."""
    index, route = next(
        (
            (index, route)
            for index, route in enumerate(policy.alerts.routes)
            if all(matcher.matches(labels) for matcher in route.matchers)
        ),
        (-1, FALLBACK_ROUTE),
    )
    severity = (
        policy.severity(route.severity).name
        if route.severity is not None
        else severity_from_labels(policy, labels)
    )
    announce = announce_channel or policy.announce_channel
    if route.action == "notify":
        channel = route.channel or announce
    else:
        channel = announce if route.action == "declare" else None
    decision = RouteDecision(
        route_index=index,
        route=route,
        action=route.action,
        severity=severity,
        title=alert_title(route, labels=labels, annotations=annotations, source_title=source_title),
        channel=channel,
    )
    log.debug(
        "alert group %s: %s by %s at %s",
        labels.get("alertname", "?"),
        decision.action,
        decision.route_label,
        decision.severity,
    )
    return decision


def severity_from_labels(policy: Policy, labels: Mapping[str, str]) -> str:
    """The ladder name an alert's `severity` label means.

    The runbook's words first (critical, error/high, warning, info/low: the ladder's
    1st to 4th level, or its last if it is shorter), then a ladder name or alias
    (`SEV2`, `P1`); anything else, or no label, is the 3rd level (or the last)."""
    ladder = policy.severity_names()
    given = labels.get("severity", "").strip()
    rank = _SEVERITY_LABEL_RANKS.get(given.casefold())
    if rank is None and given:
        with suppress(UnknownSeverity):
            return policy.severity(given).name
    if rank is None:
        rank = _UNKNOWN_SEVERITY_RANK
    return ladder[min(rank, len(ladder) - 1)]


def alert_title(
    route: AlertRoute,
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    source_title: str | None,
) -> str:
    """The route's title template rendered over the alert (its labels are values, never
    template source); when it gives nothing, `<alertname> on <service>` and so on."""
    if route.title is not None:
        rendered = _one_line(_render(route.title, labels, annotations, source_title))
        if rendered:
            return _cut(rendered)
    alertname = _one_line(labels.get("alertname", ""))
    service = _one_line(labels.get("service", ""))
    candidates = (
        f"{alertname} on {service}" if alertname and service else alertname,
        _one_line(annotations.get("summary", "")),
        _one_line(source_title or ""),
    )
    return _cut(next((text for text in candidates if text), "Alert"))


def _render(
    source: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    source_title: str | None,
) -> str:
    try:
        return compile_title(source).render(
            labels=dict(labels), annotations=dict(annotations), source_title=source_title or ""
        )
    except Exception as exc:  # a template may fail in any way; the alert still gets a title
        log.warning("alert title template %r failed (%s: %s)", source, type(exc).__name__, exc)
        return ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str) -> str:
    if len(text) <= TITLE_MAX:
        return text
    return text[: TITLE_MAX - 1].rstrip() + "…"
