"""History import: every conversation and every message of a channel, as fast as the platform allows, resumable.

The checkpoint is the ImportRun row (`cursor`), written in the same transaction as the messages it covers, so a
stopped, killed or crashed import resumes where it stopped and ends in the same database as one clean run. Writes
go through userbots.bulk (ON CONFLICT DO NOTHING on the inbox's keys): what realtime already stored, or what an
earlier run wrote before it was killed, is skipped. Imported history is never mirrored into manager topics — the
bulk writer asks for no follow-up tasks at all.

How a kind's history is read is its adapter's (`import_history`, userbots/channels: VK's execute batches at the
token's rate bound, a Telegram account's takeout session); this module holds the lock, the lease and the checkpoint
around it, the same for every kind.

One import per channel at a time across processes: a session advisory lock (released by PostgreSQL the moment the
holder's connection dies, kill -9 included, so a killed import resumes at once), and under it the channel's import
lease (core.leases, "import:<id>") with its heartbeat, which makes the holder visible and stops the import at once if
its exclusivity is ever lost (its database session died and another process took the lock and the lease).
"""

from __future__ import annotations

import asyncio
import gc
import time
import zlib
from dataclasses import dataclass, field

from sqlalchemy import text

from core.crypto import SecretBox
from core.db import Database
from core.errors import Conflict
from core.leases import LeaseTimings, Leases, import_lease
from core.models import ImportStatus
from core.services import channels as channel_service
from core.settings import Settings

from .channels import ADAPTERS, ImportJob
from .checkpoint import Checkpoint, ImportStopped
from .texts import t

__all__ = ["ImportReport", "ImportStopped", "run_import", "tune_gc_for_bulk_work"]


def tune_gc_for_bulk_work() -> None:
    """For a process that does nothing but import: everything loaded so far (SQLAlchemy, models, clients) is moved
    out of the collector's sight, and collections run less often. A full collection over a few hundred thousand
    long-lived objects stalls the event loop for 100+ ms, and every stall delays requests the rate budget paid for."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


@dataclass
class ImportReport:
    channel_id: int
    run_id: int
    status: str
    conversations: int
    conversations_total: int | None
    messages: int  # messages this import stored, over all its runs
    messages_this_run: int
    seconds: float
    failed_conversations: int = 0
    errors: list[str] = field(default_factory=list)
    write_seconds: float = 0.0  # spent in database transactions
    requests: int = 0  # API requests this run made

    def as_dict(self) -> dict:
        return {"channel_id": self.channel_id, "run_id": self.run_id, "status": self.status,
                "conversations": self.conversations, "conversations_total": self.conversations_total,
                "messages": self.messages, "messages_this_run": self.messages_this_run,
                "seconds": round(self.seconds, 3), "failed_conversations": self.failed_conversations}


class _ImportLock:
    """One import per channel at a time, across processes: a session-level advisory lock, which PostgreSQL releases
    by itself when the process dies (kill -9 included)."""

    def __init__(self, db: Database, channel_id: int):
        self.db = db
        self.channel_id = channel_id
        self.key = zlib.crc32(f"salesop-import:{channel_id}".encode())
        self.conn = None

    async def acquire(self) -> None:
        self.conn = await self.db.engine.connect()
        try:
            got = (await self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})).scalar_one()
            await self.conn.commit()
        except BaseException:  # cancelled or failed half-way: whether or not the lock was taken, drop the session
            await asyncio.shield(self._drop())
            raise
        if not got:
            await self.conn.close()
            raise Conflict(f"an import of channel {self.channel_id} is already running")

    async def release(self) -> None:
        # The connection goes back to the pool: the lock must not go with it.
        try:
            await self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            await self.conn.commit()
            await self.conn.close()
        except BaseException:
            await self._drop()
            raise

    async def _drop(self) -> None:
        """Close the database session itself: PostgreSQL releases its advisory locks with it."""
        await self.conn.invalidate()
        await self.conn.close()


async def run_import(db: Database, secrets: SecretBox, settings: Settings, channel_id: int, *,
                     progress: bool = True, telegram_client_factory=None, workers: int | None = None,
                     lease_timings: LeaseTimings | None = None) -> ImportReport:
    """Import (or resume importing) the history of one channel. Raises ImportStopped with a person-readable reason
    when the channel needs attention; the checkpoint is kept either way."""
    started = time.monotonic()
    async with db.unit_of_work() as session:
        channel = await channel_service.get_channel(session, channel_id)
        credentials = channel_service.credentials(secrets, channel)
    lock = _ImportLock(db, channel_id)
    await lock.acquire()
    try:
        timings = lease_timings or LeaseTimings().scaled(settings.time_scale)
        return await _under_lease(db, timings, channel_id, lambda: _import_locked(
            db, settings, channel, credentials, started, progress=progress,
            telegram_client_factory=telegram_client_factory, workers=workers, secrets=secrets))
    finally:
        await asyncio.shield(lock.release())


class LeaseLost(Conflict):
    """The import's lease went to another process: this one stopped at once (the checkpoint is kept)."""


async def _under_lease(db: Database, timings: LeaseTimings, channel_id: int, work):
    """Run `work()` holding the channel's import lease, renewed every heartbeat; lost, the import is cancelled at once.
    Taken by force: holding the advisory lock proves that whoever held the lease before is gone."""
    leases = Leases(db, timings)
    name = import_lease(channel_id)
    await leases.acquire(name, force=True)
    task = asyncio.ensure_future(work())

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(leases.timings.heartbeat)
            if name in await leases.renew():
                task.cancel()
                return

    beating = asyncio.create_task(heartbeat(), name=f"import-lease-{channel_id}")
    try:
        return await task
    except asyncio.CancelledError:
        if beating.done() and not beating.cancelled() and not leases.holds(name):
            raise LeaseLost(f"the import of channel {channel_id} lost its lease to another process") from None
        raise
    finally:
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await asyncio.shield(leases.release_all())


async def _import_locked(db: Database, settings: Settings, channel, credentials: str, started: float, *,
                         progress: bool, telegram_client_factory, workers: int | None,
                         secrets: SecretBox) -> ImportReport:
    channel_id = channel.id
    adapter = ADAPTERS.get(channel.kind)  # the kind's own import (userbots/channels), or UnknownChannelKind
    checkpoint = await Checkpoint.open(db, channel_id)
    try:
        done = await adapter.import_history(ImportJob(
            db, settings, secrets, channel, credentials, checkpoint, progress=progress, workers=workers,
            telegram_client_factory=telegram_client_factory))
    except ImportStopped as exc:
        await checkpoint.finish(ImportStatus.PAUSED, str(exc))
        raise
    except (asyncio.CancelledError, KeyboardInterrupt):
        await asyncio.shield(checkpoint.finish(ImportStatus.PAUSED, "stopped"))
        raise
    except Exception as exc:
        await checkpoint.finish(ImportStatus.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    failed = checkpoint.cursor.get("failed") or {}
    error = "; ".join(t("channel.import_conversation_failed", peer=peer, error=err)
                      for peer, err in list(failed.items())[:20]) or None
    await checkpoint.finish(ImportStatus.DONE, error)
    row = await checkpoint.row()
    return ImportReport(
        channel_id=channel_id, run_id=checkpoint.run_id, status=row.status.value,
        conversations=row.conversations_done, conversations_total=row.conversations_total,
        messages=row.messages_done, messages_this_run=done.messages_this_run,
        seconds=time.monotonic() - started, failed_conversations=int(checkpoint.cursor.get("failed_count") or 0),
        errors=[f"{p}: {e}" for p, e in failed.items()], write_seconds=done.write_seconds, requests=done.requests,
    )
