"""Campaign invite links of Telegram channels and groups, the people who joined through them, and the tenant's
campaign code pattern for first messages (core.services.traffic).

campaign_invite_links: links the bot created (createChatInviteLink) for a campaign; campaign_joins: one row per
person and link (asked to join, joined), counted on the traffic page and turned into touches when the person is or
becomes a customer. tenants.campaign_code_pattern: a regular expression with one group (core.services.tenant_settings).

Revision ID: 0016
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("campaign_code_pattern", sa.String(length=200), nullable=True))
    op.create_table(
        "campaign_invite_links",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_code", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_title", sa.String(length=255), nullable=True),
        sa.Column("chat_type", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=True),
        sa.Column("creates_join_request", sa.Boolean(), nullable=False),
        sa.Column("is_revoked", sa.Boolean(), nullable=False),
        sa.Column("created_by_staff_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_staff_id"], ["staff_members.id"],
                                name=op.f("fk_campaign_invite_links_created_by_staff_id_staff_members"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_campaign_invite_links_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_invite_links")),
        sa.UniqueConstraint("url", name=op.f("uq_campaign_invite_links_url")),
    )
    op.create_index(op.f("ix_campaign_invite_links_tenant_id"), "campaign_invite_links", ["tenant_id"], unique=False)
    op.create_table(
        "campaign_joins",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("link_id", sa.BigInteger(), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("first_name", sa.String(length=255), nullable=True),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["campaign_invite_links.id"],
                                name=op.f("fk_campaign_joins_link_id_campaign_invite_links"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_campaign_joins_tenant_id_tenants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_joins")),
        sa.UniqueConstraint("link_id", "telegram_user_id", name=op.f("uq_campaign_joins_link_id_telegram_user_id")),
    )
    op.create_index("ix_campaign_joins_tenant_user", "campaign_joins", ["tenant_id", "telegram_user_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_campaign_joins_tenant_user", table_name="campaign_joins")
    op.drop_table("campaign_joins")
    op.drop_index(op.f("ix_campaign_invite_links_tenant_id"), table_name="campaign_invite_links")
    op.drop_table("campaign_invite_links")
    op.drop_column("tenants", "campaign_code_pattern")
