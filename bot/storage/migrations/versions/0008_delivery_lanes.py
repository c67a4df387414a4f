"""delivery lanes

Revision ID: 0008
Revises: 0007
Deliveries keep their order within a lane (chat, pager) per incident, so a pager that is
down never holds up the incident's chat messages, nor the other way round. A delivery the
receiver refuses for good (a 4xx from a pager) ends as failed instead of being retried.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lane", sa.String(length=20), nullable=False, server_default="chat")
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("lane")
