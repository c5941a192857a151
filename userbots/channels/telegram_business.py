"""Telegram Business: the shop's account connected to the manager bot (Settings → Telegram Business → Chatbots).
Its messages arrive as updates of the manager bot (bot/handlers/business.py → core/services/business.py): nothing
runs here. Telegram gives a business bot no history. Sending: userbots/gateway.py TelegramBusinessSender (the Bot
API with business_connection_id; replies only within 24 hours of the customer's last message and with can_reply;
deleteBusinessMessages; sendChatAction)."""

from __future__ import annotations

from core.channels import ChannelTraits, Ingest
from core.models import ChannelKind
from core.ports import Delivery

from .base import ChannelAdapter, SendDeps, flood_scaled


class TelegramBusinessSenderScaled:
    def __init__(self, deps: SendDeps):
        from ..gateway import TelegramBusinessSender

        self.inner = TelegramBusinessSender(deps.db, deps.settings, deps.fetch_media)
        self.time_scale = deps.settings.time_scale

    async def send(self, channel_id: int, chat_id: str, payload: dict, *, idempotency_key: str) -> Delivery:
        return await flood_scaled(self.inner.send(channel_id, chat_id, payload, idempotency_key=idempotency_key),
                                  self.time_scale)

    async def edit(self, channel_id: int, chat_id: str, external_ids: list[str], text: str, *,
                   previous_text: str | None = None, delivered: dict | None = None) -> Delivery:
        return await flood_scaled(self.inner.edit(channel_id, chat_id, external_ids, text,
                                                  previous_text=previous_text), self.time_scale)

    async def delete(self, channel_id: int, chat_id: str, external_ids: list[str]) -> Delivery:
        return await flood_scaled(self.inner.delete(channel_id, chat_id, external_ids), self.time_scale)

    async def typing(self, channel_id: int, chat_id: str, *, stop: bool = False) -> None:
        await flood_scaled(self.inner.typing(channel_id, chat_id, stop=stop), self.time_scale)

    async def close(self) -> None:
        await self.inner.close()


class TelegramBusiness(ChannelAdapter):
    traits = ChannelTraits(ChannelKind.TELEGRAM_BUSINESS, "telegram", Ingest.BOT, history=False,
                           reply_window_hours=24)

    def sender(self, deps: SendDeps) -> TelegramBusinessSenderScaled:
        return TelegramBusinessSenderScaled(deps)
