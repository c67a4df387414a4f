"""alerts

Revision ID: 0010
Revises: 0009
Alert groups and their alerts (state per fingerprint), what opened an incident, the
incident's alert digest and storm bookkeeping; deliveries owed to no incident yet (an
alert's triage card).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_group",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("group_key", sa.String(length=4000), nullable=False),
        sa.Column("group_labels", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("severity", sa.String(length=40), nullable=False),
        sa.Column("route_index", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("truncated", sa.Integer(), nullable=False),
        sa.Column("external_url", sa.String(length=500), nullable=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id"), nullable=True),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("triage_channel", sa.String(length=64), nullable=True),
        sa.Column("triage_ref", sa.String(length=64), nullable=True),
        sa.Column("triage_state", sa.String(length=20), nullable=True),
        sa.Column("triaged_by", sa.String(length=64), nullable=True),
        sa.UniqueConstraint("source", "key_hash", name="uq_alert_group_key"),
    )
    op.create_index("ix_alert_group_incident_id", "alert_group", ["incident_id"])
    op.create_index("ix_alert_group_route_declared", "alert_group", ["route_index", "declared_at"])
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("alert_group.id"), nullable=False),
        sa.Column("fingerprint", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("group_id", "fingerprint", name="uq_alert_fingerprint"),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=20), nullable=False, server_default="command")
        )
        batch_op.add_column(
            sa.Column("alert_digest_through", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("alerts_resolved_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("storm_route", sa.Integer(), nullable=True))
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # Deliveries owed to no incident (alerts' triage cards) cannot stay once every delivery
    # must name one again; the alert groups they were about are dropped below anyway.
    op.execute("DELETE FROM delivery WHERE incident_id IS NULL")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("storm_route")
        batch_op.drop_column("alerts_resolved_at")
        batch_op.drop_column("alert_digest_through")
        batch_op.drop_column("source")
    op.drop_table("alert")
    op.drop_index("ix_alert_group_route_declared", table_name="alert_group")
    op.drop_index("ix_alert_group_incident_id", table_name="alert_group")
    op.drop_table("alert_group")
