"""Outbox: a durable "about to send" mark and a count of sends whose outcome was never learnt.

sending_since: set in the transaction that prepares a command's call, right before the call leaves (core.dispatcher).
A command found in flight after its lease with the mark set may have reached the far side: it is sent again (nothing
lost) and counted in unconfirmed_sends, since the Bot API takes no idempotency key and a topic post can then show
twice. /status shows those counts (core.services.readiness).

Revision ID: 0019
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox_commands", sa.Column("sending_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox_commands", sa.Column("unconfirmed_sends", sa.Integer(), server_default="0",
                                               nullable=False))


def downgrade() -> None:
    op.drop_column("outbox_commands", "unconfirmed_sends")
    op.drop_column("outbox_commands", "sending_since")
