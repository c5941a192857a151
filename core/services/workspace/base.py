"""The workspace's shared vocabulary: its outbox command kinds, the topics' status markers, the limits and reactions
every use case refers to, the refusal a manager sees (WorkspaceError), and who acts (Actor, loaded from a staff
member of the tenant) — with the lookups every handler starts from (the group by its chat, the dialog an actor may
change).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ...errors import UserError
from ...models import Dialog, ManagerGroup, StaffMember
from ...permissions import Permission, can


class Kind:
    """Names of the workspace's outbox command kinds. Destination: the manager group (tg_group), except where noted.
    Each kind's definition (payload type, destination, lane, steps) is a class in .group_commands or
    .customer_commands."""

    CREATE_TOPIC = "create_topic"  # {topic_id}
    EDIT_TOPIC = "edit_topic"  # {topic_id}: title and icon from the topic's current status marker
    POST_PINNED_CARD = "post_pinned_card"  # {topic_id}
    PIN_CARD = "pin_card"  # {topic_id}
    EDIT_PINNED_CARD = "edit_pinned_card"  # {topic_id}
    MIRROR = "mirror_message"  # {topic_id, message_id, media, media_group_id, length}
    MIRROR_CHANGE = "mirror_change"  # {topic_id, message_id, change: edit|delete, old_text, new_text}
    POST_REPLY_CARD = "post_reply_card"  # {topic_id, suggestion_id}
    EDIT_REPLY_CARD = "edit_reply_card"  # {topic_id, suggestion_id}
    NOTICE = "post_notice"  # {chat_id, thread_id, topic_id?, key, params, reply_to?} (a short system text)
    GROUP_ALERT = "post_group_alert"  # {chat_id, key, params, locale?}: a group broke or works again; destination: the
    # group (its General topic) or a person's private chat (rendered in their locale)
    INBOX = "post_inbox"  # {chat_id, thread_id, tenant_id, reply_to}: the unanswered-dialogs list
    REACT = "react"  # {chat_id, message_id, emoji}
    BAN = "ban_member"  # {chat_id, user_id}
    UNBAN = "unban_member"  # {chat_id, user_id, only_if_banned}: a removed person invited again may rejoin
    SEND_CONFIRM = "post_send_confirm"  # {topic_id, suggestion_id, reply_to}: Send on a card a person answered meanwhile
    EDIT_SEND_CONFIRM = "edit_send_confirm"  # {chat_id, message_id, suggestion_id}: that prompt once it is handled
    NOTIFY_ESCALATION = "notify_escalation"  # {escalation_id, chat_id}; destination: the escalation chat
    SEND_CUSTOMER = "send_customer_message"  # {dialog_id, chat_id, text, media, ...}; destination: channel_dest


class Marker(str, enum.Enum):
    """Status board: each topic's icon and title prefix say where the dialog stands."""

    NEW = "new"  # never answered
    UNREAD = "unread"  # the customer wrote after an answer
    WAITING = "waiting"  # a reply card waits for approval
    ANSWERED = "answered"
    ESCALATED = "escalated"
    WON = "won"
    LOST = "lost"
    BLOCKED = "blocked"  # the customer blocked the business
    CLOSED = "closed"


# Markers that a new customer message replaces with UNREAD (the rest keep their meaning until someone acts).
_UNREAD_AFTER = {Marker.ANSWERED, Marker.WAITING, Marker.CLOSED, Marker.WON, Marker.LOST, Marker.BLOCKED}

TOPIC_NAME_MAX = 120  # Telegram allows 128; the marker prefix takes the rest
# The cards in a manager group are seen by everyone in it: they show what this role may see.
AUDIENCE_ROLE = "manager"
ROTATE_AFTER = 1_000_000  # messages in one forum before new dialogs go to a fresh group
# Rights the bot needs in a manager group.
REQUIRED_RIGHTS = ("can_manage_topics", "can_pin_messages", "can_delete_messages", "can_restrict_members")
MIRROR_TEXT_BUDGET = 4000  # characters one coalesced post may carry (Telegram: 4096 per message)
LATE_MIRROR_WINDOW = 20  # how far back a mirror task looks for messages whose own task has not run yet
SENT_BY_COMMAND = "command_id"  # Message.extra key on messages we delivered ourselves
NOTE_REACTION = "✍"
DELIVERED_REACTION = "👍"
REJECT_REASONS = ("wrong", "tone", "offtopic", "other")


class WorkspaceError(UserError):
    """A refusal a manager sees. `code` picks the text in the bot's locale; the message is the English fallback."""

    def __init__(self, code: str, message: str, **params):
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Actor:
    """A staff member acting in a manager group, with their role's permissions."""

    staff_id: int
    tenant_id: int
    telegram_user_id: int
    name: str
    role_code: str
    permissions: frozenset[str]

    def can(self, permission: Permission) -> bool:
        return can(self.permissions, permission)

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise WorkspaceError("no_permission", f"your role lacks {permission.value}", permission=permission.value)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _key(prefix: str) -> str:
    """Idempotency key for commands that may legitimately repeat (every edit is a new command)."""
    return f"{prefix}:{uuid.uuid4().hex}"


async def group_by_chat(session: AsyncSession, chat_id: int) -> ManagerGroup | None:
    return (await session.execute(select(ManagerGroup).where(ManagerGroup.chat_id == chat_id))).scalar_one_or_none()


async def load_actor(session: AsyncSession, tenant_id: int, telegram_user_id: int) -> Actor | None:
    staff = (
        await session.execute(
            select(StaffMember).where(
                StaffMember.tenant_id == tenant_id,
                StaffMember.telegram_user_id == telegram_user_id,
                StaffMember.is_active.is_(True),
            )
        )
    ).scalar_one_or_none()
    if staff is None:
        return None
    return Actor(staff.id, staff.tenant_id, staff.telegram_user_id, staff.name, staff.role.code,
                 frozenset(staff.role.permissions))


async def _dialog(session: AsyncSession, actor: Actor, dialog_id: int) -> Dialog:
    dialog = (await session.execute(select(Dialog).where(Dialog.id == dialog_id).with_for_update())).scalar_one_or_none()
    if dialog is None or dialog.tenant_id != actor.tenant_id:
        raise WorkspaceError("dialog_unknown", "this dialog is not known")
    return dialog
