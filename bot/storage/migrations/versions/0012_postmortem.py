"""postmortem

Revision ID: 0012
Revises: 0011
The postmortem's sections and exports, action items, and on the incident when its
postmortem follow-through is next due and when it was closed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "postmortem",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id"), nullable=False),
        sa.Column("root_cause", sa.String(length=3000), nullable=False),
        sa.Column("impact", sa.String(length=3000), nullable=False),
        sa.Column("resolution", sa.String(length=3000), nullable=False),
        sa.Column("went_well", sa.String(length=3000), nullable=False),
        sa.Column("could_improve", sa.String(length=3000), nullable=False),
        sa.Column("written_by", sa.String(length=64), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exports", sa.Integer(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(length=64), nullable=True),
        sa.Column("confluence_page_id", sa.String(length=64), nullable=True),
        sa.Column("confluence_url", sa.String(length=500), nullable=True),
        sa.UniqueConstraint("incident_id", name="uq_postmortem_incident"),
    )
    op.create_table(
        "action_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=64), nullable=True),
        sa.Column("next_reminder_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("incident_id", "number", name="uq_action_item_number"),
    )
    op.create_index("ix_action_item_reminder", "action_item", ["next_reminder_at"])
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("followup_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_incident_followup_at", ["followup_at"])


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_followup_at")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("followup_at")
    op.drop_index("ix_action_item_reminder", table_name="action_item")
    op.drop_table("action_item")
    op.drop_table("postmortem")
