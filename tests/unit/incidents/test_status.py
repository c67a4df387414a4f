import itertools

import pytest

from bot.incidents.status import TRANSITIONS, IllegalTransition, Status, incident_key, transition

LEGAL = {
    (Status.INVESTIGATING, Status.MITIGATING),
    (Status.INVESTIGATING, Status.RESOLVED),
    (Status.MITIGATING, Status.INVESTIGATING),
    (Status.MITIGATING, Status.RESOLVED),
    (Status.RESOLVED, Status.INVESTIGATING),  # reopen
    (Status.RESOLVED, Status.CLOSED),  # postmortem done
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(Status, Status)))
def test_every_pair_of_statuses(current: Status, target: Status) -> None:
    if (current, target) in LEGAL:
        assert transition(current, target) is target
    else:
        with pytest.raises(IllegalTransition) as raised:
            transition(current, target)
        assert current.label in str(raised.value)
        assert target.label in str(raised.value)


def test_table_covers_every_status_and_closed_is_final() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert TRANSITIONS[Status.CLOSED] == frozenset()
    with pytest.raises(IllegalTransition, match="Closed is final"):
        transition(Status.CLOSED, Status.INVESTIGATING)


def test_labels_match_the_runbook_card() -> None:
    assert [s.label for s in Status] == ["Investigating", "Mitigating", "Resolved", "Closed"]
    assert [s for s in Status if s.is_open] == [Status.INVESTIGATING, Status.MITIGATING]
    assert incident_key(7) == "INC-7"
