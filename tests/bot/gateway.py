"""A real ChannelGateway for tests only: the "business account" is played by the sandbox bot writing to the
customer's private chat through the sandbox Bot API (the userbots' gateways replace it in the product).

Like VK's random_id, a repeated idempotency key returns the first delivery instead of sending again."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter

from core.ports import Delivery, DeliveryError


class SandboxBotGateway:
    def __init__(self, bot: Bot, time_scale: float = 1.0):
        self.bot = bot
        self.time_scale = time_scale
        self.delivered: dict[str, str] = {}  # idempotency key → message id
        self.calls = 0

    async def send(self, channel_id: int, chat_id: str, payload: dict, *, idempotency_key: str) -> Delivery:
        self.calls += 1
        if idempotency_key in self.delivered:
            return Delivery(external_id=self.delivered[idempotency_key])
        try:
            media = payload.get("media") or []
            if media and media[0]["kind"] == "photo":
                message = await self.bot.send_photo(int(chat_id), media[0]["telegram_file_id"],
                                                    caption=payload.get("text") or None)
            elif media:
                message = await self.bot.send_document(int(chat_id), media[0]["telegram_file_id"],
                                                       caption=payload.get("text") or None)
            else:
                message = await self.bot.send_message(int(chat_id), payload["text"])
        except TelegramRetryAfter as error:
            raise DeliveryError(f"Too Many Requests: retry after {error.retry_after}",
                                retry_after=error.retry_after / self.time_scale, code="flood") from None
        except TelegramForbiddenError as error:
            code = "blocked" if "blocked" in error.message else "forbidden"
            raise DeliveryError(error.message, permanent=True, code=code) from None
        except TelegramBadRequest as error:
            raise DeliveryError(error.message, permanent=True, code="bad_request") from None
        self.delivered[idempotency_key] = str(message.message_id)
        return Delivery(external_id=str(message.message_id))
