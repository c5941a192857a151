"""Live events from any userbot into core.inbox: one unit of work per event, deduplicated by the platform's event id,
follow-up tasks (mirror to the manager topic, draft a reply) enqueued only after the commit.

A replayed event (VK re-sends after a reconnect, Telethon catches up after a restart) finds its key in
processed_updates and changes nothing; a message that also arrives through history import or gap fill is skipped by
the inbox's own (dialog, message id) key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import inbox
from core.db import Database
from core.inbox import InboundMessage
from core.models import Dialog, Direction, Message, ProcessedUpdate
from core.ports import TaskQueue

from .checkpoint import with_deadlock_retry

log = logging.getLogger(__name__)


class LiveIngest:
    def __init__(self, db: Database, queue: TaskQueue):
        self.db = db
        self.queue = queue

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

    async def message(self, msg: InboundMessage, *, dedup: tuple[str, str] | None = None) -> inbox.Received | None:
        return await self._run(dedup, lambda session: inbox.receive(session, msg))

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
                select(Dialog.id).where(Dialog.channel_id == channel_id, Dialog.external_chat_id == chat_id)
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
