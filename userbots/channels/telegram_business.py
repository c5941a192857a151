"""Telegram Business: the shop's account connected to the manager bot (Settings → Telegram Business → Chatbots).
Its messages arrive as updates of the manager bot (bot/handlers/business.py → core/services/business.py): nothing
runs here. Telegram gives a business bot no history. Sending: userbots/gateway.py TelegramBusinessSender (the Bot
API with business_connection_id; replies only within 24 hours of the customer's last message and with can_reply;
deleteBusinessMessages; sendChatAction).

One account connected both ways (a userbot and a business connection) shares its customers and dialogs
(core.inbox.home_of), so a dialog's channel may be either: both kinds send through `TelegramAccountRouter`, which
asks core.services.business.route which way a reply can go — the business connection while the customer wrote in
the last 24 hours and the bot may reply, else the userbot — and falls over to the other way when the first refuses
for a reason of its own. The delivery says which way it went (`via`: the channel kind, `via_channel_id`); an edit
goes out the way the reply went, a deletion through the userbot when it runs (it may revoke any of the account's
messages)."""

from __future__ import annotations

import dataclasses

from core import channels
from core.models import ChannelKind
from core.ports import Delivery, DeliveryError

from ..checkpoint import ImportStopped
from ..texts import t
from .base import ChannelAdapter, ImportDone, ImportJob, SendDeps, flood_scaled


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


# The business connection's refusals the userbot does not share: the other way may still answer.
PASS_OVER = frozenset({"business_window", "business_window_userbot", "business_no_reply", "business_disconnected"})


class TelegramAccountRouter:
    """Sends for both Telegram kinds (one per gateway): each call goes through the channel of the dialog's account
    that can make it (module docstring)."""

    def __init__(self, deps: SendDeps):
        from .telegram_account import TelegramAccountSender

        self.db = deps.db
        self.ways = {ChannelKind.TELEGRAM_ACCOUNT: TelegramAccountSender(deps),
                     ChannelKind.TELEGRAM_BUSINESS: TelegramBusinessSenderScaled(deps)}

    @classmethod
    def of(cls, deps: SendDeps) -> TelegramAccountRouter:
        """The one router of a gateway's senders (both kinds' adapters hand out the same)."""
        router = deps.__dict__.get("_telegram_router")
        if router is None:
            router = deps.__dict__["_telegram_router"] = cls(deps)
        return router

    async def _route(self, channel_id: int, chat_id: str | None):
        from core.services import business

        async with self.db.unit_of_work() as session:
            return await business.route(session, channel_id, chat_id)

    @staticmethod
    def _tagged(delivery: Delivery, kind: ChannelKind, channel_id: int, route=None) -> Delivery:
        extra = {**delivery.extra, "via": kind.value, "via_channel_id": channel_id}
        if route is not None and route.both:
            extra["via_shown"] = True  # the account has both ways: the reply card says which one this went
        return dataclasses.replace(delivery, extra=extra)

    async def send(self, channel_id: int, chat_id: str, payload: dict, *, idempotency_key: str) -> Delivery:
        route = await self._route(channel_id, chat_id)
        for n, (kind, way_id) in enumerate(route.order):
            try:
                delivery = await self.ways[kind].send(way_id, chat_id, payload, idempotency_key=idempotency_key)
            except DeliveryError as error:
                if n + 1 < len(route.order) and kind == ChannelKind.TELEGRAM_BUSINESS and error.code in PASS_OVER:
                    continue  # Telegram refused the bot here: the account's userbot answers instead
                raise
            return self._tagged(delivery, kind, way_id, route)
        raise AssertionError("a route has at least one way")

    async def edit(self, channel_id: int, chat_id: str, external_ids: list[str], text: str, *,
                   previous_text: str | None = None, delivered: dict | None = None) -> Delivery:
        kind, way_id = await self._way_of(channel_id, delivered)
        delivery = await self.ways[kind].edit(way_id, chat_id, external_ids, text, previous_text=previous_text,
                                              delivered=delivered)
        return self._tagged(delivery, kind, way_id)

    async def delete(self, channel_id: int, chat_id: str, external_ids: list[str]) -> Delivery:
        kind, way_id = await self._way_of(channel_id, None)
        return self._tagged(await self.ways[kind].delete(way_id, chat_id, external_ids), kind, way_id)

    async def typing(self, channel_id: int, chat_id: str, *, stop: bool = False) -> None:
        kind, way_id = (await self._route(channel_id, chat_id)).first
        await self.ways[kind].typing(way_id, chat_id, stop=stop)

    async def _way_of(self, channel_id: int, delivered: dict | None) -> tuple[ChannelKind, int]:
        """The way a delivered reply went (only that way may edit it: a bot edits the bot's messages), else the
        userbot when the account has one running, else the business connection."""
        if delivered and delivered.get("via") and delivered.get("via_channel_id"):
            return ChannelKind(delivered["via"]), int(delivered["via_channel_id"])
        route = await self._route(channel_id, None)
        if route.userbot_id is not None:
            return ChannelKind.TELEGRAM_ACCOUNT, route.userbot_id
        return route.first

    async def close(self) -> None:
        for way in self.ways.values():
            await way.close()


class TelegramBusiness(ChannelAdapter):
    traits = channels.TELEGRAM_BUSINESS

    def sender(self, deps: SendDeps) -> TelegramAccountRouter:
        return TelegramAccountRouter.of(deps)

    async def import_history(self, job: ImportJob) -> ImportDone:
        """Telegram gives a business bot no history (the same account's userbot channel can import it)."""
        raise ImportStopped(t("business.channel.detail_no_history"))
