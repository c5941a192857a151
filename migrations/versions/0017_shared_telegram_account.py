"""One Telegram account connected both ways (a userbot channel and a Telegram Business channel of the same tenant
with the same external id, the account's user id) is one world from now on (core.inbox.home_of): its customers and
dialogs live under the account's first registered channel, the home. Customers' identities and dialogs the other
channel already has move to the home where the home has none for that user or chat, so the next message of such a
chat continues its dialog (and topic) instead of opening a second one. A chat both channels already had a dialog for
stays as it is: the older copy keeps its history under the other channel, new messages go to the home's.
No schema change; the downgrade leaves the rows where they are (they are valid either way).

Revision ID: 0017
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

# channel id → its home, for every Telegram channel whose account is connected both ways in its tenant
MOVING = """
    SELECT c.id AS channel_id, h.home_id
    FROM channel_accounts c
    JOIN (SELECT tenant_id, external_id, min(id) AS home_id
          FROM channel_accounts
          WHERE kind IN ('telegram_account', 'telegram_business')
          GROUP BY tenant_id, external_id) h ON h.tenant_id = c.tenant_id AND h.external_id = c.external_id
    WHERE c.kind IN ('telegram_account', 'telegram_business') AND c.id <> h.home_id
"""


def upgrade() -> None:
    op.execute(f"""
        WITH moving AS ({MOVING})
        UPDATE customer_identities i SET channel_id = m.home_id
        FROM moving m
        WHERE i.channel_id = m.channel_id
          AND NOT EXISTS (SELECT 1 FROM customer_identities x
                          WHERE x.channel_id = m.home_id AND x.external_user_id = i.external_user_id)
    """)
    op.execute(f"""
        WITH moving AS ({MOVING})
        UPDATE dialogs d SET channel_id = m.home_id
        FROM moving m
        WHERE d.channel_id = m.channel_id
          AND NOT EXISTS (SELECT 1 FROM dialogs x
                          WHERE x.channel_id = m.home_id AND x.external_chat_id = d.external_chat_id)
    """)


def downgrade() -> None:
    pass
