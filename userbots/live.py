"""Live events from any userbot into core.inbox: one unit of work per event, deduplicated by the platform's event id,
follow-up tasks (mirror to the manager topic, draft a reply) enqueued only after the commit.

Customers' messages that arrive together share a unit of work (`LiveIngest.message`): while one transaction is
under way, the messages arriving meanwhile wait and then go together in the next one (at most BATCH_LIMIT) — a
small batch of what is already queued, never a delay: a lone message starts its transaction at once. One
transaction for many messages is one BEGIN/COMMIT, one dedup statement, one lookup and one follow-up statement
instead of one each per message (a burst of 60 dialogs writing at once). A batch that fails runs again message by
message, so one bad event never holds back the others; each caller gets its own message's result only after the
commit (nothing is acknowledged to the channel before its message is recorded), and one ingest runs one
transaction at a time, in arrival order, so each chat's messages are recorded in the order they came.

A replayed event (VK re-sends after a reconnect, Telethon catches up after a restart) finds its key in
processed_updates and changes nothing; a message that also arrives through history import or gap fill is skipped by
the inbox's own (dialog, message id) key.

A customer's files (payment receipts, voice notes, documents) are downloaded into the media store before the
message is recorded, so the mirror task posts them into the manager topic as real media at once. A download is
bounded in size (what the bot can re-upload) and time; when it fails the message is recorded all the same, the
attachment carrying the reason the manager then sees in the topic. Imported history is never downloaded (volume).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import inbox
from core.db import Database
from core.inbox import InboundAttachment, InboundMessage
from core.media import MediaStore
from core.models import Dialog, Direction, Message, ProcessedUpdate
from core.ports import TaskQueue

from .checkpoint import with_deadlock_retry
from .texts import t

log = logging.getLogger(__name__)

BOT_UPLOAD_LIMIT = 50 * 1024 * 1024  # the manager bot cannot upload a bigger file into a topic
DOWNLOAD_TIMEOUT = 20.0  # seconds per file: a stuck download must not hold the channel's events for long
MB = 1024 * 1024
# Why a customer's file is missing, by the channel (MediaSource.place) where the manager can still open it.
FILE_ERRORS = {
    "vk": {"over_limit": "channel.attachment_over_limit", "download_failed": "channel.attachment_download_failed"},
    "tg": {"over_limit": "channel.attachment_over_limit_tg",
           "download_failed": "channel.attachment_download_failed_tg"},
}


class FileTooLarge(Exception):
    """The file turned out bigger than the download limit (its size was not declared, or was declared wrong)."""


class DownloadFailed(Exception):
    """The channel did not hand the file over; `reason` is shown to the manager as it is."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# (attachment, byte limit) → the file's bytes, or None when this kind of attachment has no file to fetch (a link, a
# VK video that is only a player page). Raises FileTooLarge past the limit, DownloadFailed or any error otherwise.
AttachmentFetch = Callable[[InboundAttachment, int], Awaitable[bytes | None]]


@dataclasses.dataclass(frozen=True)
class MediaSource:
    """How one channel fetches the files of one message."""

    fetch: AttachmentFetch
    place: str  # "vk" or "tg": which texts tell the manager where to open the original when the download fails


class MediaDownloads:
    """Downloads a live message's attachments into the media store, one namespace per channel."""

    def __init__(self, store: MediaStore, *, limit: int = BOT_UPLOAD_LIMIT, timeout: float = DOWNLOAD_TIMEOUT):
        self.store = store
        self.limit = limit
        self.timeout = timeout

    @staticmethod
    def wanted(msg: InboundMessage) -> bool:
        """A customer's message with a file not yet fetched and not already known to be unfetchable."""
        return msg.direction == Direction.IN and any(
            a.error is None and a.storage_key is None for a in msg.attachments)

    async def download(self, msg: InboundMessage, source: MediaSource) -> InboundMessage:
        """The message with each attachment either stored (storage_key, size, mime, sha256) or carrying the reason
        it is not. Never raises for a file: the message must be recorded whatever happens to its attachments."""
        attachments = await asyncio.gather(*(self._one(msg.channel_id, att, source) for att in msg.attachments))
        return dataclasses.replace(msg, attachments=tuple(attachments))

    def _error(self, key: str, place: str, **values) -> str:
        return t(FILE_ERRORS[place][key], **values)

    async def _one(self, channel_id: int, att: InboundAttachment, source: MediaSource) -> InboundAttachment:
        if att.error is not None or att.storage_key is not None:
            return att
        limit_mb = self.limit // MB
        if att.size is not None and att.size > self.limit:
            return dataclasses.replace(att, error=self._error("over_limit", source.place,
                                                              limit_mb=limit_mb))
        reason = None
        try:
            async with asyncio.timeout(self.timeout):
                data = await source.fetch(att, self.limit)
        except FileTooLarge:
            return dataclasses.replace(att, error=self._error("over_limit", source.place,
                                                              limit_mb=limit_mb))
        except TimeoutError:
            reason = t("channel.download_timeout", seconds=f"{self.timeout:g}")
        except DownloadFailed as exc:
            reason = exc.reason
        except Exception as exc:  # whatever the channel's library raised: the message must land regardless
            log.warning("channel %s: downloading a %s failed: %r", channel_id, att.kind.value, exc)
            reason = t("channel.download_error", error=type(exc).__name__)
        else:
            if data is None:
                return att
            if not data:
                reason = t("channel.download_empty")
            elif len(data) > self.limit:
                return dataclasses.replace(att, error=self._error("over_limit", source.place,
                                                                  limit_mb=limit_mb))
        if reason is not None:
            return dataclasses.replace(att, error=self._error("download_failed", source.place,
                                                              reason=reason))
        try:
            stored = await self.store.save(data, namespace=f"inbox/{channel_id}", mime=att.mime,
                                           file_name=att.file_name)
        except OSError:  # a full or read-only disk: visible on the attachment and in the log, the message lands
            log.exception("channel %s: the media store could not save a file", channel_id)
            return dataclasses.replace(att, error=self._error("download_failed", source.place,
                                                              reason=t("channel.download_store_failed")))
        return dataclasses.replace(att, storage_key=stored.storage_key, size=stored.size, mime=stored.mime,
                                   sha256=stored.sha256)


BATCH_LIMIT = 100  # customers' messages recorded in one transaction, at most
# Events' dedup keys, executed with the batch's keys as parameters (one INSERT, compiled once).
_SEEN_INSERT = (insert(ProcessedUpdate.__table__).on_conflict_do_nothing()
                .returning(ProcessedUpdate.__table__.c.source, ProcessedUpdate.__table__.c.update_key))


class LiveIngest:
    def __init__(self, db: Database, queue: TaskQueue, media: MediaDownloads | None = None):
        self.db = db
        self.queue = queue
        self.media = media  # None: attachments are recorded without their files
        self._waiting: list[tuple[InboundMessage, tuple[str, str] | None, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None
        self.transactions = 0  # batches recorded (for tests and the bench)

    async def _once(self, session: AsyncSession, dedup: tuple[str, str] | None) -> bool:
        """True when this event was not seen before (and is now marked seen in the same transaction)."""
        if dedup is None:
            return True
        source, key = dedup
        inserted = (await session.execute(
            insert(ProcessedUpdate).values(source=source, update_key=key[:128])
            .on_conflict_do_nothing().returning(ProcessedUpdate.source)
        )).scalar_one_or_none()
        return inserted is not None

    async def _run(self, dedup: tuple[str, str] | None,
                   work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        async def transaction():
            async with self.db.unit_of_work() as session:
                if not await self._once(session, dedup):
                    return None
                return await work(session)

        result = await with_deadlock_retry(transaction)
        for received in result if isinstance(result, list) else [result]:
            if isinstance(received, inbox.Received):
                for name, kwargs in received.follow_ups:
                    await self.queue.enqueue(name, **kwargs)
        return result

    async def _submit(self, msg: InboundMessage, dedup: tuple[str, str] | None) -> inbox.Received | None:
        """Record a customer's message in the next shared transaction (see the module docstring)."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((msg, dedup, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="live-ingest")
        return await future

    async def _flush(self) -> None:
        while self._waiting:
            items, self._waiting = self._waiting[:BATCH_LIMIT], self._waiting[BATCH_LIMIT:]
            items = [item for item in items if not item[2].done()]  # a caller cancelled before its turn
            if not items:
                continue
            try:
                results = await self._batch(items)
            except Exception as exc:
                if len(items) == 1:
                    if not items[0][2].done():
                        items[0][2].set_exception(exc)
                    continue
                log.warning("%s live messages together failed (%s: %s): each on its own", len(items),
                            type(exc).__name__, exc)
                for msg, dedup, future in items:
                    try:
                        result = await self._run(dedup, lambda session, msg=msg: inbox.receive(session, msg))
                    except Exception as one:
                        if not future.done():
                            future.set_exception(one)
                    else:
                        if not future.done():
                            future.set_result(result)
                continue
            except BaseException:  # cancelled with the process: nothing was acknowledged, the channel replays
                for _, _, future in items:
                    future.cancel()
                for _, _, future in self._waiting:
                    future.cancel()
                self._waiting = []
                raise
            for (_, _, future), result in zip(items, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _batch(self, items) -> list[inbox.Received | None]:
        """One transaction for several customers' messages: dedup keys in one statement, then core.inbox's batch
        (which stages every follow-up in one statement); the follow-ups are handed to the queue after the commit."""
        async def transaction() -> list[inbox.Received | None]:
            async with self.db.unit_of_work() as session:
                fresh = await self._once_many(session, [dedup for _, dedup, _ in items])
                todo = [msg for (msg, _, _), new in zip(items, fresh, strict=True) if new]
                received = iter(await inbox.receive_many(session, todo))
            return [next(received) if new else None for new in fresh]

        results = await with_deadlock_retry(transaction)
        self.transactions += 1
        for received in results:
            if received is None:
                continue
            for name, kwargs in received.follow_ups:
                try:
                    await self.queue.enqueue(name, **kwargs)
                except Exception:  # its row is committed: the follow-up relay hands it over
                    log.exception("follow-up %s %s could not be handed to the queue now", name, kwargs)
        return results

    async def _once_many(self, session: AsyncSession, dedups: list[tuple[str, str] | None]) -> list[bool]:
        """`_once` for several events in one statement; the same key twice in one batch: the first one is new."""
        keys = {(d[0], d[1][:128]) for d in dedups if d is not None}
        if keys:
            inserted = set((await session.execute(
                _SEEN_INSERT, [{"source": s, "update_key": k} for s, k in sorted(keys)])).tuples())
        else:
            inserted = set()
        fresh = []
        for dedup in dedups:
            if dedup is None:
                fresh.append(True)
                continue
            key = (dedup[0], dedup[1][:128])
            fresh.append(key in inserted)
            inserted.discard(key)
        return fresh

    async def message(self, msg: InboundMessage, *, dedup: tuple[str, str] | None = None,
                      media: MediaSource | None = None) -> inbox.Received | None:
        """Record one live message; with `media`, a customer's files are downloaded first (unless the message or
        the event is already recorded: a replay downloads nothing)."""
        if media is not None and self.media is not None and self.media.wanted(msg) \
                and not await self._already_recorded(msg, dedup):
            msg = await self.media.download(msg, media)
        if msg.direction != Direction.IN:
            # The shop's own message locks its dialog and cancels waiting replies: a transaction of its own.
            return await self._run(dedup, lambda session: inbox.receive(session, msg))
        return await self._submit(msg, dedup)

    async def _already_recorded(self, msg: InboundMessage, dedup: tuple[str, str] | None) -> bool:
        """Checked outside the recording transaction, so two copies racing may both download (the store keeps one
        file per content); the inbox's keys still record the message once."""
        async with self.db.unit_of_work() as session:
            if dedup is not None and await session.get(ProcessedUpdate, (dedup[0], dedup[1][:128])) is not None:
                return True
            return (await session.execute(
                select(Message.id).join(Dialog, Dialog.id == Message.dialog_id)
                .where(Dialog.channel_id == inbox.home_of(msg.channel_id),
                       Dialog.external_chat_id == msg.external_chat_id,
                       Message.external_id == msg.external_id)
            )).first() is not None

    async def messages(self, msgs: list[InboundMessage]) -> list[inbox.Received]:
        """Several live messages (a gap fill), each in its own unit of work."""
        out = []
        for msg in msgs:
            received = await self.message(msg)
            if received is not None:
                out.append(received)
        return out

    async def edit(self, channel_id: int, chat_id: str, external_id: str, text: str, at: datetime, *,
                   dedup: tuple[str, str] | None = None) -> inbox.Received | None:
        return await self._run(dedup, lambda session: inbox.record_edit(session, channel_id, chat_id, external_id,
                                                                        text, at))

    async def deletion(self, channel_id: int, chat_id: str, external_id: str, at: datetime, *,
                       dedup: tuple[str, str] | None = None) -> inbox.Received | None:
        return await self._run(dedup, lambda session: inbox.record_deletion(session, channel_id, chat_id,
                                                                            external_id, at))

    async def blocked(self, channel_id: int, external_user_id: str, blocked: bool, *,
                      dedup: tuple[str, str] | None = None) -> list[int]:
        return await self._run(dedup, lambda session: inbox.set_blocked(session, channel_id, external_user_id,
                                                                        blocked)) or []

    async def read_up_to(self, channel_id: int, chat_id: str, direction: Direction, max_external_id: int) -> int:
        """Read receipts: the customer read our messages (OUT), or the business read theirs on its own phone (IN,
        which also clears the dialog's unread count). Returns how many messages changed."""
        async def work(session: AsyncSession) -> int:
            dialog_id = (await session.execute(
                select(Dialog.id).where(Dialog.channel_id == inbox.home_of(channel_id),
                                        Dialog.external_chat_id == chat_id)
            )).scalar_one_or_none()
            if dialog_id is None:
                return 0
            # external ids of one account are numeric and grow with time (Telegram, VK)
            changed = (await session.execute(
                update(Message)
                .where(Message.dialog_id == dialog_id, Message.direction == direction, Message.is_read.is_(False),
                       Message.external_id.is_not(None), Message.external_id.regexp_match(r"^\d{1,18}$"))
                .where(Message.external_id.cast(BigInteger) <= max_external_id)
                .values(is_read=True)
                .returning(Message.id)
            )).scalars().all()
            if direction == Direction.IN:
                await session.execute(update(Dialog).where(Dialog.id == dialog_id).values(unread_count=0))
            return len(changed)

        return await self._run(None, work)
