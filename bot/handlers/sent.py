"""A manager's reply that already went to the customer: editing it in the topic corrects the customer's copy, and
/delete sent as a reply to it takes it back (the Bot API tells bots nothing about deleted messages, so deleting it
in the topic cannot be the signal)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message, Update
from sqlalchemy.ext.asyncio import AsyncSession

from core.services import sent_replies

from ..middlewares import require_actor
from .topics import _replied_to, _thread


def router() -> Router:
    r = Router(name="sent_replies")
    r.message.filter(F.chat.type == "supergroup")
    r.edited_message.filter(F.chat.type == "supergroup")

    @r.message(Command("delete"))
    async def take_back(message: Message, session: AsyncSession, group, actor) -> None:
        await sent_replies.take_back(session, require_actor(group, actor), group, thread_id=_thread(message),
                                     command_message_id=message.message_id,
                                     target_message_id=_replied_to(message))

    @r.edited_message(F.is_topic_message, F.text | F.caption)
    async def corrected(message: Message, event_update: Update, session: AsyncSession, group, actor) -> None:
        if group is None or actor is None:
            return  # not a staff member's message in a connected group: it never went to a customer
        # One command per edit: two edits within a second differ by their update, not by edit_date.
        await sent_replies.correct_reply(session, actor, group, telegram_message_id=message.message_id,
                                         text=message.text or message.caption or "",
                                         edit_marker=f"u{event_update.update_id}")

    return r
