"""The ManagerSurface over aiogram: executes the workspace's outbox commands as Bot API calls.

Only the dispatcher calls this (handlers never post directly), so every call here is inside a rate budget. Errors
are mapped to core.ports.DeliveryError: a 429 carries retry_after converted to real seconds (the sandbox runs on an
emulated clock with the same time scale); 403 "blocked" and other hopeless answers are permanent; 5xx and network
errors are transient. A topic deleted by an admin is recreated and the post resent there; a closed topic is
reopened and the post resent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    LinkPreviewOptions,
    Message,
    ReactionTypeEmoji,
    ReplyParameters,
)

from core.i18n import t
from core.ports import Delivery, DeliveryError
from core.settings import Settings

from . import render
from .render import CAPTION_LIMIT, esc

log = logging.getLogger(__name__)

# Forum icon per status marker (chosen from getForumTopicIconStickers, the only custom emoji bots may use).
MARKER_ICONS = {
    "new": "🆕", "unread": "💬", "waiting": "⏳", "answered": "✅", "escalated": "❗", "won": "🏆", "lost": "⛔",
    "blocked": "⛔", "closed": "📝",
}  # fmt: skip
TOPIC_COLOR = 7322096  # createForumTopic accepts six fixed colours; the icon carries the status
GENERAL_THREAD = 1  # never sent explicitly: Telegram answers "message thread not found"

TOPIC_GONE = ("message thread not found", "topic_deleted", "topic_id_invalid")
TOPIC_CLOSED = "topic_closed"
NOT_MODIFIED = ("message is not modified", "topic_not_modified")
# Refusals that say what the bot may not do in a chat (Bot API texts, lower-cased; TDLib's codes for the same).
NO_RIGHTS = ("not enough rights", "chat_admin_required", "need administrator rights", "chat_write_forbidden",
             "have no rights to send")
GROUP_GONE = ("bot was kicked", "bot is not a member", "user_kicked", "chat_forbidden")
CHAT_GONE = ("chat not found", "group chat was upgraded to a supergroup", "channel_private", "peer_id_invalid")
MESSAGE_GONE = ("message to edit not found", "message to pin not found", "message to react not found",
                "message can't be edited")

# AttachmentKind → (Bot method, its file parameter, whether it takes a caption)
SENDERS = {
    "photo": ("send_photo", "photo", True), "document": ("send_document", "document", True),
    "voice": ("send_voice", "voice", True), "audio": ("send_audio", "audio", True),
    "video": ("send_video", "video", True), "video_note": ("send_video_note", "video_note", False),
    "sticker": ("send_sticker", "sticker", False), "other": ("send_document", "document", True),
}  # fmt: skip
ALBUM_TYPES = {"photo": InputMediaPhoto, "video": InputMediaVideo, "document": InputMediaDocument,
               "audio": InputMediaAudio}
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def make_bot(settings: Settings, token: str | None = None) -> Bot:
    token = token or settings.telegram.bot_token.get_secret_value()
    api = TelegramAPIServer.from_base(settings.telegram.telegram_api_url)
    return Bot(token, session=AiohttpSession(api=api))


def _lower(error: TelegramAPIError) -> str:
    return (error.message or "").lower()


def _is(error: TelegramAPIError, needles) -> bool:
    text = _lower(error)
    return any(n in text for n in ((needles,) if isinstance(needles, str) else needles))


def _file_of(message: Message) -> str | None:
    for kind in ("photo", "document", "voice", "audio", "video", "video_note", "sticker", "animation"):
        value = getattr(message, kind, None)
        if value:
            return value[-1].file_id if kind == "photo" else value.file_id
    return None


@dataclass
class _Sent:
    """What one surface call produced: message ids in order, files Telegram now knows, calls made."""

    ids: list[int] = field(default_factory=list)
    file_ids: dict[str, str] = field(default_factory=dict)
    calls: int = 0

    def add(self, message: Message, attachment_id: int | None = None, count: int = 1) -> None:
        self.ids.append(message.message_id)
        self.calls += count
        if attachment_id is not None and (file_id := _file_of(message)):
            self.file_ids[str(attachment_id)] = file_id


class TelegramManagerSurface:
    def __init__(self, bot: Bot, *, time_scale: float = 1.0, webapp_url: str | None = None, locale: str = "ru",
                 miniapp_short_name: str | None = None):
        self.bot = bot
        self.time_scale = time_scale
        self.webapp_url = webapp_url.rstrip("/") if webapp_url else None
        self.locale = locale
        self.miniapp_short_name = miniapp_short_name  # BotFather's /newapp name: cards link t.me/<bot>/<name>
        self._bot_username: str | None = None
        self._icons: dict[str, str] | None = None

    # ------------------------------------------------------------------------------------------ entry point

    def calls(self) -> dict:
        """The calls this surface makes (core.commands.Call.kind → its step), listed explicitly: a kind's prepare
        names one of these (core.services.workspace.calls lists their payloads)."""
        return {"create_topic": self._do_create_topic, "edit_topic": self._do_edit_topic, "post": self._do_post,
                "edit": self._do_edit, "pin": self._do_pin, "react": self._do_react, "ban": self._do_ban,
                "unban": self._do_unban}

    async def execute(self, kind: str, payload: dict) -> Delivery:
        handler = self.calls().get(kind)
        if handler is None:
            raise DeliveryError(f"the manager surface cannot do {kind!r}", permanent=True, code="unknown_kind")
        try:
            if self.miniapp_short_name and self._bot_username is None:
                self._bot_username = (await self.bot.me()).username  # for the cards' Mini App direct links
            return await handler(payload)
        except TelegramRetryAfter as error:
            raise DeliveryError(f"Too Many Requests: retry after {error.retry_after}",
                                retry_after=error.retry_after / self.time_scale, code="flood") from None
        except TelegramForbiddenError as error:
            code = "blocked" if _is(error, "blocked") else "kicked" if _is(error, GROUP_GONE) else (
                "rights" if _is(error, NO_RIGHTS) else "forbidden")
            raise DeliveryError(error.message, permanent=True, code=code) from None
        except TelegramEntityTooLarge as error:
            raise DeliveryError(error.message, permanent=True, code="too_large") from None
        except (TelegramServerError, TelegramNetworkError) as error:
            raise DeliveryError(error.message, code="transient") from None
        except (TelegramBadRequest, TelegramNotFound) as error:
            # rights / not_forum / chat_gone in a manager group are causes people can fix: the dispatcher parks or
            # moves such commands and tells the owner (core.services.workspace.parking.group_refused), never fails them.
            code = "rights" if _is(error, NO_RIGHTS) else "not_forum" if _is(error, "not a forum") else (
                "chat_gone" if _is(error, CHAT_GONE) else "bad_request")
            raise DeliveryError(error.message, permanent=True, code=code) from None

    async def download(self, file_id: str) -> bytes:
        """Bytes of a file a manager sent (for channel adapters that upload media to the customer's channel)."""
        buffer = await self.bot.download(file_id)
        return buffer.read()

    # ----------------------------------------------------------------------------------------------- topics

    async def _icon(self, marker: str) -> str | None:
        if self._icons is None:
            try:
                stickers = await self.bot.get_forum_topic_icon_stickers()
                self._icons = {(s.emoji or "").replace("\ufe0f", ""): s.custom_emoji_id for s in stickers
                               if s.custom_emoji_id}
            except TelegramAPIError as error:
                log.warning("no topic icons: %s", error)
                self._icons = {}
        emoji = MARKER_ICONS.get(marker)
        return self._icons.get(emoji) if emoji else None

    async def _create_topic(self, chat_id: int, topic: dict, sent: _Sent) -> int:
        created = await self.bot.create_forum_topic(
            chat_id=chat_id, name=render.topic_title(topic["name"], topic["marker"], self.locale),
            icon_color=TOPIC_COLOR, icon_custom_emoji_id=await self._icon(topic["marker"]),
        )
        sent.calls += 1
        return created.message_thread_id

    async def _do_create_topic(self, p: dict) -> Delivery:
        sent = _Sent()
        thread_id = await self._create_topic(p["chat_id"], p, sent)
        return Delivery(external_id=str(thread_id), extra={"thread_id": thread_id, "api_calls": sent.calls})

    async def _do_edit_topic(self, p: dict) -> Delivery:
        sent = _Sent()
        try:
            await self.bot.edit_forum_topic(
                chat_id=p["chat_id"], message_thread_id=p["thread_id"],
                name=render.topic_title(p["name"], p["marker"], self.locale),
                icon_custom_emoji_id=await self._icon(p["marker"]) or "",
            )
            sent.calls += 1
        except TelegramBadRequest as error:
            if _is(error, NOT_MODIFIED):
                return Delivery(extra={"not_modified": True, "api_calls": 0})
            if not _is(error, TOPIC_GONE):
                raise
            # Deleted by an admin: a new topic with the current title and icon replaces it.
            thread_id = await self._create_topic(p["chat_id"], p, sent)
            return Delivery(external_id=str(thread_id),
                            extra={"thread_id": thread_id, "recreated": True, "api_calls": sent.calls})
        return Delivery(extra={"api_calls": sent.calls})

    # ------------------------------------------------------------------------------------------------ posts

    async def _do_post(self, p: dict) -> Delivery:
        chat_id, topic = p["chat_id"], p.get("topic")
        thread_id = p.get("thread_id")
        if thread_id == GENERAL_THREAD:
            thread_id = None
        sent = _Sent()
        recreated = reopened = False
        if topic is not None and thread_id is None:
            thread_id = await self._create_topic(chat_id, topic, sent)  # its creation failed or never ran
        try:
            await self._send_view(p, chat_id, thread_id, sent)
        except TelegramBadRequest as error:
            if topic is None:
                raise
            if _is(error, TOPIC_GONE):
                thread_id, recreated = await self._create_topic(chat_id, topic, sent), True
            elif _is(error, TOPIC_CLOSED):
                await self.bot.reopen_forum_topic(chat_id=chat_id, message_thread_id=thread_id)
                reopened = True
            else:
                raise
            await self._send_view(p, chat_id, thread_id, sent)
        return Delivery(
            external_id=str(sent.ids[0]) if sent.ids else None,
            extra={"message_ids": sent.ids, "thread_id": thread_id, "recreated": recreated, "reopened": reopened,
                   "api_calls": sent.calls, "file_ids": sent.file_ids},
        )

    def _reply(self, reply_to: int | None) -> ReplyParameters | None:
        # The replied-to message may be gone with a deleted topic: then post without the reply.
        return ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None

    async def _send_text(self, chat_id: int, thread_id: int | None, html: str, sent: _Sent,
                         markup=None, reply_to: int | None = None) -> None:
        message = await self.bot.send_message(
            chat_id=chat_id, message_thread_id=thread_id, text=html, parse_mode="HTML", reply_markup=markup,
            reply_parameters=self._reply(reply_to), link_preview_options=NO_PREVIEW,
        )
        sent.add(message)

    def history_url(self, dialog_id: int) -> str | None:
        # Groups cannot carry web_app buttons: a Mini App direct link opens the app signed in, start_param naming
        # the dialog; without a registered short name, a plain link to the dialog's page.
        if self.miniapp_short_name and self._bot_username:
            return f"https://t.me/{self._bot_username}/{self.miniapp_short_name}?startapp=dialog_{dialog_id}"
        return f"{self.webapp_url}/dialogs/{dialog_id}?startapp=dialog_{dialog_id}" if self.webapp_url else None

    def render(self, view: str, data: dict) -> render.Rendered:
        if view == "pinned_card":
            return render.pinned_card(data, self.history_url(data["dialog_id"]), self.locale)
        if view == "reply_card":
            return render.reply_card(data, self.locale)
        if view == "send_confirm":
            return render.send_confirm(data, self.locale)
        if view == "mirror_change":
            return render.mirror_change(data, self.locale)
        if view == "notice":
            return render.notice(data, self.locale)
        if view == "inbox":
            return render.inbox(data, self.locale)
        if view == "escalation":
            return render.escalation(data, self.locale)
        if view in ("keyed", "voice"):
            return self._keyed(data)
        raise DeliveryError(f"unknown view {view!r}", permanent=True, code="unknown_view")

    def _keyed(self, data: dict) -> render.Rendered:
        """A text of another area named by its key ({key, params, buttons: rows of {key, data}}): params are
        escaped, buttons are callback buttons labelled by their keys."""
        params = {k: esc(v) if isinstance(v, str) else v for k, v in (data.get("params") or {}).items()}
        rows = [[InlineKeyboardButton(text=t(b["key"], self.locale), callback_data=b["data"]) for b in row]
                for row in data.get("buttons") or []]
        return render.Rendered(t(data["key"], self.locale, **params),
                               InlineKeyboardMarkup(inline_keyboard=rows) if rows else None)

    async def _send_view(self, p: dict, chat_id: int, thread_id: int | None, sent: _Sent) -> None:
        if p["view"] == "mirror":
            await self._send_mirror(chat_id, thread_id, p["data"]["messages"], sent, p.get("reply_to"))
            return
        if p["view"] == "voice":  # a stored OGG/Opus file as a voice note, its caption and buttons
            rendered = self.render("voice", p["data"])
            message = await self.bot.send_voice(
                chat_id=chat_id, message_thread_id=thread_id,
                voice=FSInputFile(p["data"]["path"], filename="voice.ogg"), caption=rendered.text[:CAPTION_LIMIT],
                parse_mode="HTML", reply_markup=rendered.markup, reply_parameters=self._reply(p.get("reply_to")))
            sent.add(message)
            return
        rendered = self.render(p["view"], p["data"])
        await self._send_text(chat_id, thread_id, rendered.text, sent, rendered.markup, p.get("reply_to"))

    # ----------------------------------------------------------------------------------------------- mirror

    @staticmethod
    def _source(att: dict):
        if att.get("file_id"):
            return att["file_id"]
        if att.get("path"):
            return FSInputFile(att["path"], filename=att.get("file_name"))
        return None

    def _album(self, messages: list[dict]) -> list[dict] | None:
        """The attachments of these messages, if they can go out as one album (2–10 photos/videos, or documents,
        or audio — Telegram does not mix documents or audio with other kinds)."""
        attachments = [a for m in messages for a in m["attachments"]]
        if not 2 <= len(attachments) <= 10 or any(self._source(a) is None for a in attachments):
            return None
        kinds = {a["kind"] for a in attachments}
        if kinds <= {"photo", "video"} or kinds == {"document"} or kinds == {"audio"}:
            return attachments
        return None

    async def _send_mirror(self, chat_id: int, thread_id: int | None, messages: list[dict], sent: _Sent,
                           reply_to: int | None) -> None:
        texts = [render.message_text(m, self.locale) for m in messages]
        caption_text = "\n\n".join(t for t in texts if t)
        if not any(m["attachments"] for m in messages) or all(m.get("deleted") for m in messages):
            for part in render.split_text(caption_text or "…"):
                await self._send_text(chat_id, thread_id, esc(part), sent, reply_to=reply_to)
            return
        album = self._album(messages)
        if album is not None:
            caption = caption_text if len(caption_text) <= CAPTION_LIMIT else ""
            media = [ALBUM_TYPES[a["kind"]](media=self._source(a), caption=esc(caption) if i == 0 and caption else None,
                                            parse_mode="HTML") for i, a in enumerate(album)]
            result = await self.bot.send_media_group(chat_id=chat_id, message_thread_id=thread_id, media=media,
                                                     reply_parameters=self._reply(reply_to))
            for message, att in zip(result, album):
                sent.add(message, att["id"])
            if caption_text and not caption:
                for part in render.split_text(caption_text):
                    await self._send_text(chat_id, thread_id, esc(part), sent)
            return
        for message, text in zip(messages, texts):
            await self._send_message_media(chat_id, thread_id, message, text, sent, reply_to)

    async def _send_message_media(self, chat_id: int, thread_id: int | None, message: dict, text: str,
                                  sent: _Sent, reply_to: int | None) -> None:
        pending_text = text
        notes = []
        for att in message["attachments"]:
            source = self._source(att)
            if source is None:
                notes.append(render.missing_attachment(att, self.locale))
                continue
            method, field_name, takes_caption = SENDERS.get(att["kind"], SENDERS["other"])
            kwargs = {"chat_id": chat_id, "message_thread_id": thread_id, field_name: source,
                      "reply_parameters": self._reply(reply_to)}
            if takes_caption and pending_text and len(pending_text) <= CAPTION_LIMIT:
                kwargs.update(caption=esc(pending_text), parse_mode="HTML")
                pending_text = ""
            result = await getattr(self.bot, method)(**kwargs)
            sent.add(result, att["id"])
        rest = "\n".join(x for x in (pending_text, *notes) if x)
        if rest:
            for part in render.split_text(rest):
                await self._send_text(chat_id, thread_id, esc(part), sent, reply_to=reply_to)

    # ----------------------------------------------------------------------------------------- small calls

    async def _do_edit(self, p: dict) -> Delivery:
        rendered = self.render(p["view"], p["data"])
        try:
            if p["view"] == "voice":  # a voice note's text is its caption
                await self.bot.edit_message_caption(
                    chat_id=p["chat_id"], message_id=p["message_id"], caption=rendered.text[:CAPTION_LIMIT],
                    parse_mode="HTML", reply_markup=rendered.markup,
                )
            else:
                await self.bot.edit_message_text(
                    chat_id=p["chat_id"], message_id=p["message_id"], text=rendered.text, parse_mode="HTML",
                    reply_markup=rendered.markup, link_preview_options=NO_PREVIEW,
                )
        except TelegramBadRequest as error:
            if _is(error, NOT_MODIFIED):
                return Delivery(extra={"not_modified": True, "api_calls": 0})
            if _is(error, MESSAGE_GONE):
                return Delivery(extra={"missing": True, "api_calls": 0})
            raise
        return Delivery(external_id=str(p["message_id"]), extra={"api_calls": 1})

    async def _do_pin(self, p: dict) -> Delivery:
        try:
            await self.bot.pin_chat_message(chat_id=p["chat_id"], message_id=p["message_id"], disable_notification=True)
        except TelegramBadRequest as error:
            if _is(error, MESSAGE_GONE):
                return Delivery(extra={"missing": True})
            raise
        return Delivery(external_id=str(p["message_id"]))

    async def _do_react(self, p: dict) -> Delivery:
        try:
            await self.bot.set_message_reaction(chat_id=p["chat_id"], message_id=p["message_id"],
                                                reaction=[ReactionTypeEmoji(emoji=p["emoji"])])
        except TelegramBadRequest as error:
            if _is(error, MESSAGE_GONE):
                return Delivery(extra={"missing": True})
            raise
        return Delivery(external_id=str(p["message_id"]))

    async def _do_ban(self, p: dict) -> Delivery:
        await self.bot.ban_chat_member(chat_id=p["chat_id"], user_id=p["user_id"])
        return Delivery(extra={"user_id": p["user_id"]})

    async def _do_unban(self, p: dict) -> Delivery:
        # only_if_banned: someone let back into the group meanwhile stays in it (without it Telegram removes them).
        await self.bot.unban_chat_member(chat_id=p["chat_id"], user_id=p["user_id"],
                                         only_if_banned=p.get("only_if_banned", True))
        return Delivery(extra={"user_id": p["user_id"]})
