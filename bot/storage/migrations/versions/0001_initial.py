"""initial schema

Revision ID: 0001
Revises:
Incidents, their timeline, the numbering counter and the chat-delivery outbox.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("severity", sa.String(length=40), nullable=False),
        sa.Column("impact", sa.String(length=2000), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "investigating",
                "mitigating",
                "resolved",
                "closed",
                name="status",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("declared_by", sa.String(length=64), nullable=False),
        sa.Column("declared_in", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channel_id", sa.String(length=64), nullable=True),
        sa.Column("channel_name", sa.String(length=80), nullable=True),
        sa.Column("card_ref", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number", name="uq_incident_number"),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_status"), ["status"], unique=False)

    counter = op.create_table(
        "incident_counter",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope"),
    )
    op.bulk_insert(counter, [{"scope": "incident", "last_number": 0}])
    if op.get_bind().dialect.name == "postgresql":
        # Postgres numbers incidents from a sequence: concurrent declarations never queue.
        op.execute("CREATE SEQUENCE incident_number_seq")
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("pending", "done", name="deliverystate", native_enum=False, length=40),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index("ix_delivery_pending", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "timeline_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "declared",
                "status_changed",
                "severity_changed",
                "note",
                "update",
                "acknowledged",
                "escalated",
                "role_assigned",
                "resolved",
                "reopened",
                name="timelinekind",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("text", sa.String(length=4000), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("timeline_entry", schema=None) as batch_op:
        batch_op.create_index("ix_timeline_incident_at", ["incident_id", "at"], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE incident_number_seq")
    with op.batch_alter_table("timeline_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_timeline_incident_at")

    op.drop_table("timeline_entry")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_pending")
        batch_op.drop_index(batch_op.f("ix_delivery_incident_id"))

    op.drop_table("delivery")
    op.drop_table("incident_counter")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_status"))

    op.drop_table("incident")
