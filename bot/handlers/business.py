"""Telegram Business: the shop's account connected to this bot (Settings → Telegram Business → Chatbots; BotFather's
Business Mode must be on). Thin handlers over core.services.business:

- business_connection: the channel is registered for the owner's tenant, refreshed or disconnected; the owner is
  told in their private chat with the bot (after the commit: a direct answer to what they just did), or asked which
  business when they run several (inline buttons; a lost question is asked again when they reconnect the bot);
- business_message / edited_business_message / deleted_business_messages: into the inbox, like every channel's
  messages — the customer's become dialogs, topics and cards, the owner's own (typed in the Telegram app) are the
  shop's answers. A connection the bot has not seen yet (its update came before a restart) is fetched with
  getBusinessConnection. Messages the bot itself sent for the shop (sender_business_bot) are ours already.

The follow-up left after the unit of work (the AI draft) goes to the task queue (`services["task_queue"]`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiogram import Bot, F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    BusinessConnection,
    BusinessMessagesDeleted,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from sqlalchemy.ext.asyncio import AsyncSession

from core import i18n
from core.i18n import t
from core.inbox import InboundAttachment, InboundMessage, Sender, TrafficInfo
from core.models import AttachmentKind, ChannelAccount, Direction
from core.services import business

from userbots.traffic import urls_in, utm_of

from ..middlewares import AfterCommit
from ..render import esc
from ..runtime import BotRuntime

log = logging.getLogger(__name__)


class TenantPick(CallbackData, prefix="biz"):
    pending: int  # the waiting connection (core.services.business.PENDING_EVENT)
    tenant: int


def connection_of(update: BusinessConnection) -> business.Connection:
    rights = update.rights.model_dump(exclude_none=True) if update.rights is not None else {}
    if update.can_reply is not None and "can_reply" not in rights:  # Bot API 7.2–8.3: can_reply on the connection
        rights["can_reply"] = update.can_reply
    user = update.user
    return business.Connection(
        id=update.id, user_id=user.id, first_name=user.first_name, last_name=user.last_name, username=user.username,
        language=user.language_code, user_chat_id=update.user_chat_id, date=update.date, is_enabled=update.is_enabled,
        rights={k: bool(v) for k, v in rights.items() if k in business.RIGHTS},
    )


def _answer(result: business.ConnectionResult) -> tuple[str | None, InlineKeyboardMarkup | None]:
    locale = i18n.normalize(result.locale)
    conn = result.connection
    account = esc(conn.title)
    match result.outcome:
        case business.Outcome.CONNECTED | business.Outcome.UPDATED:
            key = "business.connected" if result.outcome is business.Outcome.CONNECTED else "business.updated"
            text = t(key, locale, account=account, tenant=esc(result.tenant_name or ""), channel=result.channel_id)
            if not conn.can_reply:
                text += "\n" + t("business.rights.no_reply", locale)
            elif not conn.rights.get("can_read_messages"):
                text += "\n" + t("business.rights.no_read", locale)
            return text, None
        case business.Outcome.DISABLED:
            return t("business.disconnected", locale, account=account), None
        case business.Outcome.NOT_STAFF:
            return t("business.not_staff", locale, account=account), None
        case business.Outcome.CHOOSE:
            rows = [[InlineKeyboardButton(
                text=m.tenant_name, callback_data=TenantPick(pending=result.pending_id, tenant=m.tenant_id).pack(),
            )] for m in result.choices]
            return t("business.choose", locale, account=account), InlineKeyboardMarkup(inline_keyboard=rows)
    return None, None


def _tell(after_commit: AfterCommit, bot: Bot, chat_id: int, text: str | None,
          markup: InlineKeyboardMarkup | None = None) -> None:
    if text:
        after_commit.append(lambda: bot.send_message(chat_id, text, reply_markup=markup))


def _enqueue(after_commit: AfterCommit, services: dict, follow_ups: list[tuple[str, dict]]) -> None:
    queue = services.get("task_queue")
    if not follow_ups:
        return
    if queue is None:
        log.warning("no task queue in this process: %s not enqueued", [name for name, _ in follow_ups])
        return
    for name, kwargs in follow_ups:
        after_commit.append(lambda name=name, kwargs=kwargs: queue.enqueue(name, **kwargs))


def _attachments(message: Message) -> tuple[tuple[InboundAttachment, ...], dict[int, str]]:
    """What a message carries, and the bot's file ids (the topic re-sends them without downloading)."""
    found = []
    if message.photo:
        p = message.photo[-1]
        found.append((AttachmentKind.PHOTO, p, {"width": p.width, "height": p.height, "mime": "image/jpeg"}))
    for kind, item in ((AttachmentKind.DOCUMENT, message.document), (AttachmentKind.VOICE, message.voice),
                       (AttachmentKind.AUDIO, message.audio), (AttachmentKind.VIDEO, message.video),
                       (AttachmentKind.VIDEO_NOTE, message.video_note), (AttachmentKind.STICKER, message.sticker)):
        if item is not None:
            extra = {k: getattr(item, k, None) for k in ("width", "height", "duration")}
            extra["mime"] = getattr(item, "mime_type", None)
            extra["file_name"] = getattr(item, "file_name", None)
            found.append((kind, item, extra))
    attachments, file_ids = [], {}
    for ordinal, (kind, item, extra) in enumerate(found):
        attachments.append(InboundAttachment(
            kind=kind, mime=extra.get("mime"), size=item.file_size, file_name=extra.get("file_name"),
            external_ref={"file_id": item.file_id, "file_unique_id": item.file_unique_id},
            width=extra.get("width"), height=extra.get("height"), duration=extra.get("duration"),
        ))
        file_ids[ordinal] = item.file_id
    if message.animation is not None and message.document is None:
        attachments.append(InboundAttachment(kind=AttachmentKind.OTHER, mime=message.animation.mime_type,
                                             error=t("business.attachment.animation")))
    return tuple(attachments), file_ids


def _traffic(message: Message) -> TrafficInfo | None:
    """UTM tags of the links in the message, those behind text (text_link) too — as the userbot reads them: with the
    account connected both ways, whichever way a message arrives first is the one stored, with its touch."""
    text = message.text or message.caption
    urls = urls_in(text) + [e.url for e in (message.entities or message.caption_entities or ())
                            if e.type == "text_link" and e.url]
    utm = utm_of(urls)
    if not utm:
        return None
    return TrafficInfo(source=utm.get("utm_source"), medium=utm.get("utm_medium"), campaign=utm.get("utm_campaign"),
                       content=utm.get("utm_content"), term=utm.get("utm_term"), raw=utm)


def inbound(channel: ChannelAccount, message: Message) -> tuple[InboundMessage, dict[int, str]]:
    """A business message as the inbox takes it: the dialog is the account's chat with the customer; written by the
    account itself (in the Telegram app) it is the shop's outgoing message."""
    chat = message.chat
    own = message.from_user is not None and str(message.from_user.id) == channel.external_id
    language = message.from_user.language_code if message.from_user is not None and not own else None
    attachments, file_ids = _attachments(message)
    reply = message.reply_to_message
    msg = InboundMessage(
        channel_id=channel.id, external_chat_id=str(chat.id), external_id=str(message.message_id),
        sender=Sender(external_user_id=str(chat.id), first_name=chat.first_name, last_name=chat.last_name,
                      username=chat.username, language=language,
                      profile_url=f"https://t.me/{chat.username}" if chat.username else None),
        sent_at=message.date, text=message.text or message.caption or "",
        direction=Direction.OUT if own else Direction.IN, attachments=attachments,
        reply_to_external_id=str(reply.message_id) if reply is not None else None,
        media_group_id=message.media_group_id, traffic=None if own else _traffic(message),
    )
    return msg, file_ids


async def _channel(session: AsyncSession, bot: Bot, connection_id: str | None,
                   after_commit: AfterCommit) -> ChannelAccount | None:
    """The channel of a connection; one the bot has not seen (its update came while it was down) is fetched."""
    if not connection_id:
        return None
    channel = await business.channel_by_connection(session, connection_id)
    if channel is not None:
        return channel
    result = await business.connection_changed(session, connection_of(await bot.get_business_connection(connection_id)))
    text, markup = _answer(result)
    _tell(after_commit, bot, result.connection.user_chat_id, text, markup)
    if result.channel_id is None:
        log.warning("business connection %s has no channel (%s): its message is not kept", connection_id,
                    result.outcome.value)
        return None
    return await session.get(ChannelAccount, result.channel_id)


def router(services: dict | None = None) -> Router:
    services = services if services is not None else {}
    r = Router(name="business")

    @r.business_connection()
    async def connection(update: BusinessConnection, session: AsyncSession, after_commit: AfterCommit,
                         bot: Bot) -> None:
        result = await business.connection_changed(session, connection_of(update))
        text, markup = _answer(result)
        _tell(after_commit, bot, update.user_chat_id, text, markup)

    @r.business_message()
    async def business_message(message: Message, session: AsyncSession, after_commit: AfterCommit, bot: Bot,
                               runtime: BotRuntime) -> None:
        if message.sender_business_bot is not None and message.sender_business_bot.id == runtime.bot_id:
            return  # what this bot sent for the shop: recorded when it was delivered
        channel = await _channel(session, bot, message.business_connection_id, after_commit)
        if channel is None:
            return
        msg, file_ids = inbound(channel, message)
        _enqueue(after_commit, services, await business.receive(session, msg, file_ids))

    @r.edited_business_message()
    async def edited(message: Message, session: AsyncSession, after_commit: AfterCommit, bot: Bot) -> None:
        channel = await _channel(session, bot, message.business_connection_id, after_commit)
        if channel is None:
            return
        at = datetime.fromtimestamp(message.edit_date, UTC) if message.edit_date else datetime.now(UTC)
        _enqueue(after_commit, services, await business.record_edit(
            session, channel.id, str(message.chat.id), str(message.message_id), message.text or message.caption or "",
            at))

    @r.deleted_business_messages()
    async def deleted(event: BusinessMessagesDeleted, session: AsyncSession, after_commit: AfterCommit,
                      bot: Bot) -> None:
        channel = await _channel(session, bot, event.business_connection_id, after_commit)
        if channel is None:
            return
        _enqueue(after_commit, services, await business.record_deletions(
            session, channel.id, str(event.chat.id), [str(i) for i in event.message_ids], datetime.now(UTC)))

    @r.callback_query(TenantPick.filter(), F.message.chat.type == "private")
    async def pick(query: CallbackQuery, callback_data: TenantPick, session: AsyncSession,
                   after_commit: AfterCommit, bot: Bot) -> None:
        locale = i18n.normalize(query.from_user.language_code)
        try:
            result = await business.pick_tenant(session, callback_data.pending, callback_data.tenant,
                                                query.from_user.id)
        except business.BusinessError as error:
            text = t(f"business.error.{error.reason}", locale)
            after_commit.append(lambda: query.answer(text, show_alert=True))
            return
        text, _ = _answer(result)
        after_commit.append(lambda: query.answer())
        if query.message is not None and text:
            after_commit.append(lambda: query.message.edit_text(text))

    return r
