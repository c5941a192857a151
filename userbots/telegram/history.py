"""Telegram account history import: private dialogs newest first, every message, through a takeout session when
Telegram grants one (bulk export with gentler flood limits), else the normal client.

The checkpoint counts dialogs of the listing already written; a dialog is written in parts as it is read and its
step of the checkpoint goes in with its last part. A catch-up pass re-reads what became active since the start.
Telethon reads 100 messages per request and sleeps through short flood waits itself; a longer FloodWait is shown
on the channel, waited out, and the dialog read again (its stored messages are skipped) — or, when the dialog list
itself was refused, the listing is run again from the start (dialogs already written are skipped). Each wait is
counted in the checkpoint (`flood_waits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from telethon import errors

from core.db import Database
from core.inbox import home_channel_id
from core.models import ChannelAccount
from core.settings import Settings

from ..bulk import ConversationHistory, write_history
from ..checkpoint import CATCHUP_SLACK, Checkpoint, ImportStopped, Progress, with_deadlock_retry
from ..texts import t
from .adapter import is_customer, sender_of, to_inbound
from .client import REVOKED_ERRORS, show_active, show_flood, show_revoked

log = logging.getLogger(__name__)

PART = 2_000  # messages per write while reading a long dialog


class TelegramImporter:
    def __init__(self, db: Database, settings: Settings, channel: ChannelAccount, client_factory,
                 checkpoint: Checkpoint, *, progress: bool = True):
        self.db = db
        self.settings = settings
        self.channel = channel
        self.home: ChannelAccount | None = None  # whose customers and dialogs the history goes into (_write)
        self.client_factory = client_factory
        self.checkpoint = checkpoint
        self.progress_enabled = progress
        self.messages_this_run = 0
        self.write_seconds = 0.0
        self.used_takeout = False
        self.progress: Progress | None = None

    @property
    def cursor(self) -> dict:
        return self.checkpoint.cursor

    async def run(self) -> None:
        client = await self.client_factory.client_for(self.channel.id, updates=False)
        progress = self.progress = Progress(self.progress_enabled, self.checkpoint.total, self.checkpoint.done,
                                            f"import telegram {self.channel.external_id}")
        try:
            if not await client.is_user_authorized():
                await show_revoked(self.db, self.channel.id)
                raise ImportStopped(t("channel.tg_session_revoked"))
            async with self._source(client) as source:
                if self.cursor.get("phase", "list") == "list":
                    await self._pass_through_floods(source, progress, since=None)
                    self.cursor.update(phase="catchup", offset=0)
                    await self.checkpoint.save_now()
                if self.cursor["phase"] == "catchup":
                    await self._pass_through_floods(source, progress,
                                                    since=int(self.cursor["started_at"]) - CATCHUP_SLACK)
                    self.cursor.update(phase="done")
        except REVOKED_ERRORS:
            await show_revoked(self.db, self.channel.id)
            raise ImportStopped(t("channel.tg_session_revoked")) from None
        finally:
            progress.close()
            await client.disconnect()

    @contextlib.asynccontextmanager
    async def _source(self, client):
        """A takeout session if Telegram allows one now; otherwise the client itself."""
        try:
            takeout = client.takeout(finalize=True, users=True, contacts=False, chats=False, megagroups=False,
                                     channels=False, files=False)
            source = await takeout.__aenter__()
        except (errors.TakeoutInitDelayError, errors.TakeoutInvalidError) as exc:
            log.info("no takeout session for channel %s (%s): importing with the normal client",
                     self.channel.id, type(exc).__name__)
            yield client
            return
        self.used_takeout = True
        failed = None
        try:
            yield source
        except BaseException as exc:
            failed = exc
            raise
        finally:
            await takeout.__aexit__(type(failed) if failed else None, failed, failed.__traceback__ if failed else None)

    async def _wait_out(self, exc: errors.FloodWaitError) -> None:
        self.cursor["flood_waits"] = self.cursor.get("flood_waits", 0) + 1
        await show_flood(self.db, self.channel.id, exc.seconds)
        await asyncio.sleep(exc.seconds / self.settings.time_scale)
        await show_active(self.db, self.channel.id)

    async def _pass_through_floods(self, source, progress: Progress, *, since: int | None) -> None:
        while True:
            try:
                return await self._pass(source, progress, since=since)
            except errors.FloodWaitError as exc:  # messages.getDialogs refused: list again from the cursor
                await self._wait_out(exc)

    async def _pass(self, source, progress: Progress, *, since: int | None) -> None:
        start = int(self.cursor.get("offset", 0))
        dialogs = source.iter_dialogs()
        position = 0
        async for dialog in dialogs:
            if since is None and getattr(dialogs, "total", None):
                self.checkpoint.total = dialogs.total
                progress.set_total(dialogs.total)
            date = dialog.date.timestamp() if dialog.date else 0
            if since is not None and date < since:
                break  # the listing is newest first: nothing older was touched since the import started
            if position < start:
                position += 1
                continue
            if dialog.is_user and is_customer(dialog.entity):
                await self._dialog(source, dialog, position, since)
            else:
                await self._advance(position + 1, since is None, progress)
            position += 1

    async def _dialog(self, source, dialog, position: int, since: int | None) -> None:
        while True:
            try:
                await self._read_dialog(source, dialog, position, since)
                return
            except errors.FloodWaitError as exc:
                await self._wait_out(exc)

    async def _read_dialog(self, source, dialog, position: int, since: int | None) -> None:
        user = dialog.entity
        sender = sender_of(user, user.id)
        read_max = getattr(dialog.dialog, "read_inbox_max_id", 0) or 0
        part = []
        async for message in source.iter_messages(user):
            if since is not None and message.date and message.date.timestamp() < since:
                break
            inbound = to_inbound(self.channel.id, message, user)
            if inbound is not None:
                part.append(inbound)
            if len(part) >= PART:
                await self._write(ConversationHistory(str(user.id), sender, part[::-1], read_max), None, False)
                part = []
        await self._write(ConversationHistory(str(user.id), sender, part[::-1], read_max), position + 1,
                          since is None)

    async def _advance(self, offset: int, listing: bool, progress: Progress) -> None:
        self.cursor["offset"] = offset
        if listing:
            async with self.db.unit_of_work() as session:
                await self.checkpoint.save(session, inserted=0, done=offset, total=self.checkpoint.total)
            self.checkpoint.committed(0, offset)
            progress.advance_to(offset, self.checkpoint.messages)

    async def _write(self, history: ConversationHistory, offset: int | None, listing: bool) -> None:
        previous = self.cursor.get("offset")
        if self.home is None:
            # the account's home channel (core.inbox.home_of), looked up once: when the same account is connected
            # as a Telegram Business channel too, the import fills the dialogs that channel already has
            async with self.db.unit_of_work() as session:
                home_id = await home_channel_id(session, self.channel.id)
                self.home = self.channel if home_id == self.channel.id else await session.get(ChannelAccount,
                                                                                              home_id)

        async def transaction():
            async with self.db.unit_of_work() as session:
                result = await write_history(session, self.home, [history])
                if offset is not None:
                    self.cursor["offset"] = offset
                await self.checkpoint.save(session, inserted=result.messages, done=offset if listing else None,
                                           total=self.checkpoint.total)
                return result

        began = time.perf_counter()
        try:
            result = await with_deadlock_retry(transaction)
        except BaseException:
            self.cursor["offset"] = previous
            raise
        finally:
            self.write_seconds += time.perf_counter() - began
        self.checkpoint.committed(result.messages, offset if listing else None)
        self.messages_this_run += result.messages
        if self.progress is not None:
            self.progress.advance_to(offset if listing else None, self.checkpoint.messages)
