"""The incident's life: statuses of the runbook's card and the moves between them."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    INVESTIGATING = "investigating"
    MITIGATING = "mitigating"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        """As the runbook's card writes it."""
        return self.value.capitalize()

    @property
    def is_open(self) -> bool:
        return self in (Status.INVESTIGATING, Status.MITIGATING)


# Every legal move. Resolved goes back to Investigating when the incident is reopened,
# and to Closed once the postmortem is done; Closed is final.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.INVESTIGATING: frozenset({Status.MITIGATING, Status.RESOLVED}),
    Status.MITIGATING: frozenset({Status.INVESTIGATING, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.INVESTIGATING, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}


class IllegalTransition(ValueError):
    def __init__(self, current: Status, target: Status) -> None:
        self.current = current
        self.target = target
        allowed = sorted(status.label for status in TRANSITIONS[current])
        hint = (
            f"from {current.label} it can go to {', '.join(allowed)}"
            if allowed
            else (f"{current.label} is final")
        )
        super().__init__(f"an incident cannot move from {current.label} to {target.label}: {hint}")


def transition(current: Status, target: Status) -> Status:
    """The status after moving `current` to `target`; IllegalTransition if the table forbids it."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)
    return target


def incident_key(number: int) -> str:
    """How people refer to an incident: INC-7."""
    return f"INC-{number}"
