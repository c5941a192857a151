"""AI: spend precision (ai_usage.cost_usd holds tokens × price exactly, 12 decimal places) and a trigram index
on product names for lookups by a word inside the name.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("ai_usage", "cost_usd", type_=sa.Numeric(20, 12), existing_type=sa.Numeric(14, 8),
                    existing_nullable=False)
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it, no superuser needed.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index("ix_products_name_trgm", "products", ["name"], unique=False, postgresql_using="gin",
                    postgresql_ops={"name": "gin_trgm_ops"})


def downgrade() -> None:
    op.drop_index("ix_products_name_trgm", table_name="products", postgresql_using="gin")
    op.alter_column("ai_usage", "cost_usd", type_=sa.Numeric(14, 8), existing_type=sa.Numeric(20, 12),
                    existing_nullable=False)
