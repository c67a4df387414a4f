"""Observations that wait for the commit that makes them true.

A use case notes what it did (an incident declared, a timer fired) in its transaction,
and the note is carried out only once that transaction has committed: a transaction that
rolls back, a savepoint that rolls back (one alert delivery among several stored
together), or a group of transactions run again one by one after a failure
(bot/storage/transactions.py) counts nothing twice and nothing that did not happen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)

_NOTES_KEY = "warroom.metrics_notes"

Observe = Callable[[], None]


@dataclass
class _Notes:
    """What one session's transaction owes once it commits, each with the (sub)transaction
    it was noted in, so that a savepoint rolled back takes its own notes with it."""

    owed: list[tuple[SessionTransaction, Observe]] = field(default_factory=list)

    def committed(self, session: Session) -> None:
        if session.get_nested_transaction() is not None:
            return  # a savepoint released: the transaction around it may still roll back
        owed, self.owed = self.owed, []
        for _, observe in owed:
            _record(observe)

    def rolled_back(self, _session: Session, previous: SessionTransaction) -> None:
        self.owed = [(at, observe) for at, observe in self.owed if not _within(at, previous)]


def _record(observe: Observe) -> None:
    try:
        observe()
    except Exception:  # a metric never breaks what it measures (here: a committed answer)
        log.exception("a metric could not be recorded")


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


def once_committed(session: Session, observe: Observe) -> None:
    """Run `observe` after the transaction `session` is in commits; never if it rolls
    back, nor if the savepoint it was noted in does. Outside a transaction: at once."""
    where = session.get_nested_transaction() or session.get_transaction()
    if where is None:  # nothing to wait for
        _record(observe)
        return
    notes: _Notes | None = session.info.get(_NOTES_KEY)
    if notes is None:
        notes = session.info[_NOTES_KEY] = _Notes()
        event.listen(session, "after_commit", notes.committed)
        event.listen(session, "after_soft_rollback", notes.rolled_back)
    notes.owed.append((where, observe))
