"""Telegram Business: a new channel kind, "telegram_business" (the shop's account connected to the manager bot through
Telegram Business → Chatbots). Channel kinds are stored as short strings with a CHECK constraint (core.models.base
str_enum), so the constraints of channel_accounts.kind and traffic_touches.channel_kind are widened.

Revision ID: 0007
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD = ("telegram_account", "vk_community", "vk_user")
NEW = (*OLD, "telegram_business")
# (table, column, constraint name as the naming convention spells it: ck_<table>_<enum name>)
CHECKS = (("channel_accounts", "kind", "ck_channel_accounts_channel_kind"),
          ("traffic_touches", "channel_kind", "ck_traffic_touches_touch_channel_kind"))


def _recreate(values: tuple[str, ...]) -> None:
    allowed = ", ".join(f"'{v}'" for v in values)
    for table, column, name in CHECKS:
        op.drop_constraint(op.f(name), table, type_="check")
        op.create_check_constraint(op.f(name), table, f"{column} IN ({allowed})")


def upgrade() -> None:
    _recreate(NEW)


def downgrade() -> None:
    # Business channels (and their dialogs, messages, touches) cannot be kept under the old constraint.
    op.execute("DELETE FROM traffic_touches WHERE channel_kind = 'telegram_business'")
    op.execute("DELETE FROM channel_accounts WHERE kind = 'telegram_business'")
    _recreate(OLD)
