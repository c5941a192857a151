"""The dispatcher itself: one loop per process that claims lane heads within their budgets, runs each batch as a
task, shows "typing…" between rounds, and sleeps until a token is due, the next poll, or a NOTIFY wakes it. Its parts
are the mixins it is made of (lanes, leasing, typing_indicator, sending, outcomes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from .. import outbox
from ..channels import CHANNEL_KINDS, ChannelKinds
from ..commands import Executor, GatewayProvider, SurfaceProvider, none_running
from ..db import Database
from ..ports import Clock
from ..ratelimit import RateLimiter
from .base import NOTIFY_CHANNEL, DispatcherStats
from .lanes import Lanes
from .leasing import Leasing
from .outcomes import Outcomes
from .sending import Sending
from .typing_indicator import TypingIndicator

log = logging.getLogger("core.dispatcher")


class Dispatcher(Lanes, Leasing, TypingIndicator, Sending, Outcomes):
    def __init__(
        self,
        db: Database,
        *,
        limiter: RateLimiter,
        executor: Executor,  # the registered command kinds (core.commands; composed in bot/component.py)
        channels: ChannelKinds = CHANNEL_KINDS,  # the channel kinds' definitions (core.channels)
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
        channels.check()  # a ChannelKind without a definition is a start-up error, not a guess at run time
        self.channels = channels
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
        self._channel_traits: dict = {}  # channel id → its kind's definition, asked of `channels` once
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

    async def check(self, session) -> None:
        """At start-up: open commands of a kind nobody registered (core.commands.CommandKinds.check) and channels of
        a kind with no definition (core.channels: written by a newer version) stop the start, instead of failing
        one by one later or being sent at a guessed pace."""
        await self.executor.kinds.check(session)
        await self.channels.check_stored(session)

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
