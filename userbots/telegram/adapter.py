"""Telethon objects → core events, and nothing else: private messages (in, and out — what the owner sends from their
own phone is a manager reply), media, edits, deletions, read receipts, blocks. Tested end to end with real Telethon
against the MTProto stand-in (sandbox/mtproto), and with constructed Telethon objects for what the stand-in does not
send (every media kind, groups, bots, blocks).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select
from telethon import events, types

from core.db import Database
from core.inbox import InboundAttachment, InboundMessage, Sender, TrafficInfo, home_of
from core.models import AttachmentKind, Dialog, Direction, Message

from ..cleaning import clean_name as _clean
from ..cleaning import clean_text
from ..live import BOT_UPLOAD_LIMIT, MB, DownloadFailed, LiveIngest, MediaSource
from ..texts import t
from ..traffic import urls_in, utm_of

log = logging.getLogger(__name__)

# "Telegram" service notifications (login codes, security alerts): in the account's chat list, never a customer
TELEGRAM_SERVICE_ID = 777000
_IGNORED_MEDIA = (types.MessageMediaEmpty, types.MessageMediaWebPage)  # a link preview: the link is in the text


def sender_of(user: types.User | None, user_id: int) -> Sender:
    if user is None:
        return Sender(external_user_id=str(user_id))
    return Sender(
        external_user_id=str(user.id),
        first_name=_clean(user.first_name), last_name=_clean(user.last_name), username=user.username,
        phone=f"+{user.phone}" if user.phone and not user.phone.startswith("+") else user.phone,
        profile_url=f"https://t.me/{user.username}" if user.username else None,
        language=(user.lang_code or None) and user.lang_code[:8],
    )


def _document_attachment(message_id: int, doc: types.Document) -> InboundAttachment:
    attrs = {type(a): a for a in doc.attributes or ()}
    name = getattr(attrs.get(types.DocumentAttributeFilename), "file_name", None)
    audio = attrs.get(types.DocumentAttributeAudio)
    video = attrs.get(types.DocumentAttributeVideo)
    ref = {"type": "document", "message_id": message_id, "document_id": doc.id}
    if attrs.get(types.DocumentAttributeSticker) is not None:
        kind = AttachmentKind.STICKER
    elif audio is not None and audio.voice:
        kind = AttachmentKind.VOICE
    elif audio is not None:
        kind = AttachmentKind.AUDIO
        name = name or " — ".join(p for p in (audio.performer, audio.title) if p) or None
    elif video is not None and video.round_message:
        kind = AttachmentKind.VIDEO_NOTE
    elif video is not None:
        kind = AttachmentKind.VIDEO
    else:
        kind = AttachmentKind.DOCUMENT
    image = attrs.get(types.DocumentAttributeImageSize)
    width = getattr(video, "w", None) or getattr(image, "w", None)
    height = getattr(video, "h", None) or getattr(image, "h", None)
    duration = getattr(video, "duration", None) or getattr(audio, "duration", None)
    error = None
    if doc.size and doc.size > BOT_UPLOAD_LIMIT:  # the manager bot could not re-upload it into the topic
        error = t("channel.attachment_too_large_tg", size_mb=doc.size // MB, limit_mb=BOT_UPLOAD_LIMIT // MB)
    return InboundAttachment(kind, mime=doc.mime_type, size=doc.size, file_name=_clean(name)[:255] if _clean(name) else None,
                             external_ref=ref, width=width, height=height,
                             duration=int(duration) if duration is not None else None, error=error)


def attachments_of(message: types.Message) -> tuple[InboundAttachment, ...]:
    media = message.media
    if media is None or isinstance(media, _IGNORED_MEDIA):
        return ()
    if isinstance(media, types.MessageMediaPhoto) and isinstance(media.photo, types.Photo):
        sizes = [s for s in media.photo.sizes if hasattr(s, "w")]
        best = max(sizes, key=lambda s: s.w * s.h, default=None)
        return (InboundAttachment(AttachmentKind.PHOTO, mime="image/jpeg",
                                  external_ref={"type": "photo", "message_id": message.id, "photo_id": media.photo.id},
                                  width=getattr(best, "w", None), height=getattr(best, "h", None)),)
    if isinstance(media, types.MessageMediaDocument) and isinstance(media.document, types.Document):
        return (_document_attachment(message.id, media.document),)
    # contacts, locations, polls, dice, games, invoices, stories, expired media…: kept with a note
    kind = type(media).__name__.removeprefix("MessageMedia").lower() or "unknown"
    return (InboundAttachment(AttachmentKind.OTHER, external_ref={"type": kind, "message_id": message.id},
                              error=t("channel.attachment_unknown_tg", kind=kind)),)


def traffic_of(message: types.Message) -> TrafficInfo | None:
    """UTM tags of the links in the message, including links hidden behind text (MessageEntityTextUrl)."""
    urls = urls_in(message.message)
    urls += [e.url for e in message.entities or () if isinstance(e, types.MessageEntityTextUrl)]
    utm = utm_of(urls)
    if not utm:
        return None
    return TrafficInfo(source=utm.get("utm_source"), medium=utm.get("utm_medium"), campaign=utm.get("utm_campaign"),
                       content=utm.get("utm_content"), term=utm.get("utm_term"), raw=utm)


def private_peer(message: types.Message) -> int | None:
    peer = message.peer_id
    return peer.user_id if isinstance(peer, types.PeerUser) else None


def is_customer(user: types.User) -> bool:
    """A person the business talks to: not a bot, not the account itself (Saved Messages), not Telegram's own
    notifications."""
    return not (user.bot or user.is_self or user.id == TELEGRAM_SERVICE_ID)


def to_inbound(channel_id: int, message: types.Message, counterpart: types.User | None) -> InboundMessage | None:
    """A private message with a person, in either direction; None for everything else (groups, channels, bots,
    Saved Messages, service messages, Telegram's own notifications)."""
    if not isinstance(message, types.Message):
        return None
    user_id = private_peer(message)
    if user_id is None or user_id == TELEGRAM_SERVICE_ID or (counterpart is not None and not is_customer(counterpart)):
        return None
    reply = message.reply_to
    return InboundMessage(
        channel_id=channel_id, external_chat_id=str(user_id), external_id=str(message.id),
        sender=sender_of(counterpart, user_id), sent_at=_utc(message.date),
        text=clean_text(message.message),
        direction=Direction.OUT if message.out else Direction.IN,
        attachments=attachments_of(message),
        reply_to_external_id=str(reply.reply_to_msg_id) if getattr(reply, "reply_to_msg_id", None) else None,
        media_group_id=str(message.grouped_id) if message.grouped_id else None,
        traffic=traffic_of(message),
    )


def media_source(client, message: types.Message) -> MediaSource:
    """The message's file through the account's own client (upload.getFile). A Telegram message has one media:
    every attachment of it is that file."""
    async def fetch(att: InboundAttachment, max_bytes: int) -> bytes | None:
        # sizes Telegram declares are checked before this (the adapter's limit, then the downloader's)
        data = await client.download_media(message, file=bytes)
        if data is None:  # the media is gone (expired, deleted) or has no file
            raise DownloadFailed(t("channel.download_unavailable"))
        return data

    return MediaSource(fetch=fetch, place="tg")


def _utc(when: datetime | None) -> datetime:
    if when is None:
        return datetime.now(UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class TelegramEvents:
    """Handlers for one account's Telethon events; `register(client)` wires them."""

    def __init__(self, db: Database, live: LiveIngest, channel_id: int):
        self.db = db
        self.live = live
        self.channel_id = channel_id
        self.source = f"tg:{channel_id}"

    def register(self, client) -> None:
        client.add_event_handler(self.on_new_message, events.NewMessage(func=lambda e: e.is_private))
        client.add_event_handler(self.on_edited, events.MessageEdited(func=lambda e: e.is_private))
        client.add_event_handler(self.on_deleted, events.MessageDeleted())
        client.add_event_handler(self.on_read, events.MessageRead(inbox=False))
        client.add_event_handler(self.on_read, events.MessageRead(inbox=True))
        client.add_event_handler(self.on_blocked, events.Raw(types.UpdatePeerBlocked))

    async def on_new_message(self, event) -> None:
        inbound = to_inbound(self.channel_id, event.message, await event.get_chat())
        if inbound is not None:
            await self.live.message(inbound, media=media_source(event.client, event.message))

    async def on_edited(self, event) -> None:
        message = event.message
        chat = await event.get_chat()
        inbound = to_inbound(self.channel_id, message, chat)
        if inbound is None:
            return
        at = _utc(message.edit_date or message.date)
        edited = await self.live.edit(self.channel_id, inbound.external_chat_id, inbound.external_id, inbound.text, at)
        if edited is None:
            # an edit of a message we never stored (sent while we were not connected and not imported): keep it
            await self.live.message(inbound, media=media_source(event.client, message))

    async def on_deleted(self, event) -> None:
        """Private-chat deletions name message ids only: the account's ids are unique, so the chat is looked up."""
        at = datetime.now(UTC)
        for external_id, chat_id in await self._chats_of(event.deleted_ids):
            await self.live.deletion(self.channel_id, chat_id, external_id, at)

    async def _chats_of(self, ids: list[int]) -> list[tuple[str, str]]:
        async with self.db.unit_of_work() as session:
            rows = await session.execute(
                select(Message.external_id, Dialog.external_chat_id)
                .join(Dialog, Dialog.id == Message.dialog_id)
                # the account's dialogs may live under its Telegram Business channel (core.inbox.home_of)
                .where(Dialog.channel_id == home_of(self.channel_id), Message.external_id.in_([str(i) for i in ids]))
            )
            return [(ext, chat) for ext, chat in rows]

    async def on_read(self, event) -> None:
        if not event.is_private:
            return
        # outbox: the customer read what the business wrote; inbox: the business read it on its own phone
        direction = Direction.OUT if event.outbox else Direction.IN
        await self.live.read_up_to(self.channel_id, str(event.chat_id), direction, int(event.max_id))

    async def on_blocked(self, update: types.UpdatePeerBlocked) -> None:
        if isinstance(update.peer_id, types.PeerUser):
            await self.live.blocked(self.channel_id, str(update.peer_id.user_id), bool(update.blocked))
