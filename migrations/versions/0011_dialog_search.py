"""Indexes for the Mini App's dialog list, search and dialog page at hundreds of thousands of dialogs.

- ix_dialogs_recent (+ per status, channel, assignee): keyset pages in list order (last_message_at DESC, id DESC),
  only dialogs with messages (the list never shows the others);
- ix_customers_search: trigrams (pg_trgm) of the customer's lower-cased name, username and phone (without + - ( ) spaces and dots), for
  substring search;
- ix_messages_fts: full text of message texts with the russian configuration (Russian stems; English words go
  through the english stemmer in that configuration);
- ix_suggestions_message_id: the AI drafts of the messages on a history page (and deleting a message's drafts);
- ix_events_staff_activity: a staff member's last recorded action.

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

RECENT = "message_count > 0"
CUSTOMER_SEARCH = ("lower(coalesce(display_name, '') || ' ' || coalesce(username, '') || ' ' || "
                   "coalesce(translate(phone, '+-() .', ''), ''))")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index("ix_dialogs_recent", "dialogs",
                    ["tenant_id", sa.text("last_message_at DESC"), sa.text("id DESC")],
                    postgresql_where=sa.text(RECENT))
    op.create_index("ix_dialogs_status_recent", "dialogs",
                    ["tenant_id", "status", sa.text("last_message_at DESC"), sa.text("id DESC")],
                    postgresql_where=sa.text(RECENT))
    op.create_index("ix_dialogs_channel_recent", "dialogs",
                    ["channel_id", sa.text("last_message_at DESC"), sa.text("id DESC")],
                    postgresql_where=sa.text(RECENT))
    op.create_index("ix_dialogs_assignee_recent", "dialogs",
                    ["assignee_id", sa.text("last_message_at DESC"), sa.text("id DESC")],
                    postgresql_where=sa.text(f"{RECENT} AND assignee_id IS NOT NULL"))
    op.execute(f"CREATE INDEX ix_customers_search ON customers USING gin (({CUSTOMER_SEARCH}) gin_trgm_ops)")
    op.execute("CREATE INDEX ix_messages_fts ON messages USING gin (to_tsvector('russian'::regconfig, text))")
    op.create_index(op.f("ix_suggestions_message_id"), "suggestions", ["message_id"])
    op.create_index("ix_events_staff_activity", "events", ["actor_staff_id", "created_at"],
                    postgresql_where=sa.text("actor_staff_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_events_staff_activity", table_name="events")
    op.drop_index(op.f("ix_suggestions_message_id"), table_name="suggestions")
    op.drop_index("ix_messages_fts", table_name="messages")
    op.drop_index("ix_customers_search", table_name="customers")
    op.drop_index("ix_dialogs_assignee_recent", table_name="dialogs")
    op.drop_index("ix_dialogs_channel_recent", table_name="dialogs")
    op.drop_index("ix_dialogs_status_recent", table_name="dialogs")
    op.drop_index("ix_dialogs_recent", table_name="dialogs")
    # pg_trgm stays: other objects of the database may use it, and it costs nothing unused.
