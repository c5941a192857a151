"""The manager group itself: the bot added, promoted or removed; /connect; /inbox."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import ChatMemberAdministrator, ChatMemberUpdated, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.services.workspace import controls, groups

from ..middlewares import require_actor
from ..runtime import BotRuntime

RIGHTS = ("can_manage_topics", "can_pin_messages", "can_delete_messages", "can_restrict_members")


def _rights(member) -> dict:
    if isinstance(member, ChatMemberAdministrator):
        return {right: bool(getattr(member, right, False)) for right in RIGHTS}
    return {}


def router() -> Router:
    r = Router(name="groups")
    r.my_chat_member.filter(F.chat.type == "supergroup")
    r.message.filter(F.chat.type == "supergroup")

    @r.my_chat_member()
    async def bot_membership_changed(event: ChatMemberUpdated, session: AsyncSession) -> None:
        # Added, promoted, demoted or removed: the group's health is recorded once however the updates interleave
        # with /connect (core.services.workspace.groups.connect_group), and what waits for the group moves, waits or resumes.
        status = event.new_chat_member.status
        if status in ("left", "kicked"):
            await groups.disconnect_group(session, event.chat.id)
            return
        await groups.connect_group(
            session, chat_id=event.chat.id, title=event.chat.title or "", is_forum=bool(event.chat.is_forum),
            bot_rights=_rights(event.new_chat_member), by_telegram_user_id=event.from_user.id,
        )

    @r.message(Command("connect"))
    async def connect(message: Message, command: CommandObject, session: AsyncSession, bot: Bot,
                      runtime: BotRuntime) -> None:
        # Asked in the group: read what the bot may do there now (a read, not a post).
        member = await bot.get_chat_member(message.chat.id, runtime.bot_id)
        await groups.connect_group(
            session, chat_id=message.chat.id, title=message.chat.title or "", is_forum=bool(message.chat.is_forum),
            bot_rights=_rights(member), by_telegram_user_id=message.from_user.id,
            tenant_slug=(command.args or "").strip() or None, asked=True, reply_to=message.message_id,
        )

    @r.message(Command("inbox"))
    async def inbox(message: Message, session: AsyncSession, group, actor) -> None:
        actor = require_actor(group, actor)
        await controls.request_inbox(session, actor, group, reply_to=message.message_id,
                               thread_id=message.message_thread_id if message.is_topic_message else None)

    return r
