"""The runbook's policy, and how a policy file is laid over it.

Plain data: `bot.policy.schema` validates the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NEXT_BUSINESS_DAY = "next_business_day"

DEFAULT_POLICY_DATA: dict[str, Any] = {
    "severities": [
        {
            "name": "SEV1",
            "description": "Complete outage",
            "aliases": ["P0", "critical"],
            "response": "15m",
            "update_every": "15m",
        },
        {
            "name": "SEV2",
            "description": "Major degradation",
            "aliases": ["P1", "high"],
            "response": "1h",
            "update_every": "30m",
        },
        {
            "name": "SEV3",
            "description": "Partial impact",
            "aliases": ["P2", "medium"],
            "response": "4h",
            "update_every": "1h",
        },
        {
            "name": "SEV4",
            "description": "Minimal impact",
            "aliases": ["P3", "low"],
            "response": NEXT_BUSINESS_DAY,
            "update_every": None,
        },
    ],
    "channel_name": "inc-{number}-{slug}",
    "announce_channel": None,
    "timeline_emoji": "pushpin",
    "pagerduty_url": "https://events.pagerduty.com",
    "escalation": [
        {
            "level": "L1",
            "name": "On-call engineer",
            "severities": ["SEV1", "SEV2", "SEV3", "SEV4"],
            "after": "0s",
        },
        {"level": "L2", "name": "Tech lead", "severities": ["SEV1", "SEV2"], "after": "30m"},
        {"level": "L3", "name": "Engineering manager", "severities": ["SEV1"], "after": "1h"},
    ],
    "roles": {
        "commander": "Incident Commander: leads the response, makes the calls and delegates "
        "the work, so that responders can focus on the fix.",
        "comms": "Communications lead: posts the status updates on cadence and keeps "
        "stakeholders informed.",
        "scribe": "Scribe: records decisions, findings and actions on the timeline, for the "
        "postmortem.",
    },
}

DEFAULT_SEVERITIES: list[dict[str, Any]] = DEFAULT_POLICY_DATA["severities"]
DEFAULT_ESCALATION: list[dict[str, Any]] = DEFAULT_POLICY_DATA["escalation"]
BUILT_IN_ROLES: tuple[str, ...] = tuple(DEFAULT_POLICY_DATA["roles"])


def merge_policy_data(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Lay a (possibly partial) policy over the defaults.

    Severities that name a built-in level change only the fields they give; a list that
    introduces other names defines the whole ladder itself, in its own order (teams that
    speak P0-P3 replace the SEV ladder rather than extend it); the built-in escalation
    path then follows that ladder by rank, unless the file gives its own. Roles are added
    to the built-in ones, or change their descriptions.
    """
    merged: dict[str, Any] = {key: value for key, value in DEFAULT_POLICY_DATA.items()}
    for key, value in overrides.items():
        if key == "severities" and isinstance(value, list):
            merged[key] = _merge_severities(value)
        elif key == "roles" and isinstance(value, Mapping):
            merged[key] = {**DEFAULT_POLICY_DATA["roles"], **value}
        else:
            merged[key] = value
    if "escalation" not in overrides and merged["severities"] is not DEFAULT_SEVERITIES:
        merged["escalation"] = _escalation_by_rank(merged["severities"])
    return merged


def _escalation_by_rank(ladder: list[Any]) -> list[Any]:
    """The built-in path for another ladder: SEV1's levels for its first severity, and so
    on; the level for every severity (L1) stays for every severity."""
    names = [item.get("name") for item in ladder if isinstance(item, Mapping)]
    if len(names) != len(ladder) or not all(isinstance(name, str) for name in names):
        return DEFAULT_ESCALATION  # validation reports the ladder itself
    every = [level["name"] for level in DEFAULT_SEVERITIES]
    translated: list[Any] = []
    for level in DEFAULT_ESCALATION:
        listed: list[str] = level["severities"]
        ranks = sorted(every.index(name) for name in listed)
        covered = names if listed == every else [names[r] for r in ranks if r < len(names)]
        if covered:
            translated.append({**level, "severities": covered})
    return translated


def _merge_severities(given: list[Any]) -> list[Any]:
    defaults = {level["name"].casefold(): level for level in DEFAULT_SEVERITIES}
    names = [item.get("name") for item in given if isinstance(item, Mapping)]
    if (
        not given
        or len(names) != len(given)
        or not all(isinstance(name, str) and name.casefold() in defaults for name in names)
    ):
        return given  # a ladder of its own; validation reports anything missing
    overridden = {str(item["name"]).casefold(): item for item in given}
    return [
        {**level, **overridden.get(key, {})} if key in overridden else level
        for key, level in defaults.items()
    ]
