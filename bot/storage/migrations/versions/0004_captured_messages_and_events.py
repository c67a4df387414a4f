"""captured messages and processed events

Revision ID: 0004
Revises: 0003
Timeline entries may come from a chat message (pinned, reacted to, or added by shortcut):
`source` names it so that removing the pin or reaction removes the entry, and the same
message is captured once. Processed event ids make re-delivered events harmless.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("timeline_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint("uq_timeline_source", ["incident_id", "source"])
    op.create_table(
        "processed_event",
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )


def downgrade() -> None:
    op.drop_table("processed_event")
    with op.batch_alter_table("timeline_entry", schema=None) as batch_op:
        batch_op.drop_constraint("uq_timeline_source", type_="unique")
        batch_op.drop_column("source")
