""""typing…" while an automatic reply waits out its human-like delay (a send of a kind flagged `typing`, queued by
the AI, not_before still ahead), when the tenant wants it (Tenant.typing_indicator): the channel gateway is asked
again every `typing_refresh` seconds of the channel's kind (core.channels), since channels show it only that long,
until the send leaves or the reply is cancelled (then it is taken away where the channel can). Each refresh takes a
token of the channel's budget like any call to it, and one refresh per dialog and interval is shared by all
dispatcher processes (a limiter key of its own). Best effort: a typing call that fails or finds no token is skipped,
never holds up or fails the send, and a send waits for a typing call of its dialog still on the way."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from sqlalchemy import select

from ..models import ChannelAccount, CommandOrigin, CommandState, Dialog, OutboxCommand, Tenant
from ..ports import DeliveryError
from ..ratelimit import destination_budget
from .base import DispatcherState

log = logging.getLogger("core.dispatcher")

TYPING_ROUND = 0.5  # real seconds between two looks for replies in their delay window
TYPING_MARGIN = timedelta(seconds=0.5)  # no refresh this close to the send: it could arrive after the message
TYPING_LIMIT = 200  # replies looked at per round, the soonest due first
TYPING_TIMEOUT = 5.0


def typing_key(destination: str, dialog_id: int) -> str:
    return f"{destination}:typing:{dialog_id}"


class TypingIndicator(DispatcherState):
    _last_typing_round: float
    _typing: dict[int, tuple]  # command id → its typing row, for replies this process shows typing for
    _typing_cooling: dict[str, float]  # destination → monotonic time typing may go there again

    async def _typing_round(self) -> None:
        """Show "typing…" for automatic replies in their delay window, at most every TYPING_ROUND seconds."""
        mono = time.monotonic()
        if mono - self._last_typing_round < TYPING_ROUND:
            return
        self._last_typing_round = mono
        typing = getattr(self.gateway(), "typing", None)
        if typing is None:
            return
        try:
            await self._typing_step(typing, mono)
        except Exception:
            log.warning("typing round failed", exc_info=True)  # best effort: the sends go on regardless

    async def _typing_step(self, typing, mono: float) -> None:
        now = self.clock.now()
        c = OutboxCommand
        async with self.db.unit_of_work() as session:
            rows = (await session.execute(
                select(c.id, c.destination, c.dialog_id, Dialog.channel_id, Dialog.external_chat_id,
                       ChannelAccount.kind)
                .join(Dialog, Dialog.id == c.dialog_id)
                .join(Tenant, Tenant.id == Dialog.tenant_id)
                .join(ChannelAccount, ChannelAccount.id == Dialog.channel_id)
                .where(c.kind.in_(self._typing_kinds), c.state == CommandState.QUEUED, c.origin == CommandOrigin.AI,
                       c.attempts == 0, c.not_before > now + TYPING_MARGIN, Tenant.typing_indicator.is_(True))
                .order_by(c.not_before, c.id)
                .limit(TYPING_LIMIT)
            )).all()
            gone = [i for i in self._typing if i not in {row.id for row in rows}]
            cancelled = set((await session.execute(
                select(c.id).where(c.id.in_(gone), c.state == CommandState.CANCELLED)
            )).scalars()) if gone else set()
        for command_id in gone:
            row = self._typing.pop(command_id)
            if command_id in cancelled:  # the reply will not come: take "typing…" away where the channel can
                self._start_typing(typing, row, stop=True)
        self._typing_cooling = {d: due for d, due in self._typing_cooling.items() if due > mono}
        for row in rows:
            if row.destination in self._typing_cooling or row.dialog_id in self._typing_calls:
                continue
            channel = self.channels.get(row.kind)  # its kind's definition: how often, within which budget
            if not channel.typing:
                continue
            refresh = channel.typing_budget
            key = typing_key(row.destination, row.dialog_id)
            if await self.limiter.try_acquire(key, refresh) > 0:
                continue  # shown recently enough (by this process or another)
            budget = destination_budget(row.destination, channel)
            if await self.limiter.try_acquire(row.destination, budget) > 0:
                await self.limiter.refund(key, refresh)  # no token for the channel now: next round
                continue
            self._typing[row.id] = row
            self._start_typing(typing, row)

    def _start_typing(self, typing, row, *, stop: bool = False) -> None:
        task = asyncio.create_task(self._type(typing, row, stop))
        self._typing_calls[row.dialog_id] = task

        def forget(done: asyncio.Task) -> None:
            if self._typing_calls.get(row.dialog_id) is done:
                del self._typing_calls[row.dialog_id]

        task.add_done_callback(forget)

    async def _type(self, typing, row, stop: bool) -> None:
        try:
            await asyncio.wait_for(typing(row.channel_id, row.external_chat_id, stop=stop), TYPING_TIMEOUT)
            if not stop:
                self.stats.typing += 1
        except DeliveryError as error:
            if error.retry_after:
                self._typing_cooling[row.destination] = time.monotonic() + error.retry_after
            log.debug("typing in dialog %s: %s", row.dialog_id, error.reason)
        except Exception as exc:
            log.debug("typing in dialog %s: %s: %s", row.dialog_id, type(exc).__name__, exc)

    async def _typing_settled(self, dialog_id: int | None) -> None:
        """A send waits for its dialog's typing call still on the way, so "typing…" never lands after it."""
        call = self._typing_calls.get(dialog_id) if dialog_id is not None else None
        if call is not None:
            await asyncio.wait([call], timeout=TYPING_TIMEOUT)
