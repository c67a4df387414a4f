"""automatic escalation

Revision ID: 0007
Revises: 0006
When the next automatic escalation step is due, and whether the acknowledgement SLA has
already been broken (it escalates once).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_escalation_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("sla_breached", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index("ix_incident_next_escalation_at", ["next_escalation_at"])


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_next_escalation_at")
        batch_op.drop_column("sla_breached")
        batch_op.drop_column("next_escalation_at")
