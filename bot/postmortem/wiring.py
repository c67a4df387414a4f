"""The postmortem capability's parts, wired for one process (called by bot.app.build)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.inbound.dispatch import Followthrough
from bot.incidents.lifecycle import IncidentLifecycle
from bot.policy.schema import Policy
from bot.postmortem.actions import ActionItemReminders, ActionItems
from bot.postmortem.document import check_document_templates
from bot.postmortem.followup import PostmortemFollowup
from bot.postmortem.service import Postmortems
from bot.postmortem.stats import compute_stats, render_stats
from bot.storage.database import Database
from bot.text.templates import Renderer
from bot.timers.ticker import DueWork


@dataclass(frozen=True)
class PostmortemParts:
    followthrough: Followthrough  # what people ask for from chat
    timers: tuple[DueWork, ...]  # what the ticker fires


def wire_postmortems(
    *,
    db: Database,
    policy: Policy,
    clock: Clock,
    lifecycle: IncidentLifecycle,
    renderer: Renderer,
) -> PostmortemParts:
    """What the end of an incident needs once the lifecycle exists (its effects are
    wired with the other effects: `bot.postmortem.effects.PostmortemEffects`)."""
    # The document's templates rendered once now, on a sample incident: an override that
    # compiles but fails on real data refuses the start instead of the first export.
    check_document_templates(renderer)

    async def stats(viewer: str, days: int) -> str:
        def report(session: Session) -> str:
            figures = compute_stats(session, policy=policy, now=clock(), days=days, viewer=viewer)
            return render_stats(figures, renderer)

        return await db.transaction(report, urgent=True)

    return PostmortemParts(
        followthrough=Followthrough(
            postmortems=Postmortems(db=db, policy=policy, lifecycle=lifecycle),
            actions=ActionItems(
                db=db, policy=policy, clock=clock, lifecycle=lifecycle, renderer=renderer
            ),
            stats=stats,
        ),
        timers=(
            PostmortemFollowup(policy=policy, renderer=renderer),
            ActionItemReminders(renderer=renderer),
        ),
    )
