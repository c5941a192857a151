"""The dispatcher: executes outbox commands within every destination's rate budget.

One loop per process claims commands, any number of processes may run it side by side:

- Lanes. Commands of one dialog to one destination form a lane and run strictly one after another, in id order
  (a topic is created before its first post, the customer's messages appear in the order written). Only a lane's
  head can be claimed: a command with an earlier open one (queued, approved, in flight) in its lane waits.
- Budgets. A lane head is claimed only when its destination has a token (core.ratelimit): ≤20 messages a minute per
  manager group, ≤1/s per private chat, ≤30/s for the bot, 20/s per VK community token... Destinations without a
  token are left alone until their next token is due, so nothing waits "in flight" and the budget stays saturated.
  The send itself is paced once more with the same budget at the moment it leaves, so that commands delayed between
  claim and send (a slow render, a busy process) do not arrive bunched up.
- Coalescing. When a lane's head is of a kind flagged `coalescing` (core.commands.CommandKind), the commands behind
  it that its kind admits go out in the same call: a backlog of mirrored text messages as one post, album parts as
  one sendMediaGroup, repeated card or title refreshes as one edit.
- Far sides. The dispatcher knows no command kind by name: it reads their flags from the registry (Executor.kinds)
  and makes each prepared Call through the ManagerSurface or ChannelGateway its providers return at that moment
  (core.commands: a provider returning None — the bot or the channels not started yet, or not run here — fails the
  call as "no_surface" / "no_gateway", a transient error: tried again with backoff while attempts remain).
- Replicas. A channel whose client runs in another process (a Telegram account's session is held by one replica,
  core.leases) refuses a send here as "elsewhere" (ELSEWHERE_CODES): the command goes back to the queue at once, no
  attempt used, and only this process stays away from that destination for a while, so the holder sends it at its
  next look — never lost, never held back by a shared block.
- Failures. A "retry after" answer requeues the command exactly that much later without using up an attempt and
  closes the destination for as long; 5xx and network errors back off; permanent errors fail the command and the
  failure is shown to people (the kind's record_failure, core.commands.CommandKind).
- Typing. While an automatic reply waits out its human-like delay (a send of a kind flagged `typing`, queued by the AI,
  not_before still ahead), the customer sees "typing…" in their own chat when the tenant wants it
  (Tenant.typing_indicator): the dispatcher asks the channel gateway (ChannelGateway.typing) again every few seconds,
  since channels show it only that long (TYPING_REFRESH), and stops when the send leaves or the reply is cancelled
  (then taking it away where the channel can). Each refresh takes a token of the channel's budget like any call to
  it, and one refresh per dialog and interval is shared by all dispatcher processes (a limiter key of its own).
  Best effort: a typing call that fails or finds no token is skipped, never holds up or fails the send, and a send
  waits for a typing call of its dialog still on the way, so "typing…" never lands after the message.
- Crashes. A claimed command whose process died is taken again after the lease (core.outbox.lease: LEASE divided by
  the time scale). The process executing a command renews its lease (a heartbeat every quarter lease), so only a
  dead process's commands run out; a process takes nobody's commands until its own database connection has been
  healthy for a whole lease (after a PostgreSQL restart every lease looks expired, while their holders are alive and
  about to record). Customer sends carry their idempotency key to the channel (VK random_id), so a retry never
  reaches the customer twice; a correction or take-back of a delivered reply (core.services.sent_replies) is the
  same when repeated.
- Sent once, recorded for sure. The answer of the far side is kept the moment it comes, in one statement
  (result.delivered); the bookkeeping follows in its own transaction, and a command left in flight with a kept answer
  is recorded from it by whoever recovers it — never sent again. The transaction that prepares a call also marks its
  commands "about to send"
  (OutboxCommand.sending_since) before the call leaves, when a repeat of the call could show twice (a post, a new
  topic, a Bot API send; not an edit, nor a customer send the channel dedups by the command's key: kinds flagged
  `repeatable`, KEYED_CHANNELS). Once the far side answered, recording the outcome is retried
  through database outages (backoff, up to RECORD_PATIENCE) — the call is never made again because its record
  failed. Only a process that dies between the call and the answer's keeping (or a call that got no answer) leaves a command
  that may have arrived: taken again, it is sent again (nothing lost) and counted (unconfirmed_sends, shown by
  /status), since the Bot API takes no idempotency key and a topic post can then show twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import case, exists, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from . import events, outbox
from .commands import (Call, ChannelGateway, Executor, GatewayAction, GatewayProvider, SurfaceProvider,
                       channel_id_of, none_running)
from .db import Database, is_retryable, sqlstate
from .models import ChannelAccount, ChannelKind, CommandOrigin, CommandState, Dialog, OutboxCommand, Tenant
from .ports import Clock, Delivery, DeliveryError
from .ratelimit import BOT_KEY, TELEGRAM_BOT, Budget, RateLimiter, destination_budget, uses_bot

log = logging.getLogger(__name__)

OPEN_STATES = (CommandState.APPROVED, CommandState.QUEUED, CommandState.IN_FLIGHT)
PER_DESTINATION = 5  # lane heads per destination looked at in one claim round
# What claiming needs of a command (plain rows: no ORM objects for the many rows a round looks at).
CLAIM_COLUMNS = (OutboxCommand.id, OutboxCommand.kind, OutboxCommand.destination, OutboxCommand.dialog_id,
                 OutboxCommand.payload)
# PostgreSQL NOTIFY channel: a transaction that queued commands says so, and every dispatcher listening wakes up at
# its commit — also in other processes (task workers, the Mini App), without waiting for the next poll.
NOTIFY_CHANNEL = "salesop_outbox"

# "typing…" while an automatic reply waits out its delay (see the module docstring).
TYPING_ROUND = 0.5  # real seconds between two looks for replies in their delay window
TYPING_MARGIN = timedelta(seconds=0.5)  # no refresh this close to the send: it could arrive after the message
TYPING_LIMIT = 200  # replies looked at per round, the soonest due first
TYPING_TIMEOUT = 5.0
# Seconds (on the channels' clock, like every budget) between two refreshes: VK shows typing for ~10 s after
# messages.setActivity, Telegram for ~5-6 s after messages.setTyping.
TYPING_REFRESH = {ChannelKind.VK_COMMUNITY: 8.0, ChannelKind.VK_USER: 8.0, ChannelKind.TELEGRAM_ACCOUNT: 4.0}

# Recording a call's outcome (or its failure) is retried this long (real seconds) through a database outage, with
# backoff from RECORD_FIRST_DELAY up to RECORD_MAX_DELAY; the process's heartbeat keeps the lease meanwhile.
RECORD_PATIENCE = 600.0
# A record waits this long for a row lock before it gives up and tries again (a lock held by a transaction that is
# itself waiting for this process would otherwise hold the record, and with it the duplicate window, open for good).
RECORD_LOCK_TIMEOUT = "5s"
STUCK_AFTER = 60.0  # real seconds in one stage of a send after which a WARNING says where it is
RECORD_FIRST_DELAY = 0.1
RECORD_MAX_DELAY = 2.0
# Calls whose repeat is harmless, so a death mid-call leaves no possible duplicate (no "about to send" mark): those of
# kinds flagged `repeatable` (edits, pins, reactions and bans land on the same message or member again; corrections
# and take-backs of delivered replies), and customer sends through channels that take the command's key as their own
# dedup key (VK random_id, MTProto random_id: a repeat is refused). Posts, new topics and Telegram Business sends (Bot
# API, no key) are not: a repeat shows twice.
KEYED_CHANNELS = frozenset({ChannelKind.VK_COMMUNITY, ChannelKind.VK_USER, ChannelKind.TELEGRAM_ACCOUNT})
# Refusals meaning "the channel's client runs in another process" (a Telegram account's Telethon session lives in the
# replica holding its lease, core.leases; a process without a bot token cannot send for Telegram Business): no rate
# limit, nothing wrong with the command — it is left to the holder at once, and only this process stays away.
ELSEWHERE_CODES = frozenset({"not_connected", "no_client"})
# Set in a command's result, alone in one statement, the moment the far side answered: what it answered is durable
# before the rest of the record (bookkeeping, several statements) is written. A command left in flight with it is
# completed from it by whoever recovers the lease, never sent again.
DELIVERED = "delivered"
LEASE_LOST = "lease expired: worker lost"
LEASE_LOST_SENDING = "lease expired: worker lost after its call may have gone out"


def typing_key(destination: str, dialog_id: int) -> str:
    return f"{destination}:typing:{dialog_id}"


def sending_key(destination: str) -> str:
    return f"{destination}:sending"


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


class Dispatcher:
    def __init__(
        self,
        db: Database,
        *,
        limiter: RateLimiter,
        executor: Executor,  # the registered command kinds (core.commands; composed in bot/component.py)
        clock: Clock,
        surface: SurfaceProvider = none_running,  # the manager bot's surface running now, or None
        gateway: GatewayProvider = none_running,  # the customers' channel gateway running now, or None
        concurrency: int = 32,
        claim_limit: int = 200,
        poll_interval: float = 0.25,
        call_timeout: float = 30.0,
        time_scale: float = 1.0,
    ):
        self.db = db
        self.limiter = limiter
        self.executor = executor
        # Asked per call, not once: the bot and the channels may start after the dispatcher (components install them).
        self.surface = surface
        self.gateway = gateway
        kinds = executor.kinds
        self._coalescing = kinds.flagged("coalescing")
        self._typing_kinds = kinds.flagged("typing")
        self._repeatable_kinds = kinds.flagged("repeatable")
        self.clock = clock
        self.concurrency = concurrency
        self.claim_limit = claim_limit
        self.poll_interval = poll_interval
        self.call_timeout = call_timeout
        self.lease = outbox.lease(time_scale)
        self.stats = DispatcherStats()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._cooling: dict[str, float] = {}  # destination → monotonic time its next token is due
        self._channel_kinds: dict[int, object] = {}
        self._last_lease_check = 0.0
        self._last_heartbeat = 0.0
        self._executing: set[int] = set()  # ids of the commands this process is executing (it renews their lease)
        self._stages: dict[int, tuple[str, float]] = {}  # batch head id → (stage, since): a stuck one is logged
        self._stuck_told: set[tuple[int, str]] = set()
        self._healthy_since: float | None = None  # monotonic time since the database answered every cycle
        self._last_typing_round = 0.0
        self._typing: dict[int, tuple] = {}  # command id → its typing row, for replies this process shows typing for
        self._typing_calls: dict[int, asyncio.Task] = {}  # dialog id → its typing call on the way
        self._typing_cooling: dict[str, float] = {}  # destination → monotonic time typing may go there again

    # --------------------------------------------------------------------------------------------- control

    def wake(self) -> None:
        """New commands were committed (or a lane freed up): look now instead of at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        listening = await self._listen()
        try:
            while not stop.is_set():
                try:
                    delay = await self._cycle()
                except Exception as exc:
                    if self._healthy_since is not None:
                        log.warning("dispatcher cycle failed: %s: %s", type(exc).__name__, exc,
                                    exc_info=log.isEnabledFor(logging.DEBUG))
                    self._healthy_since = None
                    delay = 1.0
                if delay > 0:
                    await self._sleep(delay, stop)
            await self._finish()
        finally:
            if listening is not None:
                with contextlib.suppress(Exception):
                    await listening.close()

    async def _listen(self):
        """LISTEN on the outbox channel with a connection of our own; polling still covers anything missed."""
        try:
            connection = await self.db.engine.connect()
            raw = (await connection.get_raw_connection()).driver_connection
            await raw.add_listener(NOTIFY_CHANNEL, lambda *_: self.wake())
            return connection
        except Exception:
            log.warning("no LISTEN on %s: the dispatcher polls only", NOTIFY_CHANNEL, exc_info=True)
            return None

    async def drain(self, timeout: float = 60.0, horizon: float = 5.0) -> None:
        """Run until no command is due within `horizon` seconds and nothing is in flight (tests, demos, benches)."""
        deadline = time.monotonic() + timeout
        while True:
            delay = await self._cycle()
            if delay == 0:
                continue
            if not self._tasks and not await self._anything_due(horizon):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the outbox did not drain in time")
            await self._sleep(delay, None)

    async def _sleep(self, delay: float, stop: asyncio.Event | None) -> None:
        waiters = [asyncio.ensure_future(self._wake.wait())]
        if stop is not None:
            waiters.append(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        self._wake.clear()

    async def _finish(self) -> None:
        pending = [*self._tasks, *self._typing_calls.values()]
        if pending:
            # A call may be followed by its record retried through a database outage: give that time too.
            await asyncio.wait(pending, timeout=2 * self.call_timeout)

    async def _anything_due(self, horizon: float) -> bool:
        now = self.clock.now()
        due_by = now + timedelta(seconds=horizon)
        # A command behind one in its lane that is not due (e.g. parked until its manager group is fixed) waits too.
        earlier = aliased(OutboxCommand)
        lane_waits = exists().where(
            earlier.dialog_id == OutboxCommand.dialog_id, earlier.destination == OutboxCommand.destination,
            earlier.id < OutboxCommand.id, earlier.state.in_(outbox.RUNNABLE), earlier.not_before > due_by,
        )
        async with self.db.unit_of_work() as session:
            found = (await session.execute(
                select(OutboxCommand.id).where(
                    (OutboxCommand.state.in_(outbox.RUNNABLE) & (OutboxCommand.not_before <= due_by) & ~lane_waits)
                    | (OutboxCommand.state == CommandState.IN_FLIGHT)
                ).limit(1)
            )).first()
        return found is not None

    # --------------------------------------------------------------------------------------------- claiming

    async def _cycle(self) -> float:
        """One claim round. Returns 0 to go on at once, else how long to wait for the next token or poll."""
        await self._heartbeat()
        if self._healthy_since is None:
            self._healthy_since = time.monotonic()
        await self._recover_leases()
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return self.poll_interval
        batches = await self._claim(free)
        for batch in batches:
            self._executing.update(batch.ids)
            task = asyncio.create_task(self._execute(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await self._typing_round()
        if batches:
            return 0.0
        now = time.monotonic()
        cooling = [due - now for due in self._cooling.values() if due > now]
        return max(0.001, min([self.poll_interval, *cooling]))

    async def _budget(self, session, destination: str) -> Budget:
        channel_id = channel_id_of(destination)
        if channel_id is None:
            return destination_budget(destination)
        if channel_id not in self._channel_kinds:
            self._channel_kinds[channel_id] = (await session.execute(
                select(ChannelAccount.kind).where(ChannelAccount.id == channel_id)
            )).scalar_one_or_none()
        return destination_budget(destination, self._channel_kinds[channel_id])

    async def _claim(self, limit: int) -> list[Batch]:
        now = self.clock.now()
        mono = time.monotonic()
        self._cooling = {d: due for d, due in self._cooling.items() if due > mono}
        earlier = aliased(OutboxCommand)
        c = OutboxCommand
        blocked_lane = exists().where(
            earlier.dialog_id == c.dialog_id, earlier.destination == c.destination, earlier.id < c.id,
            earlier.state.in_(OPEN_STATES),
        )
        heads = (
            select(c.id, func.row_number().over(partition_by=c.destination, order_by=c.id).label("rank"))
            .where(c.state.in_(outbox.RUNNABLE), c.not_before <= now, ~blocked_lane)
        )
        if self._cooling:
            heads = heads.where(c.destination.not_in(list(self._cooling)))
        heads = heads.subquery()
        # A few lane heads per destination are enough for one round (a budget rarely has more tokens at once), so a
        # group with hundreds of waiting dialogs does not cost hundreds of rows per round.
        query = (
            select(*CLAIM_COLUMNS)
            .where(c.id.in_(select(heads.c.id).where(heads.c.rank <= PER_DESTINATION)))
            .order_by(c.id)
            .limit(self.claim_limit)
            .with_for_update(skip_locked=True, of=OutboxCommand)
        )
        batches: list[Batch] = []
        async with self.db.unit_of_work() as session:
            rows = (await session.execute(query)).all()
            denied: set[str] = set()
            for head in rows:
                if len(batches) >= limit:
                    break
                if head.destination in denied:
                    continue
                budget = await self._budget(session, head.destination)
                took = False
                if self.executor.counts_as_message(head.kind):
                    wait = await self.limiter.try_acquire(head.destination, budget)
                    if wait > 0:
                        denied.add(head.destination)
                        self._cooling[head.destination] = mono + wait
                        continue
                    took = True
                batches.append(Batch([head, *await self._followers(session, head, now)], budget, took))
            if batches:
                await session.execute(
                    update(OutboxCommand)
                    .where(OutboxCommand.id.in_([i for batch in batches for i in batch.ids]))
                    .values(state=CommandState.IN_FLIGHT, attempts=OutboxCommand.attempts + 1, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
        return batches

    async def _followers(self, session, head, now) -> list:
        """Commands right behind the head in its lane that can go out in the same call."""
        if head.dialog_id is None or head.kind not in self._coalescing:
            return []
        behind = (await session.execute(
            select(*CLAIM_COLUMNS, OutboxCommand.state, OutboxCommand.not_before)
            .where(OutboxCommand.dialog_id == head.dialog_id, OutboxCommand.destination == head.destination,
                   OutboxCommand.id > head.id, OutboxCommand.state.in_(OPEN_STATES))
            .order_by(OutboxCommand.id)
            .limit(60)
            .with_for_update(skip_locked=True, of=OutboxCommand)
        )).all()
        batch = [head]
        for command in behind:
            if command.state not in outbox.RUNNABLE or command.not_before > now:
                break
            if not self.executor.coalesces(batch, command):
                break
            batch.append(command)
        return batch[1:]

    async def _heartbeat(self) -> None:
        """Renew the lease of the commands this process is executing (a slow call, a pacing wait or a record retried
        through a database outage must not look like a dead process to the others)."""
        mono = time.monotonic()
        if not self._executing or mono - self._last_heartbeat < self.lease.total_seconds() / 4:
            return
        self._last_heartbeat = mono
        for head, (stage, since) in list(self._stages.items()):
            if mono - since > STUCK_AFTER and (head, stage) not in self._stuck_told:
                self._stuck_told.add((head, stage))
                log.warning("commands from %s: %s for %.0f s", head, stage, mono - since)
        c = OutboxCommand
        async with self.db.unit_of_work() as session:
            # Rows another transaction holds are skipped, never waited for: those are records about to end the
            # command (or its claim), and a heartbeat waiting in a chain of locks would hold up every claim.
            mine = select(c.id).where(c.id.in_(sorted(self._executing)), c.state == CommandState.IN_FLIGHT) \
                .with_for_update(skip_locked=True)
            await session.execute(
                update(c).where(c.id.in_(mine.scalar_subquery())).values(updated_at=self.clock.now())
                .execution_options(synchronize_session=False)
            )

    async def _recover_leases(self) -> None:
        mono = time.monotonic()
        lease = self.lease.total_seconds()
        # After a database outage every holder's lease looks expired; each holder renews it within a quarter lease
        # of the database's return, so nobody takes others' commands before a whole lease of its own health.
        if self._healthy_since is None or mono - self._healthy_since < lease:
            return
        if mono - self._last_lease_check >= lease / 4:
            self._last_lease_check = mono
            await self.recover_leases()

    async def recover_leases(self) -> list[int]:
        """Commands claimed by a process that died: those whose answer it had kept (DELIVERED) are recorded from it;
        the others go back to the queue (attempts kept). Those marked "about to send" may have arrived: they are
        counted (unconfirmed_sends, an event) and sent again. Returns the ids of those."""
        now = self.clock.now()
        c = OutboxCommand
        expired = [c.state == CommandState.IN_FLIGHT, c.updated_at < now - self.lease,
                   c.id.not_in(sorted(self._executing)) if self._executing else True]
        async with self.db.unit_of_work() as session:
            answered = (await session.execute(
                select(c.id, c.destination, c.result).where(*expired, c.result.has_key(DELIVERED)).order_by(c.id)
            )).all()
        batches: dict[tuple, list] = {}
        for row in answered:  # the commands of one call share its answer
            batches.setdefault((row.destination, json.dumps(row.result, sort_keys=True)), []).append(row)
        for rows in batches.values():
            result = {k: v for k, v in rows[0].result.items() if k != DELIVERED}
            delivery = Delivery(external_id=result.pop("external_id", None), extra=result)
            await self._complete(Batch(rows, None, False), delivery)
            log.warning("commands %s were sent by a process that died before recording them: recorded now",
                        [row.id for row in rows])
        sending = c.sending_since.is_not(None)
        async with self.db.unit_of_work() as session:
            rows = (await session.execute(
                update(c)
                .where(*expired, ~c.result.has_key(DELIVERED))
                .values(state=CommandState.QUEUED, not_before=now, sending_since=None,
                        unconfirmed_sends=c.unconfirmed_sends + case((sending, 1), else_=0),
                        last_error=case((sending, LEASE_LOST_SENDING), else_=LEASE_LOST))
                .returning(c.id, c.kind, c.tenant_id, c.dialog_id, c.last_error)
                .execution_options(synchronize_session=False)
            )).all()
            unconfirmed = [row for row in rows if row.last_error == LEASE_LOST_SENDING]
            for row in unconfirmed:
                events.record(session, "command_unconfirmed", tenant_id=row.tenant_id, dialog_id=row.dialog_id,
                              command_id=row.id, command_kind=row.kind)
        self.stats.recovered += len(rows)
        self.stats.unconfirmed += len(unconfirmed)
        if unconfirmed:
            log.warning("commands %s were being sent by a process that died: sent again, possibly twice",
                        [row.id for row in unconfirmed])
        return [row.id for row in unconfirmed]

    # ----------------------------------------------------------------------------------------------- typing

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
            refresh = Budget(1, TYPING_REFRESH.get(row.kind, 4.0), burst=1)
            key = typing_key(row.destination, row.dialog_id)
            if await self.limiter.try_acquire(key, refresh) > 0:
                continue  # shown recently enough (by this process or another)
            budget = destination_budget(row.destination, row.kind)
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

    # -------------------------------------------------------------------------------------------- executing

    async def _perform(self, call: Call) -> Delivery:
        if call.via == "gateway":
            gateway = self.gateway()
            if gateway is None:
                raise DeliveryError("no channel gateway is running in this deployment", code="no_gateway")
            return await _through_gateway(gateway, call)
        surface = self.surface()
        if surface is None:
            raise DeliveryError("the manager bot is not running", code="no_surface")
        return await surface.execute(call.kind, call.payload)

    async def _reload(self, session, batch: Batch, *, lock: bool = False) -> list[OutboxCommand]:
        query = select(OutboxCommand).where(OutboxCommand.id.in_(batch.ids))
        if lock:
            query = query.order_by(OutboxCommand.id).with_for_update()
        rows = {c.id: c for c in (await session.execute(query)).scalars()}
        return [rows[i] for i in batch.ids if i in rows]

    async def _execute(self, batch: Batch) -> None:
        try:
            await self._execute_batch(batch)
        except Exception:
            log.exception("dispatching commands %s failed", batch.ids)
        finally:
            self._executing.difference_update(batch.ids)
            self._stages.pop(batch.ids[0], None)
            self.wake()

    async def _prepare(self, batch: Batch) -> tuple[Call | None, bool]:
        """The call to make, and whether the commands are still ours. In the same transaction the commands are
        marked "about to send" (sending_since): from its commit on, the call may reach the far side."""
        async with self.db.unit_of_work() as session:
            call = await self.executor.prepare(session, await self._reload(session, batch))
            if call is None:
                return None, True
            now = self.clock.now()
            repeatable = await self._repeatable(session, batch.commands[0].kind, call)
            marked = (await session.execute(
                update(OutboxCommand)
                .where(OutboxCommand.id.in_(batch.ids), OutboxCommand.state == CommandState.IN_FLIGHT)
                .values(sending_since=None if repeatable else now, updated_at=now)
                .returning(OutboxCommand.id)
                .execution_options(synchronize_session=False)
            )).scalars().all()
            if len(marked) < len(batch.ids):  # taken back meanwhile (this process looked dead): not ours to send
                await session.rollback()
                return call, False
        return call, True

    async def _repeatable(self, session, kind: str, call: Call) -> bool:
        """Whether making this call (of a command of `kind`) twice leaves the far side as once (see KEYED_CHANNELS)."""
        if kind in self._repeatable_kinds:
            return True
        if call.via != "gateway":
            return False
        if call.channel_id not in self._channel_kinds:
            self._channel_kinds[call.channel_id] = (await session.execute(
                select(ChannelAccount.kind).where(ChannelAccount.id == call.channel_id)
            )).scalar_one_or_none()
        return self._channel_kinds[call.channel_id] in KEYED_CHANNELS

    async def _execute_batch(self, batch: Batch) -> None:
        destination = batch.destination
        called = False
        head = batch.ids[0]
        self._stages[head] = ("waiting for its budget", time.monotonic())
        try:
            if uses_bot(destination):
                await self.limiter.acquire(BOT_KEY, TELEGRAM_BOT)
            if batch.took_token:
                # The token was taken at claim time; requests that then left late would reach the far side bunched
                # up. Pacing the moment of sending with the same budget keeps what arrives within it.
                await self.limiter.acquire(sending_key(destination), batch.budget)
            self._stages[head] = ("preparing its call", time.monotonic())
            call, ours = await self._prepare(batch)
            if call is None or not ours:
                if call is None:
                    await self._complete(batch, Delivery(extra={"skipped": True}), skipped=True)
                else:
                    log.warning("commands %s were taken back before their call: left to their new holder", batch.ids)
                if batch.took_token:
                    await self.limiter.refund(destination, batch.budget)
                    await self.limiter.refund(sending_key(destination), batch.budget)
                return
            if call.via == "gateway":
                await self._typing_settled(batch.commands[0].dialog_id)
            called = True
            self._stages[head] = ("calling", time.monotonic())
            delivery = await asyncio.wait_for(self._perform(call), self.call_timeout)
        except DeliveryError as error:
            await self._failed(batch, error)
            return
        except Exception as exc:  # network trouble, timeouts, a bug: retried with backoff, never lost
            log.warning("commands %s: %s: %s", batch.ids, type(exc).__name__, exc)
            # No answer to a call that left (a timeout, a bug after sending): it may have arrived.
            await self._failed(batch, DeliveryError(f"{type(exc).__name__}: {exc}"[:500], code="transient"),
                               unanswered=called)
            return
        calls = max(1, int(delivery.extra.get("api_calls", 1)))
        self.stats.api_calls[destination] = self.stats.api_calls.get(destination, 0) + calls
        if batch.took_token and calls > 1:
            await self.limiter.charge(destination, batch.budget, calls - 1)
            await self.limiter.charge(sending_key(destination), batch.budget, calls - 1)
        self._stages[head] = ("recording what its call did", time.monotonic())
        await self._delivered(batch, delivery)
        await self._complete(batch, delivery)

    async def _delivered(self, batch: Batch, delivery: Delivery) -> None:
        """The answer, kept in one statement right after it came (DELIVERED): from its commit on, a death of this
        process costs the bookkeeping a moment's delay (the recoverer records it), never a second send."""
        result = {"external_id": delivery.external_id, **delivery.extra, DELIVERED: True}

        async def keep() -> None:
            async with self.db.unit_of_work() as session:
                await session.execute(
                    update(OutboxCommand)
                    .where(OutboxCommand.id.in_(batch.ids), OutboxCommand.state == CommandState.IN_FLIGHT)
                    .values(result=result, sending_since=None, updated_at=self.clock.now())
                    .execution_options(synchronize_session=False)
                )

        await self._durably(keep, f"the answer to commands {batch.ids}")

    async def _durably(self, work, what: str) -> None:
        """Run a unit of work that records what a call did until it commits: through deadlocks, a lost connection,
        PostgreSQL restarting (backoff up to RECORD_MAX_DELAY, for RECORD_PATIENCE). The call is never made again
        because its record failed; the heartbeat keeps the commands' lease while this waits."""
        deadline = time.monotonic() + RECORD_PATIENCE
        delay = RECORD_FIRST_DELAY
        failures = 0
        while True:
            try:
                await work()
                if failures:
                    log.warning("%s recorded after %d failed tries", what, failures)
                return
            except Exception as exc:
                failures += 1
                self.stats.record_retries += 1
                if time.monotonic() + delay > deadline:
                    log.error("%s could not be recorded for %.0f s: left in flight, it will be taken again",
                              what, RECORD_PATIENCE, exc_info=True)
                    raise
                if failures == 1:
                    log.warning("%s not recorded (%s: %s): trying again, the call is not repeated", what,
                                type(exc).__name__, exc)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # jitter: the processes do not retry in step
                delay = min(RECORD_MAX_DELAY, delay * 2)

    async def _complete(self, batch: Batch, delivery: Delivery, *, skipped: bool = False) -> None:
        async def record() -> None:
            now = self.clock.now()
            async with self.db.unit_of_work() as session:
                await session.execute(text(f"SET LOCAL lock_timeout = '{RECORD_LOCK_TIMEOUT}'"))
                commands = await self._reload(session, batch, lock=True)  # one record at a time (recoverers)
                fresh = [c for c in commands if await outbox.complete(session, c, delivery, now=now)]
                if not skipped and fresh:
                    try:
                        async with session.begin_nested():
                            await self.executor.record(session, fresh, delivery, now)
                    except Exception as exc:
                        if _connection_lost(exc):
                            raise  # the database went away: the whole record is tried again
                        # The call happened: the command must end as done even if the bookkeeping failed.
                        log.exception("recording the result of commands %s failed", batch.ids)

        await self._durably(record, f"the result of commands {batch.ids}")
        if skipped:
            self.stats.skipped += len(batch.commands)
        else:
            self.stats.executed += 1
            self.stats.commands += len(batch.commands)

    async def _failed(self, batch: Batch, error: DeliveryError, *, unanswered: bool = False) -> None:
        retrying = held = False
        elsewhere = error.code in ELSEWHERE_CODES and error.retry_after is not None and not error.permanent

        async def record() -> None:
            nonlocal retrying, held
            now = self.clock.now()
            async with self.db.unit_of_work() as session:
                commands = await self._reload(session, batch)
                # A cause people can fix (the bot lacks rights in a manager group, was removed): the commands wait
                # or move, marked in this same unit of work — never failed for good (WorkspaceCommands.hold).
                held = bool(commands) and error.retry_after is None and \
                    await self.executor.hold(session, commands, error, now=now)
                if held:
                    return
                commands = [c for c in commands if c.state == CommandState.IN_FLIGHT]  # not taken back meanwhile
                for command in commands:
                    retrying = await outbox.fail(session, command, error.reason, now=now,
                                                 retry_after=0.0 if elsewhere else error.retry_after,
                                                 permanent=error.permanent, unanswered=unanswered)
                if not commands:
                    return
                try:
                    async with session.begin_nested():
                        await self.executor.record_failure(session, commands, error, retrying=retrying)
                except Exception as exc:
                    if _connection_lost(exc):
                        raise
                    log.exception("recording the failure of commands %s failed", batch.ids)

        await self._durably(record, f"the failure of commands {batch.ids}")
        if held:
            self.stats.held += 1
            log.info("commands %s wait for their manager group: %s", batch.ids, error.reason)
            return
        if elsewhere:
            # Queued again for now: the process holding the channel takes it at its next look. Not a rate limit, so
            # the shared budget is left open (a block would hold the holder back too) and the token goes back.
            self.stats.elsewhere += 1
            self._cooling[batch.destination] = time.monotonic() + error.retry_after
            if batch.took_token:
                await self.limiter.refund(batch.destination, batch.budget)
            return
        if error.retry_after is not None:
            self.stats.rate_limited += 1
            # The far side is closed for exactly this long for everything going there, not just this command.
            await self.limiter.block(batch.destination, batch.budget, error.retry_after)
            self._cooling[batch.destination] = time.monotonic() + error.retry_after
        if retrying:
            self.stats.retried += 1
        else:
            self.stats.failed += 1
            log.warning("commands %s failed for good: %s", batch.ids, error.reason)


def _connection_lost(exc: BaseException) -> bool:
    """Whether an error inside a savepoint means the transaction itself is gone (the connection broke, the server
    went away, a deadlock aborted it), as opposed to a bug in one bookkeeping step."""
    if is_retryable(exc) or sqlstate(exc) == "55P03" or getattr(exc, "connection_invalidated", False):
        return True  # (55P03: lock_not_available, RECORD_LOCK_TIMEOUT ran out)
    names = {type(e).__name__ for e in _chain(exc)}
    return bool(names & {"ConnectionDoesNotExistError", "ConnectionResetError", "ConnectionRefusedError",
                         "InterfaceError", "CannotConnectNowError", "AdminShutdownError", "OSError",
                         "PendingRollbackError"})


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


async def _through_gateway(gateway: ChannelGateway, call: Call) -> Delivery:
    """A call of `via` "gateway": a send, or a correction or take-back of delivered messages (call.action)."""
    p = call.payload
    if call.action is GatewayAction.EDIT:
        return await _changing(gateway, "edit")(call.channel_id, call.chat_id, p["external_ids"], p["text"],
                                                previous_text=p.get("previous_text"), delivered=p.get("delivered"))
    if call.action is GatewayAction.DELETE:
        return await _changing(gateway, "delete")(call.channel_id, call.chat_id, p["external_ids"])
    return await gateway.send(call.channel_id, call.chat_id, p, idempotency_key=call.idempotency_key)


def _changing(gateway, method: str):
    """The gateway's edit or delete; a gateway without one fails the command for good, and the manager is told."""
    found = getattr(gateway, method, None)
    if found is None:
        raise DeliveryError(f"this channel gateway cannot {method} delivered messages", permanent=True,
                            code="unsupported")
    return found


@contextlib.asynccontextmanager
async def running(dispatcher: Dispatcher):
    """Run a dispatcher in the background for the duration of a block (tests, demos)."""
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        yield dispatcher
    finally:
        stop.set()
        await task
