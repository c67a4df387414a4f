"""acknowledgement and resolution

Revision ID: 0002
Revises: 0001
Who acknowledged an incident and when, and the resolution given when it was resolved.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("resolution", sa.String(length=2000), nullable=False, server_default="")
        )
        batch_op.create_index("ix_incident_channel_id", ["channel_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_channel_id")
        batch_op.drop_column("resolution")
        batch_op.drop_column("acknowledged_by")
        batch_op.drop_column("acknowledged_at")
