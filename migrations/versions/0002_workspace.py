"""Workspace: a partial index for the outbox dispatcher's lanes (open commands per dialog and destination).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_open_lanes", "outbox_commands", ["dialog_id", "destination", "id"], unique=False,
                    postgresql_where=sa.text("state IN ('approved', 'queued', 'in_flight')"))


def downgrade() -> None:
    op.drop_index("ix_outbox_open_lanes", table_name="outbox_commands",
                  postgresql_where=sa.text("state IN ('approved', 'queued', 'in_flight')"))
