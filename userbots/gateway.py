"""core.ports.ChannelGateway for the userbots: a reply to a customer goes out through the dialog's channel, by the
sender its kind's adapter provides (userbots/channels: a VK community or user account — VKSender below —, a
Telegram account — its running Telethon client —, a Telegram Business connection — TelegramBusinessSender below).

Never twice: VK's messages.send takes a random_id and ignores a repeat with the same one, so random_id is derived
from the outbox command's idempotency key — a retried or re-claimed command cannot reach the customer again. Telegram
requests carry a random_id derived the same way (Telegram answers RANDOM_ID_DUPLICATE to a repeat).

Errors become DeliveryError the dispatcher understands: the customer forbade messages (VK 901) → permanent,
code "blocked"; too many requests / flood / rate limit (6, 9, 29; Telegram FloodWait) → retry_after in seconds;
a revoked token → permanent, and the channel row says what to do.

A delivered reply can be corrected (`edit`: VK messages.edit, Telegram messages.editMessage) or taken back (`delete`:
VK messages.delete with delete_for_all, Telegram messages.deleteMessages with revoke). VK allows both for 24 hours
only: past that, and for a message that is gone, the failure is permanent with code "too_old" / "gone".

While an automatic reply waits out its delay the dispatcher shows the customer "typing…" through `typing` (VK
messages.setActivity, Telegram messages.setTyping); it is best effort and never marks the channel.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from io import BytesIO

import aiohttp
from vkbottle.exception_factory import VKAPIError
from vkbottle.tools import DocMessagesUploader, PhotoMessageUploader, VoiceMessageUploader

from core.channels import CHANNEL_KINDS
from core.crypto import SecretBox
from core.db import Database
from core.models import ChannelKind, ChannelStatus
from core.ports import Delivery, DeliveryError
from core.services import channels as channel_service
from core.services import media_library
from core.settings import Settings
from core.textsplit import split_text, utf16_len

from .texts import t
from .vk import api as vk_api

log = logging.getLogger(__name__)

VK_MAX_TEXT = 4096  # longer texts fail with 914: they are sent as several messages
# Seconds VK's limits need before a retry (emulated; divided by the time scale for the dispatcher).
VK_RETRY_AFTER = {6: 1.0, 9: 60.0, 29: 600.0, 10: 5.0}
# What VK's refusals of messages.edit / messages.delete mean (https://dev.vk.com/ru/method/messages.edit, .delete):
# 909 too old to edit, 924 cannot be deleted for everybody (24 hours passed), 100 no such message (deleted).
VK_CHANGE_ERRORS = {909: "too_old", 924: "too_old", 100: "gone"}

MediaFetcher = Callable[[dict], Awaitable[bytes]]
VK_BAD_ATTACHMENT = 100  # "One of the parameters specified was missing or invalid: attachment ... is invalid"


async def remember_media(db: Database, work) -> None:
    """Note what a channel now holds of a library file (core.services.media_library) in a unit of work of its own: a
    cache, so a failure to note it is logged and never fails a send that went out."""
    try:
        async with db.unit_of_work() as session:
            await work(session)
    except Exception:
        log.warning("what the channel holds of a library file was not noted", exc_info=True)


def random_id(idempotency_key: str, part: int = 0, *, bits: int = 31) -> int:
    """A stable positive id from the command's key: the same command always sends with the same random_id."""
    digest = hashlib.sha256(f"{idempotency_key}:{part}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << bits) - 1) or 1


def edit_plan(external_ids: list[str], text: str, previous_text: str | None, limit: int,
              measure: Callable[[str], int] = len) -> tuple[list[tuple[str, str]], int]:
    """How a new text maps onto the messages a reply was delivered as: (message id, new part) for each message
    whose part changes — the parts are cut as the send cut them (core.textsplit, with the send's limit and
    `measure`) — and how many parts the new text needs. Parts beyond the messages there are cannot be edited in;
    messages beyond the new parts are left as they are. An empty text is one empty part."""
    parts = split_text(text, limit, measure=measure) or [""]
    old = (split_text(previous_text, limit, measure=measure) or [""]) if previous_text is not None else []
    plan = [(external_id, part) for n, (external_id, part) in enumerate(zip(external_ids, parts))
            if n >= len(old) or old[n] != part]
    return plan, len(parts)


@dataclass
class _VKChannel:
    api: vk_api.PacedAPI
    community: bool
    external_id: int


class UserbotGateway:
    """Sends through whichever channel a dialog belongs to: the sender of the channel's kind, as its adapter
    (userbots/channels) builds it — once per kind, on first use. Nothing here knows one kind from another."""

    def __init__(self, db: Database, secrets: SecretBox, settings: Settings, *,
                 fetch_media: MediaFetcher | None = None, telegram=None, adapters=None):
        from .channels import ADAPTERS, SendDeps

        self.db = db
        self.adapters = adapters if adapters is not None else ADAPTERS
        # telegram: userbots.telegram.client.TelegramAccounts, the connected Telethon clients
        self.deps = SendDeps(db, secrets, settings, fetch_media=fetch_media, telegram=telegram)
        self._senders: dict[ChannelKind, object] = {}
        self._kinds: dict[int, ChannelKind] = {}

    async def close(self) -> None:
        senders, self._senders = list(self._senders.values()), {}
        for sender in senders:
            await sender.close()

    async def send(self, channel_id: int, chat_id: str, payload: dict, *, idempotency_key: str) -> Delivery:
        return await (await self._sender(channel_id)).send(channel_id, chat_id, payload,
                                                           idempotency_key=idempotency_key)

    async def edit(self, channel_id: int, chat_id: str, external_ids: list[str], text: str, *,
                   previous_text: str | None = None, delivered: dict | None = None) -> Delivery:
        return await (await self._sender(channel_id)).edit(channel_id, chat_id, external_ids, text,
                                                           previous_text=previous_text, delivered=delivered)

    async def delete(self, channel_id: int, chat_id: str, external_ids: list[str]) -> Delivery:
        return await (await self._sender(channel_id)).delete(channel_id, chat_id, external_ids)

    async def typing(self, channel_id: int, chat_id: str, *, stop: bool = False) -> None:
        """"typing…" in the customer's chat (see each kind's sender). Failures are DeliveryError like a send's, but a
        typing call never marks the channel (flood, revoked): the sends that follow find out and say so."""
        return await (await self._sender(channel_id)).typing(channel_id, chat_id, stop=stop)

    async def _sender(self, channel_id: int):
        kind = await self._kind(channel_id)
        if kind not in self._senders:
            self._senders[kind] = self.adapters.get(kind).sender(self.deps)
        return self._senders[kind]

    async def _kind(self, channel_id: int) -> ChannelKind:
        if channel_id not in self._kinds:
            async with self.db.unit_of_work() as session:
                self._kinds[channel_id] = (await channel_service.get_channel(session, channel_id)).kind
        return self._kinds[channel_id]


class VKSender:
    """Replies through VK channels, communities and user accounts alike (userbots/channels/vk.py). Channel
    credentials are read (and decrypted) once per channel and kept; a revoked token drops them, so a reconnected
    channel is picked up on the next send."""

    def __init__(self, db: Database, secrets: SecretBox, settings: Settings, *,
                 fetch_media: MediaFetcher | None = None):
        self.db = db
        self.secrets = secrets
        self.settings = settings
        self.fetch_media = fetch_media
        self._vk: dict[int, _VKChannel] = {}

    async def close(self) -> None:
        for channel in self._vk.values():
            await channel.api.close()
        self._vk.clear()

    async def send(self, channel_id: int, chat_id: str, payload: dict, *, idempotency_key: str) -> Delivery:
        return await self._send_vk(channel_id, chat_id, payload, idempotency_key)

    async def edit(self, channel_id: int, chat_id: str, external_ids: list[str], text: str, *,
                   previous_text: str | None = None, delivered: dict | None = None) -> Delivery:
        return await self._edit_vk(channel_id, chat_id, external_ids, text, previous_text, delivered or {})

    async def delete(self, channel_id: int, chat_id: str, external_ids: list[str]) -> Delivery:
        return await self._delete_vk(channel_id, chat_id, external_ids)

    async def typing(self, channel_id: int, chat_id: str, *, stop: bool = False) -> None:
        """messages.setActivity (type=typing): shown ~10 s, and VK has nothing to take it away with."""
        if stop:
            return
        channel = await self._vk_channel(channel_id)
        try:
            await channel.api.request("messages.setActivity", {"peer_id": int(chat_id), "type": "typing"})
        except VKAPIError as exc:
            retry = VK_RETRY_AFTER.get(exc.code)
            raise DeliveryError(f"VK {exc.code}: {exc.error_msg}", code=f"vk_{exc.code}",
                                retry_after=self._seconds(retry) if retry else None) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"VK is unreachable: {exc}", code="network") from None

    async def _vk_channel(self, channel_id: int) -> _VKChannel:
        if channel_id not in self._vk:
            async with self.db.unit_of_work() as session:
                channel = await channel_service.get_channel(session, channel_id)
                token = channel_service.credentials(self.secrets, channel)
            community = CHANNEL_KINDS.get(channel.kind).group_mailbox
            self._vk[channel_id] = _VKChannel(vk_api.build_api(self.settings, token, community=community),
                                              community, int(channel.external_id))
        return self._vk[channel_id]

    def _seconds(self, emulated: float) -> float:
        return emulated / self.settings.time_scale

    async def _send_vk(self, channel_id: int, chat_id: str, payload: dict, key: str) -> Delivery:
        channel = await self._vk_channel(channel_id)
        peer_id = int(chat_id)
        text = payload.get("text") or ""
        media = payload.get("media") or []
        async with self._vk_errors(channel_id):
            try:
                attachments, ids = await self._vk_deliver(channel_id, channel, peer_id, text, media, key)
            except VKAPIError as exc:
                # A library file's attachment cached from an earlier upload that VK no longer has (deleted from the
                # community's documents or photos): forgotten, uploaded again, sent again with the same random_id.
                cached = [i for i in media if i.get("vk_attachment") and i.get("media_item_id")]
                if exc.code != VK_BAD_ATTACHMENT or not cached:
                    raise

                async def forget(session) -> None:
                    for item in cached:
                        await media_library.forget_channel_ref(session, item["media_item_id"], channel_id)

                await remember_media(self.db, forget)
                media = [{k: v for k, v in i.items() if k != "vk_attachment"} for i in media]
                attachments, ids = await self._vk_deliver(channel_id, channel, peer_id, text, media, key)
        if not ids:
            raise DeliveryError("nothing to send: no text and no media", permanent=True, code="empty")
        extra = {"message_ids": [str(i) for i in ids], "text_message_ids": [str(i) for i in ids],
                 "api_calls": len(ids) + 2 * len(attachments)}
        if attachments:
            extra["attachment"] = ",".join(attachments)  # given again when the text is edited, so they stay
        return Delivery(external_id=str(ids[0]), extra=extra)

    async def _vk_deliver(self, channel_id: int, channel: _VKChannel, peer_id: int, text: str, media: list[dict],
                          key: str) -> tuple[list[str], list[int]]:
        attachments = []
        for item in media:
            attachment = await self._vk_upload(channel, peer_id, item)
            if item.get("media_item_id") and attachment != item.get("vk_attachment"):
                # a library file uploaded through this community or account: later sends reuse the attachment
                await remember_media(self.db, lambda session, i=item["media_item_id"], a=attachment:
                                     media_library.remember_channel_ref(session, i, channel_id, a))
            attachments.append(attachment)
        parts = split_text(text, VK_MAX_TEXT) if text else [""]
        ids = []
        for n, part in enumerate(parts):
            params = {"peer_id": peer_id, "random_id": random_id(key, n), "message": part}
            if n == 0 and attachments:
                params["attachment"] = ",".join(attachments)
            if not part and "attachment" not in params:
                continue
            ids.append((await channel.api.request("messages.send", params))["response"])
        return attachments, ids

    async def _edit_vk(self, channel_id: int, chat_id: str, external_ids: list[str], text: str,
                       previous_text: str | None, delivered: dict) -> Delivery:
        channel = await self._vk_channel(channel_id)
        plan, parts = edit_plan(external_ids, text, previous_text, VK_MAX_TEXT)
        edited = []
        async with self._vk_errors(channel_id, change=True):
            for external_id, part in plan:
                params = {"peer_id": int(chat_id), "message_id": int(external_id), "message": part,
                          "keep_forward_messages": 1, "keep_snippets": 1}
                if external_ids and external_id == external_ids[0] and delivered.get("attachment"):
                    params["attachment"] = delivered["attachment"]
                await channel.api.request("messages.edit", params)
                edited.append(external_id)
        return Delivery(external_id=external_ids[0] if external_ids else None,
                        extra={"edited_ids": edited, "parts": parts, "message_parts": len(external_ids),
                               "api_calls": max(1, len(plan))})

    async def _delete_vk(self, channel_id: int, chat_id: str, external_ids: list[str]) -> Delivery:
        channel = await self._vk_channel(channel_id)
        if not external_ids:
            return Delivery(extra={"deleted_ids": []})
        async with self._vk_errors(channel_id, change=True):
            answer = (await channel.api.request("messages.delete", {
                "peer_id": int(chat_id), "message_ids": ",".join(external_ids), "delete_for_all": 1,
            }))["response"]
        # {id: 1} deleted now, {id: 0} not there any more: gone either way
        return Delivery(external_id=external_ids[0], extra={
            "deleted_ids": [i for i in external_ids if (answer or {}).get(i) == 1]})

    @contextlib.asynccontextmanager
    async def _vk_errors(self, channel_id: int, *, change: bool = False):
        """VK's refusals and network failures as DeliveryError; with `change` (an edit or a delete of a delivered
        message), "too old" and "gone" first, for good."""
        try:
            yield
        except VKAPIError as exc:
            if change and exc.code in VK_CHANGE_ERRORS:
                raise DeliveryError(f"VK {exc.code}: {exc.error_msg}", permanent=True,
                                    code=VK_CHANGE_ERRORS[exc.code]) from None
            raise await self._vk_error(channel_id, exc) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"VK is unreachable: {exc}", code="network") from None

    async def _vk_upload(self, channel: _VKChannel, peer_id: int, item: dict) -> str:
        """An attachment string ("photo-1_2") for one media item of the payload, uploaded to VK."""
        if item.get("vk_attachment"):
            return item["vk_attachment"]
        if self.fetch_media is None:
            raise DeliveryError("media cannot be fetched in this process", permanent=True, code="no_media")
        data = await self.fetch_media(item)
        kind = item.get("kind")
        name = item.get("file_name") or {"photo": "photo.jpg", "voice": "voice.ogg"}.get(kind, "file")
        if kind == "photo":
            return await PhotoMessageUploader(channel.api).upload(BytesIO(data), peer_id=peer_id)
        if kind == "voice":
            return await VoiceMessageUploader(channel.api).upload(title=name, file_source=BytesIO(data),
                                                                  peer_id=peer_id)
        # documents, and what VK has no message upload for (video, stickers, audio): sent as a file
        return await DocMessagesUploader(channel.api).upload(title=name, file_source=BytesIO(data), peer_id=peer_id)

    async def _vk_error(self, channel_id: int, exc: VKAPIError) -> DeliveryError:
        code = exc.code
        reason = f"VK {code}: {exc.error_msg}"
        if code == 901:
            return DeliveryError(reason, permanent=True, code="blocked")
        if code in vk_api.PERMANENT_SEND:
            return DeliveryError(reason, permanent=True, code="forbidden")
        if code in vk_api.AUTH:
            self._vk.pop(channel_id, None)
            async with self.db.unit_of_work() as session:
                await channel_service.set_status(session, channel_id, ChannelStatus.REVOKED,
                                                 t("channel.vk_token_revoked", error=f"{code}: {exc.error_msg}"))
            return DeliveryError(reason, permanent=True, code="revoked")
        if code == 914:
            return DeliveryError(reason, permanent=True, code="too_long")
        if code in VK_RETRY_AFTER:
            return DeliveryError(reason, retry_after=self._seconds(VK_RETRY_AFTER[code]), code="flood")
        if code == vk_api.CAPTCHA:
            return DeliveryError(reason, retry_after=self._seconds(60.0), code="captcha")
        return DeliveryError(reason, code=f"vk_{code}")


class TelegramBusinessSender:
    """Replies through a Telegram Business connection: the manager bot writes on behalf of the shop's account
    (sendMessage and friends with business_connection_id; editMessageText; deleteBusinessMessages; sendChatAction).

    Refused before any call when the connection is disabled or lacks can_reply (codes "business_disconnected",
    "business_no_reply"); Telegram's own 24-hour rule (BUSINESS_PEER_USAGE_MISSING: the customer has not written in
    the last 24 hours) is a permanent failure "business_window" — "business_window_userbot" when the same account is
    connected as a Telegram-account channel too, which could answer instead — and the reply card says why (reason.*
    texts). With can_read_messages, the customer's newest message is marked read (readBusinessMessage) when a reply
    leaves: a manager has seen it.

    The Bot API has no idempotency key: each part delivered is remembered by (command key, part) in this process, so
    a retry after a flood wait or a network error sends only what did not leave; a crash between Telegram's answer
    and the outbox's record can still repeat a part."""

    MAX_TEXT = 4096
    REMEMBERED = 10_000  # delivered parts kept for retries

    def __init__(self, db: Database, settings: Settings, fetch_media: MediaFetcher | None = None):
        self.db = db
        self.settings = settings
        self.fetch_media = fetch_media
        self._bot = None
        self._delivered: dict[tuple[str, int], int] = {}

    def _client(self):
        if self._bot is None:
            from aiogram import Bot
            from aiogram.client.session.aiohttp import AiohttpSession
            from aiogram.client.telegram import TelegramAPIServer

            telegram = self.settings.telegram
            if telegram.bot_token is None:
                raise DeliveryError("no bot token: Telegram Business channels send through the manager bot",
                                    retry_after=60.0, code="no_client")
            self._bot = Bot(telegram.bot_token.get_secret_value(),
                            session=AiohttpSession(api=TelegramAPIServer.from_base(telegram.telegram_api_url)))
        return self._bot

    async def close(self) -> None:
        if self._bot is not None:
            await self._bot.session.close()
            self._bot = None

    async def _target(self, channel_id: int, chat_id: str | None = None):
        from core.services import business

        async with self.db.unit_of_work() as session:
            return await business.send_target(session, channel_id, chat_id)

    @staticmethod
    def _refuse(target) -> None:
        if (refusal := target.refusal) is not None:
            raise DeliveryError(f"the Telegram Business connection cannot send ({refusal.value})", permanent=True,
                                code=refusal.value)

    @contextlib.asynccontextmanager
    async def _errors(self, target, *, change: bool = False):
        from aiogram.exceptions import (
            TelegramBadRequest,
            TelegramForbiddenError,
            TelegramNetworkError,
            TelegramRetryAfter,
            TelegramServerError,
        )

        try:
            yield
        except TelegramRetryAfter as exc:
            raise DeliveryError(exc.message, retry_after=float(exc.retry_after), code="flood") from None
        except TelegramBadRequest as exc:
            text = exc.message or ""
            if "BUSINESS_PEER_USAGE_MISSING" in text:
                code = "business_window_userbot" if target.userbot else "business_window"
            elif "BUSINESS_CONNECTION_INVALID" in text:
                code = "business_disconnected"
            elif change and "not found" in text:
                code = "gone"
            elif "BUSINESS_PEER_INVALID" in text:
                code = "forbidden"
            else:
                code = "bad_request"
            raise DeliveryError(text, permanent=True, code=code) from None
        except TelegramForbiddenError as exc:
            text = exc.message or ""
            code = "blocked" if "blocked" in text else "business_no_reply" if "BOT_ACCESS_FORBIDDEN" in text \
                else "forbidden"
            raise DeliveryError(text, permanent=True, code=code) from None
        except (TelegramNetworkError, TelegramServerError) as exc:
            raise DeliveryError(f"Telegram is unreachable: {exc}", code="network") from None

    async def _read(self, target, chat_id: str) -> None:
        """readBusinessMessage for the customer's newest message: best effort, never in the way of the reply."""
        if target.latest_inbound_id is None or not target.may("can_read_messages"):
            return
        try:
            await self._client().read_business_message(business_connection_id=target.connection_id,
                                                       chat_id=int(chat_id), message_id=target.latest_inbound_id)
        except Exception as exc:  # a read receipt is a courtesy
            log.info("channel %s: readBusinessMessage failed: %r", target.channel_id, exc)

    def _remember(self, key: tuple[str, int], message_id: int) -> None:
        if len(self._delivered) >= self.REMEMBERED:
            self._delivered.pop(next(iter(self._delivered)))
        self._delivered[key] = message_id

    async def _media(self, bot, chat_id: int, connection_id: str, item: dict) -> int:
        from aiogram.types import BufferedInputFile

        kind = item.get("kind") or "document"
        if item.get("telegram_file_id"):
            file = item["telegram_file_id"]  # a file this very bot has: sent again without uploading
        else:
            if self.fetch_media is None:
                raise DeliveryError("media cannot be fetched in this process", permanent=True, code="no_media")
            data = await self.fetch_media(item)
            file = BufferedInputFile(data, filename=item.get("file_name") or {"photo": "photo.jpg",
                                                                             "voice": "voice.ogg"}.get(kind, "file"))
        senders = {"photo": (bot.send_photo, "photo"), "voice": (bot.send_voice, "voice"),
                   "video": (bot.send_video, "video"), "audio": (bot.send_audio, "audio"),
                   "video_note": (bot.send_video_note, "video_note"), "sticker": (bot.send_sticker, "sticker")}
        method, field_name = senders.get(kind, (bot.send_document, "document"))
        sent = await method(chat_id=chat_id, business_connection_id=connection_id, **{field_name: file})
        if item.get("media_item_id") and not item.get("telegram_file_id"):
            value = getattr(sent, field_name, None)
            file_id = (value[-1] if isinstance(value, list) and value else value)
            file_id = getattr(file_id, "file_id", None)
            if file_id:  # a library file the bot uploaded: sent again by its file id, without the bytes
                await remember_media(self.db, lambda session: media_library.remember_telegram_file_id(
                    session, item["media_item_id"], file_id))
        return sent.message_id

    async def send(self, channel_id: int, chat_id: str, payload: dict, *, idempotency_key: str) -> Delivery:
        target = await self._target(channel_id, chat_id)
        self._refuse(target)
        bot = self._client()
        await self._read(target, chat_id)
        media = payload.get("media") or []
        ids: list[int] = []
        text_ids: list[int] = []
        calls = 0
        async with self._errors(target):
            for n, item in enumerate(media):
                if (key := (idempotency_key, n)) not in self._delivered:
                    self._remember(key, await self._media(bot, int(chat_id), target.connection_id, item))
                    calls += 1
                ids.append(self._delivered[key])
            for n, part in enumerate(split_text(payload.get("text") or "", self.MAX_TEXT, measure=utf16_len),
                                     start=len(media)):
                if not part:
                    continue
                if (key := (idempotency_key, n)) not in self._delivered:
                    sent = await bot.send_message(chat_id=int(chat_id), text=part,
                                                  business_connection_id=target.connection_id)
                    self._remember(key, sent.message_id)
                    calls += 1
                ids.append(self._delivered[key])
                text_ids.append(self._delivered[key])
        return Delivery(external_id=str(ids[0]) if ids else None,
                        extra={"message_ids": [str(i) for i in ids], "text_message_ids": [str(i) for i in text_ids],
                               "api_calls": max(1, calls)})

    async def edit(self, channel_id: int, chat_id: str, external_ids: list[str], text: str, *,
                   previous_text: str | None = None) -> Delivery:
        from aiogram.exceptions import TelegramBadRequest

        target = await self._target(channel_id)
        self._refuse(target)
        plan, parts = edit_plan(external_ids, text, previous_text, self.MAX_TEXT, utf16_len)
        edited: list[str] = []
        async with self._errors(target, change=True):
            for external_id, part in plan:
                try:
                    await self._client().edit_message_text(text=part, chat_id=int(chat_id),
                                                           message_id=int(external_id),
                                                           business_connection_id=target.connection_id)
                except TelegramBadRequest as exc:
                    if "message is not modified" not in (exc.message or ""):
                        raise
                edited.append(external_id)
        return Delivery(external_id=external_ids[0] if external_ids else None,
                        extra={"edited_ids": edited, "parts": parts, "message_parts": len(external_ids),
                               "api_calls": max(1, len(plan))})

    async def delete(self, channel_id: int, chat_id: str, external_ids: list[str]) -> Delivery:
        """deleteBusinessMessages (can_delete_sent_messages for the bot's own replies); missing ids are skipped."""
        target = await self._target(channel_id)
        if target.refusal is not None and target.refusal.value == "business_disconnected":
            self._refuse(target)
        if not external_ids:
            return Delivery(extra={"deleted_ids": []})
        if not (target.may("can_delete_sent_messages") or target.may("can_delete_all_messages")):
            raise DeliveryError("the Telegram Business connection may not delete messages", permanent=True,
                                code="unsupported")
        async with self._errors(target, change=True):
            await self._client().delete_business_messages(business_connection_id=target.connection_id,
                                                          message_ids=[int(i) for i in external_ids])
        return Delivery(external_id=external_ids[0], extra={"deleted_ids": list(external_ids)})

    async def typing(self, channel_id: int, chat_id: str, *, stop: bool = False) -> None:
        """sendChatAction "typing" in the business chat (~5 s; there is no action to stop it)."""
        if stop:
            return
        target = await self._target(channel_id)
        self._refuse(target)
        async with self._errors(target):
            await self._client().send_chat_action(chat_id=int(chat_id), action="typing",
                                                  business_connection_id=target.connection_id)
