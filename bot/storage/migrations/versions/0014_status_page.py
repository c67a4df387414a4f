"""status page

Revision ID: 0014
Revises: 0013
The public status page: the components each incident names, the incidents made public,
and the updates posted for the public.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_component",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id"), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.UniqueConstraint("incident_id", "name", name="uq_incident_component"),
    )
    op.create_table(
        "public_incident",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id"), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("incident_id", name="uq_public_incident"),
    )
    op.create_table(
        "public_update",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=4000), nullable=False),
    )
    op.create_index("ix_public_update_incident_at", "public_update", ["incident_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_public_update_incident_at", table_name="public_update")
    op.drop_table("public_update")
    op.drop_table("public_incident")
    op.drop_table("incident_component")
