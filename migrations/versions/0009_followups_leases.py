"""Durable follow-ups and channel leases.

follow_ups: follow-up work (mirror a message, draft a reply, refresh a customer's memory, ...) written in the same
transaction as what caused it, run by taskiq workers, deleted once done, kept as 'dead' when it keeps failing
(core.followups). channel_leases: which process runs a channel account or its import, with a heartbeat
(core.leases).

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.Enum("pending", "running", "dead", name="follow_up_state", native_enum=False,
                                   length=24, create_constraint=True), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("again", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("kicked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_follow_ups_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_follow_ups_kind_key")),
    )
    op.create_index("ix_follow_ups_open", "follow_ups", ["state", "kicked_at"], unique=False,
                    postgresql_where=sa.text("state IN ('pending', 'running')"))
    op.create_index("ix_follow_ups_dead", "follow_ups", ["tenant_id"], unique=False,
                    postgresql_where=sa.text("state = 'dead'"))
    op.create_table(
        "channel_leases",
        sa.Column("name", sa.String(length=96), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("token", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_channel_leases")),
    )


def downgrade() -> None:
    op.drop_table("channel_leases")
    op.drop_index("ix_follow_ups_dead", table_name="follow_ups", postgresql_where=sa.text("state = 'dead'"))
    op.drop_index("ix_follow_ups_open", table_name="follow_ups",
                  postgresql_where=sa.text("state IN ('pending', 'running')"))
    op.drop_table("follow_ups")
