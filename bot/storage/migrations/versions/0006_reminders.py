"""reminders

Revision ID: 0006
Revises: 0005
When the next "Next Update is overdue" reminder is due: the deadline itself at first,
then every update cadence while the incident stays overdue.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_reminder_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_incident_next_reminder_at", ["next_reminder_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_next_reminder_at")
        batch_op.drop_column("next_reminder_at")
