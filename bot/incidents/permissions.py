"""Who may act on an incident.

A private incident exists only for its people (the members table: its declarer, role
holders, the people its escalation called): to anyone else it reads exactly like a
number never used, whatever they try. On a public incident the policy's `permissions`
name who may take each action; without a rule, anyone in the incident's channel or
recorded as one of its people may (anyone at all may add a message to its timeline), or
only its people with `restrict_to_members: true`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.errors import NotAllowed
from bot.incidents.access import IncidentRef, not_found
from bot.incidents.members import is_member, roles_of
from bot.incidents.status import incident_key
from bot.policy.schema import Action, Policy
from bot.storage.models import Incident
from bot.text.markdown import user_ref

# Adding a message to a public incident's timeline is open to everyone who can see it:
# the shortcut exists to bring a report from #support into the incident.
OPEN_TO_VIEWERS: frozenset[Action] = frozenset({"capture"})
# How a refusal names each action: "only … may <words> INC-7".
ACTION_WORDS: dict[Action, str] = {
    "acknowledge": "acknowledge",
    "status": "change the status of",
    "severity": "change the severity of",
    "note": "add notes to",
    "update": "post updates on",
    "resolve": "resolve",
    "reopen": "reopen",
    "escalate": "escalate",
    "role": "give roles in",
    "capture": "add messages to",
    "silence": "silence the alerts of",
    "diagnose": "run diagnostics on",
    "postmortem": "write the postmortem of",
    "close": "close",
    "action": "change the action items of",
}


def check_access(
    session: Session,
    incident: Incident,
    ref: IncidentRef,
    *,
    actor: str,
    action: Action,
    policy: Policy,
) -> None:
    """Refuse `action` to `actor` unless the rules above allow it."""
    member = is_member(session, incident_id=incident.id or 0, user_id=actor)
    if incident.private and not member:
        raise not_found(ref)
    key, words = incident_key(incident.number), ACTION_WORDS[action]
    rule = policy.permission(action)
    if rule is not None:
        holders = {h.user_id for h in roles_of(session, incident.id or 0) if h.role in rule.roles}
        if actor in rule.users or actor in holders:
            return
        allowed = [f"the {role}" for role in rule.roles] + [user_ref(u) for u in rule.users]
        raise NotAllowed(
            f"only {' or '.join(allowed) or 'nobody'} may {words} {key} (set in the policy)"
        )
    if member or (action in OPEN_TO_VIEWERS and not policy.restrict_to_members):
        return
    if policy.restrict_to_members:
        raise NotAllowed(f"only {key}'s people may {words} it: ask its commander to add you")
    in_channel = incident.channel_id is not None and ref.origin == incident.channel_id
    if not in_channel:
        raise NotAllowed(f"only people in {key}'s channel may {words} it")
