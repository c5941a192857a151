"""The media library and quick replies in the bot (core.services.media_library, core.services.quick_replies).

- Private chat: a photo, video, voice note or document sent with the caption `/save <name> #tag` — or `/save <name>`
  in reply to such a message — goes into the media library of the sender's business (staff whose role has
  MANAGE_MEDIA). Telegram lets bots download files of up to 20 MB: a larger one is refused before any download, with
  the way out (the Mini App takes up to 50 MB). The answer follows the commit (`after_commit`).
- Dialog topics: `/q <words>` posts a quick reply's preview (or a numbered list to choose from); its Send gives the
  text and files to the customer through the dialog's channel, Cancel drops it.

Set up before the private router (which answers every other private message) and before the topics router (whose
catch-all would send `/q` to the customer)."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core import i18n
from core.i18n import t
from core.media import MediaStore
from core.permissions import Permission
from core.services import media_library, quick_replies
from core.services.staff import memberships

from ..middlewares import AfterCommit, require_actor
from ..runtime import BotRuntime

log = logging.getLogger(__name__)

STORE = "media_store"  # services key: the media store, when a component put one there


def _store(services: dict) -> MediaStore | None:
    """The media store the outbox posts files from (the data directory's media/), found through the dispatcher's
    executor when no component named one."""
    if services.get(STORE) is not None:
        return services[STORE]
    root = getattr(getattr(services.get("outbox_dispatcher"), "executor", None), "media_root", None)
    return MediaStore(root) if root is not None else None


def _file_of(message: Message | None) -> tuple[str, str | None, int | None, str | None, str | None, str | None] | None:
    """(file id, kind meant, size, mime, file name, unique id) of the file a message carries, or None."""
    if message is None:
        return None
    if message.photo:
        photo = message.photo[-1]
        return photo.file_id, "photo", photo.file_size, "image/jpeg", None, photo.file_unique_id
    if message.voice:
        v = message.voice
        return v.file_id, "voice", v.file_size, v.mime_type, None, v.file_unique_id
    for attribute, kind in (("video", "video"), ("animation", "video"), ("document", "document"), ("audio", None)):
        value = getattr(message, attribute, None)
        if value:
            return (value.file_id, kind, value.file_size, value.mime_type, getattr(value, "file_name", None),
                    value.file_unique_id)
    return None


def _title_and_tags(args: str | None) -> tuple[str, list[str]]:
    words = (args or "").split()
    return " ".join(w for w in words if not w.startswith("#")), [w for w in words if w.startswith("#")]


def _thread(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


def _answer(after_commit: AfterCommit, message: Message, text: str) -> None:
    after_commit.append(lambda: message.answer(text, parse_mode="HTML"))


def router(services: dict | None = None) -> Router:
    """`services`: AppContext.services — where the media store is found."""
    services = services if services is not None else {}
    r = Router(name="media")

    @r.message(F.chat.type == "private", Command("save"))
    async def save(message: Message, command: CommandObject, session: AsyncSession, bot: Bot,
                   after_commit: AfterCommit) -> None:
        user = message.from_user
        members = await memberships(session, user.id)
        locale = members[0].locale if members else i18n.normalize(user.language_code)
        allowed = [m for m in members if m.can(Permission.MANAGE_MEDIA)]
        if not allowed:
            _answer(after_commit, message, t("media.save.denied", locale))
            return
        member = allowed[0]
        found = _file_of(message) or _file_of(message.reply_to_message)
        title, tags = _title_and_tags(command.args)
        if found is None or not title:
            _answer(after_commit, message, t("media.save.usage", locale))
            return
        file_id, kind, size, mime, file_name, _ = found
        store = _store(services)
        try:
            if store is None:
                raise media_library.MediaError("unknown", "the media store is not available in this process")
            if size is not None:
                media_library.check_size(size, through_bot=True)  # never ask Telegram for what it will not give
            data = (await bot.download(file_id)).getvalue()
            item = await media_library.add_item(session, store, member.tenant_id, data, title=title,
                                                file_name=file_name, mime=mime, kind=kind, tags=tags,
                                                staff_id=member.staff_id, telegram_file_id=file_id)
        except media_library.MediaError as error:
            _answer(after_commit, message, t("media.save.failed", locale, reason=error.text(locale)))
            return
        except TelegramAPIError as error:  # Telegram would not hand the file over
            _answer(after_commit, message, t("media.save.failed", locale, reason=error.message))
            return
        _answer(after_commit, message, t("media.save.done", locale, tenant=member.tenant_name, title=item.title,
                                         kind=t(f"media.kind.{item.kind.value}", locale),
                                         size=f"{item.size / media_library.MB:.1f}"))

    @r.message(F.chat.type == "supergroup", Command("q"))
    async def quick(message: Message, command: CommandObject, session: AsyncSession, group, actor) -> None:
        await quick_replies.request(session, require_actor(group, actor), group, thread_id=_thread(message),
                                    telegram_message_id=message.message_id, words=command.args or "")

    @r.callback_query(F.data.regexp(r"^qr:(p:\d+:\d+|[sc]:\d+)$"))
    async def buttons(query: CallbackQuery, session: AsyncSession, group, actor, after_commit: AfterCommit,
                      runtime: BotRuntime) -> None:
        _, action, *ids = query.data.split(":")
        actor = require_actor(group, actor)
        message_id = query.message.message_id if query.message else None
        if action == "p":
            await quick_replies.pick(session, actor, group, int(ids[0]), int(ids[1]), list_message_id=message_id)
            toast = "media.quick.toast.preview"
        else:
            decided = await quick_replies.decide(session, actor, group, int(ids[0]), action,
                                                 preview_message_id=message_id)
            toast = "media.quick.toast.sent" if decided == "sent" else "media.quick.toast.cancelled"
        after_commit.append(lambda: query.answer(t(toast, runtime.locale)))

    return r
