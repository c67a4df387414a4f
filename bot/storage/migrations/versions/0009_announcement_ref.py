"""announcement ref

Revision ID: 0009
Revises: 0008
The announcement of a public incident is edited in place as the incident moves
(severity, status, resolution): the incident keeps which message it is, and where.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("announced_in", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("announcement_ref", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("announcement_ref")
        batch_op.drop_column("announced_in")
