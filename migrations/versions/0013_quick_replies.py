"""Quick replies and the channels' copies of library files.

quick_replies: named texts with media items of the library, per tenant (core.services.quick_replies), inserted from
a dialog's topic with `/q <words>`. media_channel_refs: a library file as a channel already holds it (VK's attachment
string, uploaded once through that community or account and reused by later sends).

Revision ID: 0013
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quick_replies",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("media_item_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["staff_members.id"],
                                name=op.f("fk_quick_replies_created_by_id_staff_members"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_quick_replies_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quick_replies")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_quick_replies_tenant_id_name")),
    )
    op.create_index(op.f("ix_quick_replies_tenant_id"), "quick_replies", ["tenant_id"], unique=False)
    op.create_table(
        "media_channel_refs",
        sa.Column("media_item_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channel_accounts.id"],
                                name=op.f("fk_media_channel_refs_channel_id_channel_accounts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["media_item_id"], ["media_items.id"],
                                name=op.f("fk_media_channel_refs_media_item_id_media_items"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("media_item_id", "channel_id", name=op.f("pk_media_channel_refs")),
    )


def downgrade() -> None:
    op.drop_table("media_channel_refs")
    op.drop_index(op.f("ix_quick_replies_tenant_id"), table_name="quick_replies")
    op.drop_table("quick_replies")
