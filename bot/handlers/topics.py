"""Messages managers write in dialog topics: commands (/note, /ai, /assign, /won, /lost, /close, /reopen), edits of
a reply card (a reply to the card, or the Edit button's pre-filled "@bot #<card> text"), and plain replies, which
go to the customer as they are."""

from __future__ import annotations

import re

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.services.workspace import base, controls, decisions, replies

from ..middlewares import require_actor
from ..runtime import BotRuntime

PREFILLED_EDIT = re.compile(r"^@(?P<bot>\w+)\s+#(?P<card>\d+)\s+(?P<text>.+)$", re.DOTALL)


def _thread(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


def _media(message: Message) -> list[dict]:
    """What a manager attached, as Telegram file ids (the channel adapter fetches the bytes it needs)."""
    if message.photo:
        return [{"kind": "photo", "telegram_file_id": message.photo[-1].file_id}]
    for kind in ("document", "voice", "audio", "video", "video_note", "sticker", "animation"):
        item = getattr(message, kind, None)
        if item is not None:
            return [{"kind": kind if kind != "animation" else "video", "telegram_file_id": item.file_id,
                     "file_name": getattr(item, "file_name", None), "mime": getattr(item, "mime_type", None)}]
    return []


def _replied_to(message: Message) -> int | None:
    """The message this one really replies to (in a forum every message "replies" to the topic's first one)."""
    reply = message.reply_to_message
    if reply is None or reply.message_id == message.message_thread_id or reply.forum_topic_created:
        return None
    return reply.message_id


def router() -> Router:
    r = Router(name="topics")
    r.message.filter(F.chat.type == "supergroup")

    async def dialog_id(session, group, actor, message: Message) -> int:
        return (await controls.dialog_in_group(session, actor, group, _thread(message))).id

    @r.message(Command("note"))
    async def note(message: Message, command: CommandObject, session: AsyncSession, group, actor) -> None:
        await replies.add_note(session, require_actor(group, actor), group, thread_id=_thread(message),
                          telegram_message_id=message.message_id, text=command.args or "")

    @r.message(Command("ai"))
    async def ai_mode(message: Message, command: CommandObject, session: AsyncSession, group, actor) -> None:
        actor = require_actor(group, actor)
        await controls.set_ai_mode(session, actor, await dialog_id(session, group, actor, message),
                             (command.args or "").strip().lower())
        await replies.react(session, group, message.message_id, base.DELIVERED_REACTION)

    @r.message(Command("assign"))
    async def assign(message: Message, command: CommandObject, session: AsyncSession, group, actor) -> None:
        actor = require_actor(group, actor)
        await controls.assign(session, actor, await dialog_id(session, group, actor, message),
                        username=(command.args or "").strip() or None)
        await replies.react(session, group, message.message_id, base.DELIVERED_REACTION)

    @r.message(Command("won"))
    async def won(message: Message, command: CommandObject, session: AsyncSession, group, actor) -> None:
        actor = require_actor(group, actor)
        await controls.mark_won(session, actor, await dialog_id(session, group, actor, message),
                          controls.parse_amount(command.args))
        await replies.react(session, group, message.message_id, base.DELIVERED_REACTION)

    @r.message(Command("lost"))
    async def lost(message: Message, command: CommandObject, session: AsyncSession, group, actor) -> None:
        actor = require_actor(group, actor)
        await controls.mark_lost(session, actor, await dialog_id(session, group, actor, message),
                           (command.args or "").strip() or None)
        await replies.react(session, group, message.message_id, base.DELIVERED_REACTION)

    @r.message(Command("close"))
    async def close(message: Message, session: AsyncSession, group, actor) -> None:
        actor = require_actor(group, actor)
        await controls.close_dialog(session, actor, await dialog_id(session, group, actor, message))
        await replies.react(session, group, message.message_id, base.DELIVERED_REACTION)

    @r.message(Command("reopen"))
    async def reopen(message: Message, session: AsyncSession, group, actor) -> None:
        actor = require_actor(group, actor)
        await controls.reopen_dialog(session, actor, await dialog_id(session, group, actor, message))
        await replies.react(session, group, message.message_id, base.DELIVERED_REACTION)

    @r.message(F.text.startswith("/"))
    async def other_command(message: Message) -> None:
        """Commands meant for someone else never reach a customer."""

    @r.message(F.is_topic_message, F.text | F.caption | F.photo | F.document | F.voice | F.audio | F.video
               | F.video_note | F.sticker | F.animation)
    async def topic_message(message: Message, session: AsyncSession, group, actor, runtime: BotRuntime) -> None:
        if group is None:
            return  # a group the bot is in but nobody connected: not ours to act on
        actor = require_actor(group, actor)
        text = message.text or message.caption or ""
        prefilled = PREFILLED_EDIT.match(message.text or "")
        if prefilled and (runtime.bot_username is None
                          or prefilled["bot"].lower() == runtime.bot_username.lower()):
            await decisions.edit_suggestion(session, actor, int(prefilled["card"]), prefilled["text"])
            return
        replied = _replied_to(message)
        if replied is not None and message.text:
            suggestion_id = await replies.card_suggestion(session, group, replied)
            if suggestion_id is not None:
                await decisions.edit_suggestion(session, actor, suggestion_id, message.text)
                return
        await replies.manager_reply(session, actor, group, thread_id=_thread(message),
                               telegram_message_id=message.message_id, text=text, media=_media(message))

    return r
