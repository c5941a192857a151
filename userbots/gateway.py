"""core.ports.ChannelGateway for the userbots: a reply to a customer goes out through the dialog's channel — a VK
community, a VK user account or a Telegram account.

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

from core.crypto import SecretBox
from core.db import Database
from core.models import ChannelKind, ChannelStatus
from core.ports import Delivery, DeliveryError
from core.services import channels as channel_service
from core.settings import Settings

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


def random_id(idempotency_key: str, part: int = 0, *, bits: int = 31) -> int:
    """A stable positive id from the command's key: the same command always sends with the same random_id."""
    digest = hashlib.sha256(f"{idempotency_key}:{part}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << bits) - 1) or 1


def split_text(text: str, limit: int) -> list[str]:
    """Parts of at most `limit` characters, cut at a paragraph, line or word break where one is near."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


def edit_plan(external_ids: list[str], text: str, previous_text: str | None,
              limit: int) -> tuple[list[tuple[str, str]], int]:
    """How a new text maps onto the messages a reply was delivered as: (message id, new part) for each message
    whose part changes — the parts are cut as the send cut them — and how many parts the new text needs. Parts
    beyond the messages there are cannot be edited in; messages beyond the new parts are left as they are."""
    parts = split_text(text, limit)
    old = split_text(previous_text, limit) if previous_text is not None else []
    plan = [(external_id, part) for n, (external_id, part) in enumerate(zip(external_ids, parts))
            if n >= len(old) or old[n] != part]
    return plan, len(parts)


@dataclass
class _VKChannel:
    api: vk_api.PacedAPI
    community: bool
    external_id: int


class UserbotGateway:
    """Sends through whichever channel a dialog belongs to. Channel credentials are read (and decrypted) once per
    channel and kept; a revoked token drops them, so a reconnected channel is picked up on the next send."""

    def __init__(self, db: Database, secrets: SecretBox, settings: Settings, *,
                 fetch_media: MediaFetcher | None = None, telegram=None):
        self.db = db
        self.secrets = secrets
        self.settings = settings
        self.fetch_media = fetch_media
        self.telegram = telegram  # userbots.telegram.accounts.TelegramAccounts: the connected Telethon clients
        self._vk: dict[int, _VKChannel] = {}
        self._kinds: dict[int, ChannelKind] = {}

    async def close(self) -> None:
        for channel in self._vk.values():
            await channel.api.close()
        self._vk.clear()

    async def send(self, channel_id: int, chat_id: str, payload: dict, *, idempotency_key: str) -> Delivery:
        kind = await self._kind(channel_id)
        if kind in (ChannelKind.VK_COMMUNITY, ChannelKind.VK_USER):
            return await self._send_vk(channel_id, chat_id, payload, idempotency_key)
        return await self._scaled(self._telegram().send(channel_id, chat_id, payload, idempotency_key=idempotency_key,
                                                        fetch_media=self.fetch_media))

    async def edit(self, channel_id: int, chat_id: str, external_ids: list[str], text: str, *,
                   previous_text: str | None = None, delivered: dict | None = None) -> Delivery:
        kind = await self._kind(channel_id)
        if kind in (ChannelKind.VK_COMMUNITY, ChannelKind.VK_USER):
            return await self._edit_vk(channel_id, chat_id, external_ids, text, previous_text, delivered or {})
        return await self._scaled(self._telegram().edit(channel_id, chat_id, external_ids, text,
                                                        previous_text=previous_text))

    async def delete(self, channel_id: int, chat_id: str, external_ids: list[str]) -> Delivery:
        kind = await self._kind(channel_id)
        if kind in (ChannelKind.VK_COMMUNITY, ChannelKind.VK_USER):
            return await self._delete_vk(channel_id, chat_id, external_ids)
        return await self._scaled(self._telegram().delete(channel_id, chat_id, external_ids))

    async def typing(self, channel_id: int, chat_id: str, *, stop: bool = False) -> None:
        """"typing…" in the customer's chat: VK messages.setActivity (type=typing; shown ~10 s, nothing to take it
        away with), Telegram messages.setTyping (SendMessageTypingAction, ~5-6 s; SendMessageCancelAction stops it).
        Failures are DeliveryError like a send's, but a typing call never marks the channel (flood, revoked): the
        sends that follow find out and say so."""
        kind = await self._kind(channel_id)
        if kind in (ChannelKind.VK_COMMUNITY, ChannelKind.VK_USER):
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
            return
        await self._scaled(self._telegram().typing(channel_id, chat_id, stop=stop))

    async def _scaled(self, call):
        """Telegram's FLOOD_WAIT seconds are emulated ones under SALESOP_TIME_SCALE (sandbox demos), as VK's are."""
        try:
            return await call
        except DeliveryError as exc:
            if exc.code == "flood" and exc.retry_after:
                exc.retry_after = self._seconds(exc.retry_after)
            raise

    def _telegram(self):
        if self.telegram is None:
            raise DeliveryError("no Telegram accounts are running in this process", code="no_client",
                                retry_after=30.0)
        return self.telegram

    async def _kind(self, channel_id: int) -> ChannelKind:
        if channel_id not in self._kinds:
            async with self.db.unit_of_work() as session:
                self._kinds[channel_id] = (await channel_service.get_channel(session, channel_id)).kind
        return self._kinds[channel_id]

    async def _vk_channel(self, channel_id: int) -> _VKChannel:
        if channel_id not in self._vk:
            async with self.db.unit_of_work() as session:
                channel = await channel_service.get_channel(session, channel_id)
                token = channel_service.credentials(self.secrets, channel)
            community = channel.kind == ChannelKind.VK_COMMUNITY
            self._vk[channel_id] = _VKChannel(vk_api.build_api(self.settings, token, community=community),
                                              community, int(channel.external_id))
        return self._vk[channel_id]

    def _seconds(self, emulated: float) -> float:
        return emulated / self.settings.time_scale

    async def _send_vk(self, channel_id: int, chat_id: str, payload: dict, key: str) -> Delivery:
        channel = await self._vk_channel(channel_id)
        peer_id = int(chat_id)
        text = payload.get("text") or ""
        async with self._vk_errors(channel_id):
            attachments = [await self._vk_upload(channel, peer_id, item) for item in payload.get("media") or []]
            parts = split_text(text, VK_MAX_TEXT) if text else [""]
            ids = []
            for n, part in enumerate(parts):
                params = {"peer_id": peer_id, "random_id": random_id(key, n), "message": part}
                if n == 0 and attachments:
                    params["attachment"] = ",".join(attachments)
                if not part and "attachment" not in params:
                    continue
                ids.append((await channel.api.request("messages.send", params))["response"])
        if not ids:
            raise DeliveryError("nothing to send: no text and no media", permanent=True, code="empty")
        extra = {"message_ids": [str(i) for i in ids], "text_message_ids": [str(i) for i in ids],
                 "api_calls": len(ids) + 2 * len(attachments)}
        if attachments:
            extra["attachment"] = ",".join(attachments)  # given again when the text is edited, so they stay
        return Delivery(external_id=str(ids[0]), extra=extra)

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
