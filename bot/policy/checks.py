"""Checks across a policy's fields, and advice on a valid policy that is likely not what its
author meant.

`inconsistencies` are errors: one part of the policy names what another does not define,
and would silently never apply (a level for a severity that does not exist, a permission
for a role nobody can hold). The advice is printed by `warroom check-config`, and the
likely typos are logged by `warroom serve` too.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from bot.errors import UnknownSeverity
from bot.policy.defaults import BUILT_IN_ROLES

if TYPE_CHECKING:
    from bot.policy.schema import Policy


def inconsistencies(policy: Policy) -> list[str]:
    """One line per name used but not defined, each starting with where it is used."""
    problems: list[str] = []
    names = policy.severity_names()
    for index, level in enumerate(policy.escalation):
        for severity in level.severities:
            if severity not in names:
                problems.append(
                    f"escalation[{index}] ({level.level}).severities: "
                    + _unknown_severity(policy, severity)
                )
    for index, route in enumerate(policy.alerts.routes):
        if route.severity is not None and route.severity not in names:
            problems.append(
                f"{route.label(index)}.severity: " + _unknown_severity(policy, route.severity)
            )
    for severity in policy.postmortem.required or ():
        if severity not in names:
            problems.append("postmortem.required: " + _unknown_severity(policy, severity))
    runbooks = [runbook.name for runbook in policy.diagnostics.runbooks]
    for index, route in enumerate(policy.alerts.routes):
        if route.runbook is not None and route.runbook not in runbooks:
            problems.append(
                f"{route.label(index)}.runbook: no diagnostics runbook is named "
                f"{route.runbook!r}"
                + (f"; the runbooks are {', '.join(runbooks)}" if runbooks else "")
            )
        if route.auto_run and route.runbook is None:
            problems.append(f"{route.label(index)}.auto_run: needs a runbook to run")
    rules = [(f"permissions.{action}", rule.roles) for action, rule in policy.permissions.items()]
    if policy.diagnostics.run is not None:
        rules.append(("diagnostics.run", policy.diagnostics.run.roles))
    for where, roles in rules:
        for role in roles:
            if role not in policy.roles:
                problems.append(
                    f"{where}.roles: unknown role {role!r}; the roles are "
                    f"{', '.join(sorted(policy.roles))} (a new one is defined under roles:)"
                )
    return problems


def _unknown_severity(policy: Policy, severity: str) -> str:
    try:
        named = policy.severity(severity).name
    except UnknownSeverity:
        return f"unknown severity {severity!r}; use one of {', '.join(policy.severity_names())}"
    # Escalation compares an incident's severity by name: an alias would never match; and
    # a policy that names each level one way reads the same everywhere.
    return f"{severity!r} is another spelling of {named}: write {named}"


def misspelt_roles(policy: Policy) -> list[str]:
    """Roles that add a new role but look like a built-in one misspelt (`comander`).

    A name close to no built-in role is taken as meant: teams add roles of their own."""
    advice: list[str] = []
    for name in policy.roles:
        if name in BUILT_IN_ROLES:
            continue
        close = difflib.get_close_matches(name, BUILT_IN_ROLES, n=1, cutoff=0.75)
        if close:
            advice.append(
                f"roles.{name}: not one of the built-in roles ({', '.join(BUILT_IN_ROLES)}), "
                f"so it adds a role of its own: did you mean {close[0]}?"
            )
    return advice


def levels_without_contacts(policy: Policy) -> list[str]:
    """Escalation levels that reach nobody: climbing to one is only logged."""
    return [
        f"escalation {level.label()}: no contacts, so reaching it calls nobody "
        "(give it users, usergroups, pagerduty or webhook)"
        for level in policy.escalation
        if not level.contacts.reaches_anyone()
    ]
