"""What every history import shares: the checkpoint row, the progress bar, the channel's visible state, and the
retry of a bulk write that lost a deadlock to a live message."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from tqdm import tqdm

from core.db import Database
from core.errors import UserError
from core.models import ChannelStatus, ImportRun, ImportStatus
from core.services import channels as channel_service

CATCHUP_SLACK = 300  # seconds: conversations active this long before the import started are re-read at the end
MAX_FAILED_KEPT = 5_000  # failed conversations listed (and retried) in the checkpoint; the count is always exact


class ImportStopped(UserError):
    """The import cannot go on now (revoked token, captcha, long flood); its checkpoint is kept for the next run."""


class Progress:
    """done/total, rate and ETA on stderr (tqdm); silent when disabled."""

    def __init__(self, enabled: bool, total: int | None, initial: int, title: str):
        self.bar = tqdm(total=total, initial=initial, unit=" conv", desc=title, file=sys.stderr,
                        disable=not enabled, dynamic_ncols=True, mininterval=0.5, smoothing=0.1)
        self.messages = 0

    def set_total(self, total: int) -> None:
        if self.bar.total != total:
            self.bar.total = total
            self.bar.refresh()

    def advance_to(self, done: int | None, messages: int) -> None:
        self.messages = messages
        if done is not None and done > self.bar.n:
            self.bar.update(done - self.bar.n)
        self.bar.set_postfix_str(f"{messages:,} msgs".replace(",", " "), refresh=False)

    def close(self) -> None:
        self.bar.close()


class Checkpoint:
    """The ImportRun row of one channel's import. `cursor` is written inside the transactions that store the
    messages it covers, so it never claims more than the database holds."""

    def __init__(self, db: Database, run_id: int, cursor: dict, messages: int, done: int, total: int | None):
        self.db = db
        self.run_id = run_id
        self.cursor = cursor
        self.messages = messages
        self.done = done
        self.total = total

    @classmethod
    async def open(cls, db: Database, channel_id: int) -> Checkpoint:
        """The unfinished import of this channel, or a new one. A finished import is never resumed: a new run
        starts, and everything it finds already stored is skipped."""
        async with db.unit_of_work() as session:
            run = (await session.execute(
                select(ImportRun).where(ImportRun.channel_id == channel_id).order_by(ImportRun.id.desc()).limit(1)
            )).scalar_one_or_none()
            now = datetime.now(UTC)
            if run is None or run.status == ImportStatus.DONE:
                run = ImportRun(channel_id=channel_id, status=ImportStatus.RUNNING, started_at=now,
                                cursor={"phase": "list", "offset": 0, "started_at": int(now.timestamp()),
                                        "failed": {}, "failed_count": 0},
                                conversations_done=0, messages_done=0)
                session.add(run)
            else:
                run.status = ImportStatus.RUNNING
                run.error = None
            await session.flush()
            return cls(db, run.id, dict(run.cursor), run.messages_done, run.conversations_done,
                       run.conversations_total)

    async def save(self, session, *, inserted: int, done: int | None = None, total: int | None = None) -> None:
        """Write the cursor and counters inside the caller's transaction; call `committed` once it commits."""
        values: dict[str, Any] = {"cursor": self.cursor, "messages_done": ImportRun.messages_done + inserted}
        if done is not None:
            values["conversations_done"] = done
        if total is not None:
            values["conversations_total"] = total
        await session.execute(update(ImportRun).where(ImportRun.id == self.run_id).values(**values))

    def committed(self, inserted: int, done: int | None = None, total: int | None = None) -> None:
        self.messages += inserted
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total

    def note_failed(self, failed: dict[str, str]) -> None:
        """Conversations the channel refused alone: counted exactly, the first few kept with their reason."""
        kept = self.cursor.setdefault("failed", {})
        for peer, error in failed.items():
            if peer not in kept:
                self.cursor["failed_count"] = self.cursor.get("failed_count", 0) + 1
                if len(kept) < MAX_FAILED_KEPT:
                    kept[peer] = error

    def note_recovered(self, peers: list[str]) -> None:
        """Conversations that failed before and are stored now leave the failed list."""
        kept = self.cursor.setdefault("failed", {})
        for peer in peers:
            if kept.pop(peer, None) is not None:
                self.cursor["failed_count"] = max(0, self.cursor.get("failed_count", 0) - 1)

    async def save_now(self) -> None:
        async with self.db.unit_of_work() as session:
            await self.save(session, inserted=0)

    async def finish(self, status: ImportStatus, error: str | None = None) -> None:
        async with self.db.unit_of_work() as session:
            values: dict[str, Any] = {"status": status, "error": error, "cursor": self.cursor}
            if status == ImportStatus.DONE:
                values["finished_at"] = datetime.now(UTC)
            await session.execute(update(ImportRun).where(ImportRun.id == self.run_id).values(**values))

    async def row(self) -> ImportRun:
        async with self.db.unit_of_work() as session:
            return await session.get(ImportRun, self.run_id)


async def with_deadlock_retry(fn: Callable[[], Awaitable[Any]], attempts: int = 5) -> Any:
    """A bulk write and a live message creating the same new customer can deadlock; PostgreSQL aborts one of them
    and the transaction is simply run again (everything in it is idempotent)."""
    for attempt in range(attempts):
        try:
            return await fn()
        except DBAPIError as exc:
            if "deadlock" not in str(exc).lower() or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))


class ChannelState:
    """Puts what a person should know on the channel row (flood wait, captcha), and clears it once work resumes."""

    def __init__(self, db: Database, channel_id: int):
        self.db = db
        self.channel_id = channel_id
        self.degraded = False

    async def trouble(self, status: ChannelStatus, detail: str, wait_seconds: float | None = None) -> None:
        self.degraded = True
        until = datetime.now(UTC) + timedelta(seconds=wait_seconds) if wait_seconds else None
        async with self.db.unit_of_work() as session:
            await channel_service.set_status(session, self.channel_id, status, detail, flood_until=until)

    async def healthy(self) -> None:
        if self.degraded:
            self.degraded = False
            async with self.db.unit_of_work() as session:
                await channel_service.set_status(session, self.channel_id, ChannelStatus.ACTIVE, None)
