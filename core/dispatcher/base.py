"""What the dispatcher's parts share: the state one dispatcher keeps, a claimed batch, its counters, the wake-up
NOTIFY, and the channel kinds it asks (core.channels.CHANNEL_KINDS: budgets, typing refresh, keyed sends)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ..channels import ChannelKinds, ChannelTraits
from ..commands import Executor, GatewayProvider, SurfaceProvider
from ..db import Database
from ..models import ChannelAccount, CommandState, OutboxCommand
from ..ports import Clock
from ..ratelimit import Budget, RateLimiter

OPEN_STATES = (CommandState.APPROVED, CommandState.QUEUED, CommandState.IN_FLIGHT)
# PostgreSQL NOTIFY channel: a transaction that queued commands says so, and every dispatcher listening wakes up at
# its commit — also in other processes (task workers, the Mini App), without waiting for the next poll.
NOTIFY_CHANNEL = "salesop_outbox"
# Set in a command's result, alone in one statement, the moment the far side answered: what it answered is durable
# before the rest of the record (bookkeeping, several statements) is written. A command left in flight with it is
# completed from it by whoever recovers the lease, never sent again.
DELIVERED = "delivered"


async def notify(session: AsyncSession) -> None:
    """Wake the dispatchers when this transaction commits (NOTIFY is delivered on commit, dropped on rollback)."""
    await session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))


@dataclass
class Batch:
    commands: list  # claimed rows (id, kind, destination, dialog_id, payload), head first
    budget: Budget
    took_token: bool

    @property
    def destination(self) -> str:
        return self.commands[0].destination

    @property
    def ids(self) -> list[int]:
        return [c.id for c in self.commands]


@dataclass
class DispatcherStats:
    executed: int = 0  # batches that made a call
    commands: int = 0  # commands completed (coalesced ones included)
    skipped: int = 0
    retried: int = 0
    failed: int = 0
    held: int = 0  # batches refused for a cause people can fix: parked or moved to another group, not failed
    rate_limited: int = 0  # "retry after" answers received
    elsewhere: int = 0  # sends left to the process running their channel (ELSEWHERE_CODES)
    typing: int = 0  # "typing…" shown to customers (calls that succeeded)
    record_retries: int = 0  # records of outcomes retried (the database failed under them)
    recovered: int = 0  # commands of a dead process taken again
    unconfirmed: int = 0  # … of which their call may have gone out (sent again: a possible duplicate)
    api_calls: dict[str, int] = field(default_factory=dict)  # per destination


class DispatcherState:
    """The state the parts of one dispatcher share (set up by core.dispatcher.loop.Dispatcher), and the channel
    kind of a channel destination, asked of the registry."""

    db: Database
    limiter: RateLimiter
    executor: Executor
    channels: ChannelKinds  # the channel kinds' definitions (core.channels)
    clock: Clock
    surface: SurfaceProvider
    gateway: GatewayProvider
    call_timeout: float
    lease: timedelta
    stats: DispatcherStats
    _coalescing: frozenset[str]
    _typing_kinds: frozenset[str]
    _repeatable_kinds: frozenset[str]
    _cooling: dict[str, float]  # destination → monotonic time its next token is due
    _channel_traits: dict[int, ChannelTraits | None]  # channel id → its kind's definition (None: the channel is gone)
    _executing: set[int]  # ids of the commands this process is executing (it renews their lease)
    _stages: dict[int, tuple[str, float]]  # batch head id → (stage, since): a stuck one is logged
    _typing_calls: dict[int, asyncio.Task]  # dialog id → its typing call on the way

    def wake(self) -> None:
        raise NotImplementedError

    async def _channel(self, session, channel_id: int) -> ChannelTraits | None:
        """The definition of a channel's kind (core.channels), looked up once per channel; None when it is gone."""
        if channel_id not in self._channel_traits:
            kind = (await session.execute(
                select(ChannelAccount.kind).where(ChannelAccount.id == channel_id)
            )).scalar_one_or_none()
            self._channel_traits[channel_id] = None if kind is None else self.channels.get(kind)
        return self._channel_traits[channel_id]

    async def _reload(self, session, batch: Batch, *, lock: bool = False) -> list[OutboxCommand]:
        query = select(OutboxCommand).where(OutboxCommand.id.in_(batch.ids))
        if lock:
            query = query.order_by(OutboxCommand.id).with_for_update()
        rows = {c.id: c for c in (await session.execute(query)).scalars()}
        return [rows[i] for i in batch.ids if i in rows]
