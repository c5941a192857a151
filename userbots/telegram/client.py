"""Running Telegram accounts: a Telethon client per connected account (session from the database, update state
restored so `catch_up` fetches what happened while the process was down), its event handlers, FloodWait kept
visible on the channel, and sends through the account for the gateway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO

from telethon import errors, functions, types

from core.crypto import SecretBox
from core.db import Database
from core.errors import ConfigError
from core.models import ChannelAccount, ChannelStatus
from core.ports import Delivery, DeliveryError, TaskQueue
from core.services import channels as channel_service
from core.settings import Settings

from ..gateway import random_id, split_text
from ..live import LiveIngest
from ..texts import t
from .adapter import TelegramEvents
from .session import SessionStore

log = logging.getLogger(__name__)

TELEGRAM_MAX_TEXT = 4096
# Telethon sleeps through shorter flood waits by itself; longer ones come back to us and are shown on the channel.
FLOOD_SLEEP_THRESHOLD = 10
BLOCKED_ERRORS = (errors.UserIsBlockedError, errors.YouBlockedUserError, errors.InputUserDeactivatedError,
                  errors.UserPrivacyRestrictedError, errors.UserDeactivatedError)
REVOKED_ERRORS = (errors.AuthKeyUnregisteredError, errors.SessionRevokedError, errors.SessionExpiredError,
                  errors.UserDeactivatedBanError, errors.AuthKeyDuplicatedError)


class TelethonClientFactory:
    """Authorized Telethon clients for stored accounts."""

    def __init__(self, settings: Settings, db: Database, secrets: SecretBox):
        self.settings = settings
        self.db = db
        self.secrets = secrets

    async def client_for(self, channel_id: int, *, updates: bool = True):
        """A connected client. `updates=False` (history import): it neither receives updates nor writes the update
        state back, so the realtime client of the same account misses nothing."""
        from telethon import TelegramClient

        api_id, api_hash = self.settings.telegram.telegram_api_id, self.settings.telegram.telegram_api_hash
        if not api_id or api_hash is None:
            raise ConfigError(t("login_no_api_credentials"))
        session = await SessionStore(self.db, self.secrets, channel_id).load(owns_updates=updates)
        client = TelegramClient(session, api_id, api_hash.get_secret_value(), catch_up=updates,
                                flood_sleep_threshold=FLOOD_SLEEP_THRESHOLD, receive_updates=updates)
        await client.connect()
        return client


async def show_flood(db: Database, channel_id: int, seconds: int) -> None:
    until = datetime.now(UTC) + timedelta(seconds=seconds)
    async with db.unit_of_work() as session:
        await channel_service.set_status(session, channel_id, ChannelStatus.FLOOD_WAIT,
                                         t("tg_flood_wait", seconds=seconds, until=until.strftime("%H:%M:%S UTC")),
                                         flood_until=until)


async def show_active(db: Database, channel_id: int, title: str | None = None) -> None:
    async with db.unit_of_work() as session:
        await channel_service.set_status(session, channel_id, ChannelStatus.ACTIVE,
                                         t("tg_connected", title=title) if title else None)


async def show_revoked(db: Database, channel_id: int) -> None:
    async with db.unit_of_work() as session:
        await channel_service.set_status(session, channel_id, ChannelStatus.REVOKED, t("tg_session_revoked"))


class TelegramAccount:
    """Realtime ingest of one account, for as long as `stop` is not set."""

    def __init__(self, db: Database, queue: TaskQueue, channel: ChannelAccount, client_factory):
        self.db = db
        self.channel_id = channel.id
        self.title = channel.title
        self.client_factory = client_factory
        self.events = TelegramEvents(db, LiveIngest(db, queue), channel.id)
        self.client = None
        self.connected = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._session(stop)
                return
            except REVOKED_ERRORS:
                await show_revoked(self.db, self.channel_id)
                return
            except errors.FloodWaitError as exc:
                await show_flood(self.db, self.channel_id, exc.seconds)
                await _wait(stop, exc.seconds)
            except (ConnectionError, OSError) as exc:
                log.warning("Telegram account %s: connection lost (%r), reconnecting", self.channel_id, exc)
                await _wait(stop, 5)

    async def _session(self, stop: asyncio.Event) -> None:
        client = await self.client_factory.client_for(self.channel_id)
        try:
            if not await client.is_user_authorized():
                await show_revoked(self.db, self.channel_id)
                return
            self.events.register(client)
            self.client = client
            await client.catch_up()  # from the update state stored with the session
            await show_active(self.db, self.channel_id, self.title)
            self.connected.set()
            disconnected = asyncio.ensure_future(client.disconnected)
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait([disconnected, stopper], return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if disconnected.done() and not stop.is_set():
                disconnected.result()  # re-raises what ended the connection
                raise ConnectionError("disconnected")
        finally:
            self.connected.clear()
            self.client = None
            await client.disconnect()  # writes the update state through the session (DatabaseSession.close)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


MediaFetcher = Callable[[dict], Awaitable[bytes]]


class TelegramAccounts:
    """The accounts running in this process, and sends through them (the gateway's Telegram half)."""

    def __init__(self, db: Database):
        self.db = db
        self.accounts: dict[int, TelegramAccount] = {}

    def add(self, account: TelegramAccount) -> None:
        self.accounts[account.channel_id] = account

    def remove(self, channel_id: int) -> None:
        self.accounts.pop(channel_id, None)

    async def send(self, channel_id: int, chat_id: str, payload: dict, *, idempotency_key: str,
                   fetch_media: MediaFetcher | None = None) -> Delivery:
        account = self.accounts.get(channel_id)
        client = account.client if account is not None else None
        if client is None:
            raise DeliveryError("the Telegram account is not connected in this process", retry_after=30.0,
                                code="not_connected")
        return await send_through(self.db, client, channel_id, chat_id, payload, idempotency_key, fetch_media)


def _sent_id(result, rid: int) -> int | None:
    if isinstance(result, types.UpdateShortSentMessage):
        return result.id
    for update in getattr(result, "updates", ()):
        if isinstance(update, types.UpdateMessageID) and update.random_id == rid:
            return update.id
    return None


async def send_through(db: Database, client, channel_id: int, chat_id: str, payload: dict, key: str,
                       fetch_media: MediaFetcher | None) -> Delivery:
    """Text goes as messages.sendMessage with a random_id derived from the command's key: a repeat is refused by
    Telegram (RANDOM_ID_DUPLICATE) instead of delivered twice. Media go with Telethon's send_file."""
    try:
        peer = await client.get_input_entity(int(chat_id))
    except (ValueError, TypeError):
        raise DeliveryError(f"Telegram user {chat_id} is unknown to this account", permanent=True,
                            code="unknown_peer") from None
    ids: list[int] = []
    calls = 0
    try:
        for n, item in enumerate(payload.get("media") or []):
            if fetch_media is None:
                raise DeliveryError("media cannot be fetched in this process", permanent=True, code="no_media")
            data = BytesIO(await fetch_media(item))
            data.name = item.get("file_name") or {"photo": "photo.jpg", "voice": "voice.ogg"}.get(item.get("kind"),
                                                                                                  "file")
            sent = await client.send_file(peer, data, voice_note=item.get("kind") == "voice",
                                          video_note=item.get("kind") == "video_note",
                                          force_document=item.get("kind") == "document")
            ids.append(sent.id)
            calls += 1
        for n, part in enumerate(split_text(payload.get("text") or "", TELEGRAM_MAX_TEXT)):
            if not part:
                continue
            rid = random_id(key, n, bits=63)
            try:
                result = await client(functions.messages.SendMessageRequest(peer=peer, message=part, random_id=rid))
            except errors.RandomIdDuplicateError:
                continue  # already delivered by an earlier attempt of this very command
            calls += 1
            sent_id = _sent_id(result, rid)
            if sent_id is not None:
                ids.append(sent_id)
    except errors.FloodWaitError as exc:
        if exc.seconds > FLOOD_SLEEP_THRESHOLD:
            await show_flood(db, channel_id, exc.seconds)
        raise DeliveryError(f"FloodWait {exc.seconds}s", retry_after=float(exc.seconds), code="flood") from None
    except BLOCKED_ERRORS as exc:
        raise DeliveryError(f"Telegram: {type(exc).__name__}", permanent=True, code="blocked") from None
    except REVOKED_ERRORS as exc:
        await show_revoked(db, channel_id)
        raise DeliveryError(f"Telegram: {type(exc).__name__}", permanent=True, code="revoked") from None
    return Delivery(external_id=str(ids[0]) if ids else None,
                    extra={"message_ids": [str(i) for i in ids], "api_calls": max(1, calls)})
