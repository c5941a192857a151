"""Running Telegram accounts: a Telethon client per connected account (session from the database, update state
restored so `catch_up` fetches what happened while the process was down — from the state at sign-in, on the first
connection), its event handlers, FloodWait kept visible on the channel, and sends through the account for the
gateway.

Telethon counts an update as handled when it takes it from the server, not when our handler recorded it, and
writes that state on disconnect and every minute: a stop or a crash while handlers are busy would skip those
messages for good. So every connection also reads history since the last live message recorded (`fill_gap`), and
updates are handled one at a time, in the order Telegram sent them (`sequential_updates`): a chat's messages are
recorded in order, and what a stop interrupts lies after what was recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

from sqlalchemy import BigInteger, func, select
from telethon import errors, events, functions, types, utils

from core.crypto import SecretBox
from core.db import Database
from core.errors import ConfigError
from core.inbox import home_of
from core.leases import Fence
from core.models import ChannelAccount, ChannelStatus, Dialog, Message
from core.ports import Delivery, DeliveryError, TaskQueue
from core.services import channels as channel_service
from core.settings import Settings
from core.textsplit import split_text, utf16_len

from ..gateway import edit_plan, random_id
from ..live import LiveIngest, MediaDownloads
from ..texts import t
from .adapter import TelegramEvents, media_source, to_inbound
from .session import SessionStore

log = logging.getLogger(__name__)

TELEGRAM_MAX_TEXT = 4096
# Telethon sleeps through shorter flood waits by itself; longer ones come back to us and are shown on the channel.
FLOOD_SLEEP_THRESHOLD = 10
BLOCKED_ERRORS = (errors.UserIsBlockedError, errors.YouBlockedUserError, errors.InputUserDeactivatedError,
                  errors.UserPrivacyRestrictedError, errors.UserDeactivatedError)
# AuthKeyNotFound: the server forgot the session's key (a new sandbox, or a key Telegram dropped) — sign in again.
REVOKED_ERRORS = (errors.AuthKeyUnregisteredError, errors.SessionRevokedError, errors.SessionExpiredError,
                  errors.UserDeactivatedBanError, errors.AuthKeyDuplicatedError, errors.AuthKeyNotFound)
DEFAULT_DC = 2  # any DC id: with a custom server (SALESOP_TELEGRAM_MTPROTO_ADDRESS) it names that server
GAP_SLACK = timedelta(minutes=2)  # history re-read before the last live message: what was in flight with it


def new_telethon_client(settings: Settings, session, **options):
    """A TelegramClient for this deployment: api_id/api_hash from my.telegram.org and, when
    SALESOP_TELEGRAM_MTPROTO_ADDRESS is set, that MTProto server instead of Telegram's data centres (the sandbox,
    or Telegram's test DC) — the session is pointed at it and its RSA public key is given to Telethon, which
    otherwise only trusts the keys of Telegram's production servers."""
    from telethon import TelegramClient

    telegram = settings.telegram
    api_id, api_hash = telegram.telegram_api_id, telegram.telegram_api_hash
    if not api_id or api_hash is None:
        raise ConfigError(t("channel.login_no_api_credentials"))
    if telegram.telegram_mtproto_address:
        host, _, port = telegram.telegram_mtproto_address.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"SALESOP_TELEGRAM_MTPROTO_ADDRESS must be host:port, not "
                              f"{telegram.telegram_mtproto_address!r}")
        if telegram.telegram_mtproto_public_key:
            _trust_server_key(telegram.telegram_mtproto_public_key)
        session.set_dc(session.dc_id or DEFAULT_DC, host.strip("[]"), int(port))
    return TelegramClient(session, api_id, api_hash.get_secret_value(), **options)


class TelethonClientFactory:
    """Authorized Telethon clients for stored accounts."""

    def __init__(self, settings: Settings, db: Database, secrets: SecretBox):
        self.settings = settings
        self.db = db
        self.secrets = secrets

    async def client_for(self, channel_id: int, *, updates: bool = True, fence: Fence | None = None,
                         fenced_out: Callable[[Fence], None] | None = None):
        """A connected client. `updates=False` (history import): it neither receives updates nor writes the update
        state back, so the realtime client of the same account misses nothing. With a `fence` (the channel's lease
        the realtime client runs under), its session is written only while that lease is still held."""
        store = SessionStore(self.db, self.secrets, channel_id, fence=fence, fenced_out=fenced_out)
        session = await store.load(owns_updates=updates)
        # Telethon sleeps real seconds; on an emulated clock (time_scale ≠ 1, the sandbox) every flood wait comes
        # back to us instead, to be waited out at the emulated pace
        threshold = FLOOD_SLEEP_THRESHOLD if self.settings.time_scale == 1 else 0
        client = new_telethon_client(self.settings, session, catch_up=updates, flood_sleep_threshold=threshold,
                                     receive_updates=updates, sequential_updates=True)
        try:
            await client.connect()
        except BaseException:
            _settle(client.disconnected)
            raise
        return client


def _settle(ended: asyncio.Future) -> None:
    """Telethon also sets what ended a connection (AuthKeyNotFound when the server forgot the key) on the client's
    `disconnected` future, maybe only after the failed call returned: retrieved whenever it comes, or asyncio logs
    it from the garbage collector at some random later moment."""
    ended.add_done_callback(lambda future: future.cancelled() or future.exception())


@functools.cache
def _trust_server_key(value: str) -> None:
    """Give Telethon the server's RSA public key — once per process, not on every connect: PEM text (literal "\\n"
    accepted, as env files carry it) or the path of a .pem file."""
    from telethon.crypto import rsa

    try:
        pem = value.replace("\\n", "\n") if "BEGIN" in value else Path(value).expanduser().read_text()
        rsa.add_key(pem, old=False)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"SALESOP_TELEGRAM_MTPROTO_PUBLIC_KEY is not a PEM RSA public key: {exc}") from None


async def show_flood(db: Database, channel_id: int, seconds: int) -> None:
    until = datetime.now(UTC) + timedelta(seconds=seconds)
    async with db.unit_of_work() as session:
        await channel_service.set_status(session, channel_id, ChannelStatus.FLOOD_WAIT,
                                         t("channel.tg_flood_wait", seconds=seconds, until=until.strftime("%H:%M:%S UTC")),
                                         flood_until=until)


async def show_active(db: Database, channel_id: int, title: str | None = None) -> None:
    async with db.unit_of_work() as session:
        await channel_service.set_status(session, channel_id, ChannelStatus.ACTIVE,
                                         t("channel.tg_connected", title=title) if title else None)


async def show_revoked(db: Database, channel_id: int) -> None:
    async with db.unit_of_work() as session:
        await channel_service.set_status(session, channel_id, ChannelStatus.REVOKED, t("channel.tg_session_revoked"))


class TelegramAccount:
    """Realtime ingest of one account, for as long as `stop` is not set. Run by the userbot supervisor, it is given
    the channel's lease (`fence`): its session is written only while that lease is still this process's, and a write
    refused is reported to `fenced_out` (userbots/telegram/session.py)."""

    def __init__(self, db: Database, queue: TaskQueue, channel: ChannelAccount, client_factory,
                 media: MediaDownloads | None = None, *, fence: Fence | None = None,
                 fenced_out: Callable[[Fence], None] | None = None):
        self.db = db
        self.channel_id = channel.id
        self.title = channel.title
        self.client_factory = client_factory
        self.fence = fence
        self.fenced_out = fenced_out
        # media: customers' files downloaded into the media store before their message is recorded
        self.events = TelegramEvents(db, LiveIngest(db, queue, media), channel.id)
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
        client = await self.client_factory.client_for(self.channel_id, fence=self.fence, fenced_out=self.fenced_out)
        disconnected = asyncio.ensure_future(client.disconnected)  # watched from the start, settled at the end
        try:
            if not await client.is_user_authorized():
                await show_revoked(self.db, self.channel_id)
                return
            filled = asyncio.Event()

            async def after_the_fill(update) -> None:
                await filled.wait()  # updates are handled one by one: each waits until history is read, in order

            client.add_event_handler(after_the_fill, events.Raw())  # first: before the handlers that record
            self.events.register(client)
            self.client = client
            await client.catch_up()  # from the update state stored with the session
            try:
                await self.fill_gap(client)
            finally:
                filled.set()
            await show_active(self.db, self.channel_id, self.title)
            self.connected.set()
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
            _settle(disconnected)


    async def fill_gap(self, client) -> int:
        """What customers wrote since the last live message recorded (minus a margin), read from history and
        recorded through the inbox — duplicates are no-ops — each chat oldest first: the messages Telethon took as
        handled while their handler was cut short. Nothing before the first live message (the importer's part).
        Returns how many messages were new."""
        async with self.db.unit_of_work() as session:
            last_at, first_id = (await session.execute(
                select(func.max(Message.sent_at), func.min(Message.external_id.cast(BigInteger)))
                .join(Dialog, Dialog.id == Message.dialog_id)
                .where(Dialog.channel_id == home_of(self.channel_id), Message.is_imported.is_(False),
                       Message.external_id.regexp_match(r"^\d{1,18}$"))
            )).one()
        if last_at is None:
            return 0  # nothing live yet: the update state from the sign-in covers the start
        since = last_at - GAP_SLACK
        new = 0
        async for dialog in client.iter_dialogs():  # most recent activity first, pinned chats on top
            if dialog.date is not None and _utc(dialog.date) < since:
                if dialog.pinned:
                    continue
                break
            if not dialog.is_user:
                continue
            found = []
            async for message in client.iter_messages(dialog.entity, min_id=first_id - 1):
                if _utc(message.date) < since:
                    break
                found.append(message)
            for message in reversed(found):
                inbound = to_inbound(self.channel_id, message, dialog.entity)
                if inbound is not None:
                    received = await self.events.live.message(inbound, media=media_source(client, message))
                    new += bool(received and received.created)
        if new:
            log.info("Telegram account %s: %s missed messages fetched from history", self.channel_id, new)
        return new


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


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
        return await send_through(self.db, self._client(channel_id), channel_id, chat_id, payload, idempotency_key,
                                  fetch_media)

    async def edit(self, channel_id: int, chat_id: str, external_ids: list[str], text: str, *,
                   previous_text: str | None = None) -> Delivery:
        return await edit_through(self.db, self._client(channel_id), channel_id, chat_id, external_ids, text,
                                  previous_text)

    async def delete(self, channel_id: int, chat_id: str, external_ids: list[str]) -> Delivery:
        return await delete_through(self.db, self._client(channel_id), channel_id, external_ids)

    async def typing(self, channel_id: int, chat_id: str, *, stop: bool = False) -> None:
        await typing_through(self._client(channel_id), chat_id, stop=stop)

    def _client(self, channel_id: int):
        account = self.accounts.get(channel_id)
        client = account.client if account is not None else None
        if client is None:
            raise DeliveryError("the Telegram account is not connected in this process", retry_after=30.0,
                                code="not_connected")
        return client


def _sent_id(result, rid: int) -> int | None:
    if isinstance(result, types.UpdateShortSentMessage):
        return result.id
    for update in getattr(result, "updates", ()):
        if isinstance(update, types.UpdateMessageID) and update.random_id == rid:
            return update.id
    return None


async def _invoke_once(client, request):
    """One attempt at a request, its error raised as Telegram answered it. Telegram refuses a repeated random_id
    with 500 RANDOM_ID_DUPLICATE (https://core.telegram.org/method/messages.sendMessage), and TelegramClient.__call__
    takes every 500 for an internal error: it retries five times, 2 s apart, then raises a bare ValueError. So the
    request goes through the client's sender, as TelegramClient._call sends each attempt (Telethon 1.x). The request
    holds input peers and media already: nothing is left to resolve."""
    return await client._sender.send(request)


# a file name tells Telethon (and the customer's app) what the bytes are when the item has none
DEFAULT_FILE_NAMES = {"photo": "photo.jpg", "voice": "voice.ogg", "video": "video.mp4", "video_note": "video.mp4"}


async def _input_media(client, item: dict, data: bytes):
    """The media item uploaded (upload.saveFilePart) and described as Telethon's send_file would describe it."""
    kind = item.get("kind")
    stream = BytesIO(data)
    stream.name = item.get("file_name") or DEFAULT_FILE_NAMES.get(kind, "file")
    uploaded = await client.upload_file(stream)
    if kind == "photo":
        return types.InputMediaUploadedPhoto(file=uploaded)
    attributes, mime = utils.get_attributes(stream, voice_note=kind == "voice", video_note=kind == "video_note",
                                            force_document=kind == "document")
    return types.InputMediaUploadedDocument(file=uploaded, mime_type=mime, attributes=attributes,
                                            force_file=kind == "document" or None)


async def send_through(db: Database, client, channel_id: int, chat_id: str, payload: dict, key: str,
                       fetch_media: MediaFetcher | None) -> Delivery:
    """Every message — each media item (messages.sendMedia), then each part of the text (messages.sendMessage) —
    carries a random_id derived from the command's key and its position in the payload: a repeat is refused by
    Telegram (RANDOM_ID_DUPLICATE) instead of delivered twice."""
    try:
        peer = await client.get_input_entity(int(chat_id))
    except (ValueError, TypeError):
        raise DeliveryError(f"Telegram user {chat_id} is unknown to this account", permanent=True,
                            code="unknown_peer") from None
    ids: list[int] = []
    text_ids: list[int] = []  # the messages holding the text: what an edit of the reply changes
    calls = 0

    async def send(request) -> None:
        nonlocal calls
        try:
            result = await _invoke_once(client, request)
        except errors.RandomIdDuplicateError:
            return  # already delivered by an earlier attempt of this very command
        calls += 1
        sent_id = _sent_id(result, request.random_id)
        if sent_id is not None:
            ids.append(sent_id)
            if isinstance(request, functions.messages.SendMessageRequest):
                text_ids.append(sent_id)

    async with _telegram_errors(db, channel_id):
        media = payload.get("media") or []
        for n, item in enumerate(media):
            if fetch_media is None:
                raise DeliveryError("media cannot be fetched in this process", permanent=True, code="no_media")
            uploaded = await _input_media(client, item, await fetch_media(item))
            await send(functions.messages.SendMediaRequest(peer=peer, media=uploaded, message="",
                                                           random_id=random_id(key, n, bits=63)))
        # text parts are numbered after the media items, so no two messages of a command share a random_id
        for n, part in enumerate(split_text(payload.get("text") or "", TELEGRAM_MAX_TEXT, measure=utf16_len),
                                 start=len(media)):
            if part:
                await send(functions.messages.SendMessageRequest(peer=peer, message=part,
                                                                 random_id=random_id(key, n, bits=63)))
    return Delivery(external_id=str(ids[0]) if ids else None,
                    extra={"message_ids": [str(i) for i in ids], "text_message_ids": [str(i) for i in text_ids],
                           "api_calls": max(1, calls)})


async def edit_through(db: Database, client, channel_id: int, chat_id: str, external_ids: list[str], text: str,
                       previous_text: str | None) -> Delivery:
    """messages.editMessage for each text part that changed. MESSAGE_NOT_MODIFIED (the customer has this text
    already: a retried command) is success; an edit Telegram no longer allows, or of a message that is gone, is a
    permanent failure."""
    peer = await _peer(client, chat_id)
    plan, parts = edit_plan(external_ids, text, previous_text, TELEGRAM_MAX_TEXT, utf16_len)
    edited: list[str] = []
    async with _telegram_errors(db, channel_id):
        for external_id, part in plan:
            try:
                await client(functions.messages.EditMessageRequest(peer=peer, id=int(external_id), message=part))
            except errors.MessageNotModifiedError:
                pass
            edited.append(external_id)
    return Delivery(external_id=external_ids[0] if external_ids else None,
                    extra={"edited_ids": edited, "parts": parts, "message_parts": len(external_ids),
                           "api_calls": max(1, len(plan))})


async def delete_through(db: Database, client, channel_id: int, external_ids: list[str]) -> Delivery:
    """messages.deleteMessages with revoke: gone for the customer too. Ids already deleted are skipped by Telegram
    (pts_count tells how many went now)."""
    if not external_ids:
        return Delivery(extra={"deleted_ids": []})
    async with _telegram_errors(db, channel_id):
        affected = await client(functions.messages.DeleteMessagesRequest(id=[int(i) for i in external_ids],
                                                                         revoke=True))
    return Delivery(external_id=external_ids[0], extra={"deleted": affected.pts_count})


async def typing_through(client, chat_id: str, *, stop: bool = False) -> None:
    """messages.setTyping with SendMessageTypingAction ("typing…", shown ~5-6 s; the caller repeats it), or with
    SendMessageCancelAction to take it away. One attempt: a flood wait comes back as retry_after, and nothing marks
    the channel — typing is best effort, the sends report the account's state."""
    peer = await _peer(client, chat_id)
    action = types.SendMessageCancelAction() if stop else types.SendMessageTypingAction()
    try:
        await _invoke_once(client, functions.messages.SetTypingRequest(peer=peer, action=action))
    except errors.FloodWaitError as exc:
        raise DeliveryError(f"FloodWait {exc.seconds}s", retry_after=float(exc.seconds), code="flood") from None
    except errors.RPCError as exc:
        raise DeliveryError(f"Telegram: {type(exc).__name__}", code="typing_refused") from None


async def _peer(client, chat_id: str):
    try:
        return await client.get_input_entity(int(chat_id))
    except (ValueError, TypeError):
        raise DeliveryError(f"Telegram user {chat_id} is unknown to this account", permanent=True,
                            code="unknown_peer") from None


# Refusals of an edit or a deletion, and what the manager is told.
CHANGE_ERRORS = {errors.MessageEditTimeExpiredError: "too_old", errors.MessageIdInvalidError: "gone",
                 errors.MessageAuthorRequiredError: "forbidden", errors.MessageDeleteForbiddenError: "forbidden"}


@contextlib.asynccontextmanager
async def _telegram_errors(db: Database, channel_id: int):
    """Telegram's answers as DeliveryError: flood waits (retry after), blocked customers and revoked sessions (for
    good, with the channel's state shown), and what a change of a delivered message may meet (too old, gone)."""
    try:
        yield
    except tuple(CHANGE_ERRORS) as exc:
        raise DeliveryError(f"Telegram: {type(exc).__name__}", permanent=True,
                            code=CHANGE_ERRORS[type(exc)]) from None
    except errors.FloodWaitError as exc:
        if exc.seconds > FLOOD_SLEEP_THRESHOLD:
            await show_flood(db, channel_id, exc.seconds)
        raise DeliveryError(f"FloodWait {exc.seconds}s", retry_after=float(exc.seconds), code="flood") from None
    except BLOCKED_ERRORS as exc:
        raise DeliveryError(f"Telegram: {type(exc).__name__}", permanent=True, code="blocked") from None
    except REVOKED_ERRORS as exc:
        await show_revoked(db, channel_id)
        raise DeliveryError(f"Telegram: {type(exc).__name__}", permanent=True, code="revoked") from None
