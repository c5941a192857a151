"""A Telegram account signed in as a userbot (Telethon; /connect_telegram or `salesop channel add`): live ingest
userbots/telegram/client.py TelegramAccount (its session from the database, its update state restored), history
userbots/telegram/history.py, sending through the running client of the account (messages.sendMessage /
sendMedia with a random_id from the command's key, editMessage, deleteMessages with revoke, setTyping). The
clients run in the process that holds the channel's lease; a send elsewhere waits for it ("not_connected")."""

from __future__ import annotations

from core import channels
from core.models import ChannelAccount, ChannelStatus
from core.ports import Delivery, DeliveryError

from ..texts import t
from .base import ChannelAdapter, ImportDone, ImportJob, LiveHost, SendDeps, flood_scaled

FACTORY = "telethon_client_factory"  # LiveHost.shared: one Telethon client factory per process


class TelegramAccountSender:
    def __init__(self, deps: SendDeps):
        self.accounts = deps.telegram
        self.fetch_media = deps.fetch_media
        self.time_scale = deps.settings.time_scale

    def _accounts(self):
        if self.accounts is None:
            raise DeliveryError("no Telegram accounts are running in this process", code="no_client",
                                retry_after=30.0)
        return self.accounts

    async def send(self, channel_id: int, chat_id: str, payload: dict, *, idempotency_key: str) -> Delivery:
        return await flood_scaled(self._accounts().send(channel_id, chat_id, payload, idempotency_key=idempotency_key,
                                                        fetch_media=self.fetch_media), self.time_scale)

    async def edit(self, channel_id: int, chat_id: str, external_ids: list[str], text: str, *,
                   previous_text: str | None = None, delivered: dict | None = None) -> Delivery:
        return await flood_scaled(self._accounts().edit(channel_id, chat_id, external_ids, text,
                                                        previous_text=previous_text), self.time_scale)

    async def delete(self, channel_id: int, chat_id: str, external_ids: list[str]) -> Delivery:
        return await flood_scaled(self._accounts().delete(channel_id, chat_id, external_ids), self.time_scale)

    async def typing(self, channel_id: int, chat_id: str, *, stop: bool = False) -> None:
        await flood_scaled(self._accounts().typing(channel_id, chat_id, stop=stop), self.time_scale)

    async def close(self) -> None:
        pass  # the clients belong to the supervisor's workers


class TelegramAccount(ChannelAdapter):
    traits = channels.TELEGRAM_ACCOUNT

    def sender(self, deps: SendDeps):
        # the account may be connected as a Telegram Business channel too: one router sends for both ways
        from .telegram_business import TelegramAccountRouter

        return TelegramAccountRouter.of(deps)

    async def live(self, host: LiveHost, channel: ChannelAccount):
        from core.services import channels as channel_service

        telegram = host.settings.telegram
        if not telegram.telegram_api_id or telegram.telegram_api_hash is None:
            async with host.db.unit_of_work() as session:
                await channel_service.set_status(session, channel.id, ChannelStatus.ERROR,
                                                 t("channel.login_no_api_credentials"))
            return None
        from ..telegram.client import TelegramAccount as Worker
        from ..telegram.client import TelethonClientFactory

        factory = host.shared.get(FACTORY)
        if factory is None:
            factory = host.shared[FACTORY] = TelethonClientFactory(host.settings, host.db, host.secrets)
        if host.lease_lost(channel.id):
            return None
        worker = Worker(host.db, host.queue, channel, factory, host.media, fence=host.lease_fence(channel.id),
                        fenced_out=host.fenced_out)
        host.accounts.add(worker)  # the gateway sends through its client
        return worker

    def forget(self, host: LiveHost, channel_id: int) -> None:
        host.accounts.remove(channel_id)  # no more sends through this process's client

    async def import_history(self, job: ImportJob) -> ImportDone:
        """A takeout session where Telegram grants one, dialogs newest first (userbots/telegram/history.py)."""
        from ..telegram.history import TelegramImporter

        factory = job.telegram_client_factory
        if factory is None:
            from ..telegram.client import TelethonClientFactory

            factory = TelethonClientFactory(job.settings, job.db, job.secrets)
        importer = TelegramImporter(job.db, job.settings, job.channel, factory, job.checkpoint, progress=job.progress)
        await importer.run()
        return ImportDone(importer.messages_this_run, importer.write_seconds)
