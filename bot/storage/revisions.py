"""Where a database's schema stands among warroom's migrations, and taking it back down.

Read-only questions (`schema_state`) never create anything: asking about a SQLite file
that does not exist says so instead of creating an empty one. A downgrade is planned
first (`plan_downgrade`: which migrations it would undo) so that the command line can show
it and ask before anything is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bot.storage.database import _alembic_config, sync_url

BASE = "base"


class RevisionRefused(ValueError):
    """A revision that cannot be the target: unknown, ambiguous, or not below the current one."""


@dataclass(frozen=True)
class Migration:
    revision: str
    title: str  # the first line of the migration's docstring

    def __str__(self) -> str:
        return f"{self.revision} {self.title}" if self.title else self.revision


@dataclass(frozen=True)
class SchemaState:
    current: tuple[str, ...]  # empty: never migrated
    heads: tuple[str, ...]
    known: tuple[str, ...]  # every revision this version of warroom has, oldest first
    exists: bool = True  # False: a SQLite file that is not there

    @property
    def never_migrated(self) -> bool:
        return not self.current

    @property
    def at_head(self) -> bool:
        return bool(self.current) and set(self.current) == set(self.heads)

    @property
    def unknown(self) -> tuple[str, ...]:
        """Applied revisions this version does not have (a newer warroom migrated it)."""
        return tuple(revision for revision in self.current if revision not in self.known)

    def pending(self) -> int:
        """How many migrations `warroom db upgrade` would apply (0 when ahead or unknown)."""
        if self.unknown:
            return 0
        if not self.current:
            return len(self.known)
        applied = max(self.known.index(revision) for revision in self.current)
        return len(self.known) - 1 - applied


@dataclass(frozen=True)
class DowngradePlan:
    current: str
    target: str | None  # None: base, nothing left
    undone: tuple[Migration, ...]  # newest first, as they are undone

    @property
    def target_name(self) -> str:
        return self.target or BASE


def _scripts(url: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config(url))


def _missing_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return False
    return not Path(database).exists()


def _known(scripts: ScriptDirectory) -> tuple[str, ...]:
    return tuple(reversed([script.revision for script in scripts.walk_revisions()]))


def schema_state(url: str) -> SchemaState:
    """The revisions applied to the database at `url` and this version's heads."""
    scripts = _scripts(url)
    heads, known = tuple(scripts.get_heads()), _known(scripts)
    if _missing_sqlite_file(url):
        return SchemaState(current=(), heads=heads, known=known, exists=False)
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            current = tuple(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    return SchemaState(current=current, heads=heads, known=known)


def _migration(script: Script) -> Migration:
    title = (script.doc or "").strip().splitlines()
    return Migration(script.revision, title[0].strip() if title else "")


def plan_downgrade(url: str, target: str) -> DowngradePlan:
    """What `downgrade_database(url, target)` would undo. `target` is a revision (or the
    first four characters or more of one), `-N` (N migrations down) or `base`.
    RevisionRefused when it names nothing, or nothing below the current revision."""
    state = schema_state(url)
    if state.never_migrated:
        raise RevisionRefused("the database has never been migrated: there is nothing to undo")
    if state.unknown or len(state.current) != 1:
        applied = ", ".join(state.current)
        raise RevisionRefused(
            f"the database is at {applied}, which this version of warroom does not know: "
            "downgrade it with the version that migrated it"
        )
    (current,) = state.current
    scripts = _scripts(url)
    resolved = _resolve(scripts, current, target.strip())
    try:
        undone = [_migration(s) for s in scripts.iterate_revisions(current, resolved or BASE)]
    except (CommandError, RevisionError) as error:  # not an ancestor of the current one
        raise RevisionRefused(
            f"{target.strip()!r} is not below the current revision {current}: "
            "`warroom db upgrade` moves up"
        ) from error
    return DowngradePlan(current=current, target=resolved, undone=tuple(undone))


def _resolve(scripts: ScriptDirectory, current: str, target: str) -> str | None:
    """The revision id `target` names (None: base)."""
    shown = target[:40]
    if target == BASE:
        return None
    if target.startswith("-") and not target.startswith("--"):  # `--x`: an option mistyped
        steps = target[1:]
        if not (steps.isascii() and steps.isdigit()) or int(steps) < 1:
            raise RevisionRefused(f"{shown!r}: a relative step is written -1, -2, …")
        revision: str | None = current
        for _ in range(int(steps)):
            if revision is None:
                raise RevisionRefused(
                    f"{shown}: there are not that many migrations below {current}"
                )
            down = scripts.get_revision(revision)
            assert down is not None  # a known revision: checked by plan_downgrade
            parent = down.down_revision
            revision = parent if isinstance(parent, str) or parent is None else None
        return revision
    try:
        found = scripts.get_revision(target) if target else None
    except (CommandError, RevisionError) as error:  # unknown, or a prefix several revisions share
        found = None
        reason = str(error).split(";")[0]
        if "Multiple revisions" in reason:
            raise RevisionRefused(f"{shown!r} names several revisions: give more of it") from error
    if found is None:
        known = _known(scripts)
        raise RevisionRefused(
            f"unknown revision {shown!r}: give one of {known[0]}…{known[-1]}, "
            "a relative step such as -1, or base"
        )
    return found.revision


def downgrade_database(url: str, plan: DowngradePlan) -> None:
    """Undo the migrations of `plan` (blocking; every process using it should be stopped)."""
    command.downgrade(_alembic_config(url), plan.target or BASE)
