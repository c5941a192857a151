"""Background tasks on taskiq: the in-process broker by default, Redis Streams (acknowledged, redelivered when a
worker dies) when SALESOP_REDIS_URL is set. Handlers are plain async functions bound to the process's runtime at
start-up, so no settings or connections exist at import time.

Follow-up kinds (core.followups.KINDS) are durable: their rows are written where the work is asked for, a worker
runs a task only after claiming its row, deletes the row when done, and a failure is retried by taskiq's
SmartRetryMiddleware (exponential delay with jitter, `kind.attempts` tries) before the row is left dead for people
to see. Other tasks (scheduled reports, voice previews, clean-ups) are plain taskiq tasks.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from taskiq import AsyncBroker, InMemoryBroker
from taskiq.kicker import AsyncKicker
from taskiq.message import TaskiqMessage
from taskiq.middlewares import SmartRetryMiddleware

from . import followups
from .db import retry_transaction
from .followups import ABSENT, BUSY, FollowUpKind, Timings, UnknownFollowUp

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Any]]

BATCH_LIMIT = 50  # follow-ups of one kind run together in one transaction, at most
BATCH_FLUSHERS = 2  # transactions of one kind under way at once in this process


class InTransaction:
    """A follow-up handler whose whole effect is rows written in the database (a mirror queues outbox commands, a
    card refresh queues edits): the queue runs it inside one unit of work that also deletes its follow-up row
    (followups.take / done), so the work and the end of its row commit together — no claim and no finish of their
    own, and a crash anywhere leaves either both or neither. Work of the same kind that arrives while one such
    transaction is under way runs together in the next (at most BATCH_LIMIT) when the kind has a
    `batch(session, payloads)`; otherwise each payload's `work` has a transaction of its own.

    Called directly (`await handler(**payload)`) it is a plain unit of work of its own, run again after a deadlock.
    `before_commit(session)` runs last in every transaction (a NOTIFY), `after()` after every commit."""

    def __init__(self, db, work: Callable[..., Awaitable[Any]], *,
                 batch: Callable[[Any, list[dict]], Awaitable[Any]] | None = None,
                 before_commit: Callable[[Any], Awaitable[Any]] | None = None,
                 after: Callable[[], Any] | None = None):
        self.db = db
        self.work = work
        self.batch = batch
        self.before_commit = before_commit
        self.after = after

    async def __call__(self, **kwargs: Any) -> Any:
        async def once() -> Any:
            async with self.db.unit_of_work() as session:
                result = await self.work(session, **kwargs)
                if self.before_commit is not None:
                    await self.before_commit(session)
            return result

        result = await retry_transaction(once, what=f"task {kwargs}")
        if self.after is not None:
            self.after()
        return result


class _Raced(Exception):
    """A follow-up row changed while its work ran: the transaction rolls back."""


class _Batches:
    """Runs an InTransaction kind's tasks in shared transactions (see InTransaction)."""

    def __init__(self, queue: TaskiqQueue, kind: FollowUpKind, handler: InTransaction):
        self.queue = queue
        self.kind = kind
        self.handler = handler
        self.waiting: list[tuple[dict, asyncio.Future]] = []
        self.flushers: set[asyncio.Task] = set()

    async def submit(self, payload: dict) -> Any:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((payload, future))
        if len(self.flushers) < BATCH_FLUSHERS:
            flusher = asyncio.create_task(self._flush())
            self.flushers.add(flusher)
            flusher.add_done_callback(self.flushers.discard)
        return await future

    async def _flush(self) -> None:
        # Only a kind with a `batch` of its own shares transactions: several items' `work` one after another could take
        # several dialogs' locks in any order.
        limit = BATCH_LIMIT if self.handler.batch is not None else 1
        while self.waiting:
            items, self.waiting = self.waiting[:limit], self.waiting[limit:]
            items = [(payload, future) for payload, future in items if not future.done()]
            if not items:
                continue
            try:
                await self._run(items)
            except Exception as exc:  # e.g. the database went away while a failure was being counted
                log.warning("%s follow-ups: %s: %s", self.kind.name, type(exc).__name__, exc)
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)  # the retry middleware kicks them again
            except BaseException:  # cancelled with the process: the rows stay, the relay hands them over
                for _, future in items:
                    future.cancel()
                raise

    async def _run(self, items: list[tuple[dict, asyncio.Future]]) -> None:
        try:
            results = await retry_transaction(lambda: self._together([p for p, _ in items]),
                                              what=f"{len(items)} {self.kind.name} follow-ups")
        except Exception as exc:
            if len(items) > 1:  # which one failed (or raced) is not known: each in a transaction of its own
                for item in items:
                    await self._run([item])
                return
            payload, future = items[0]
            if isinstance(exc, _Raced):
                future.set_result(None)  # whoever changed the row kicked the work again
            else:
                future.set_exception(await self._failed(payload, exc))
            return
        if self.handler.after is not None:
            self.handler.after()
        for (_, future), result in zip(items, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _together(self, payloads: list[dict]) -> list[Any]:
        async with self.queue.db.unit_of_work() as session:
            taken = await followups.take(session, self.kind, payloads)
            runnable = [p for p in payloads if taken.get(followups.key_of(p)) != BUSY]
            results: dict[int, Any] = {}
            if self.handler.batch is not None and len(runnable) > 1:
                await self.handler.batch(session, runnable)
            else:
                for payload in runnable:
                    results[id(payload)] = await self.handler.work(session, **payload)
            rows = [t for t in taken.values() if t != BUSY]
            if not await followups.done(session, rows):
                raise _Raced()
            if self.handler.before_commit is not None:
                await self.handler.before_commit(session)
        return [results.get(id(p)) for p in payloads]

    async def _failed(self, payload: dict, exc: Exception) -> Exception:
        """What the task raises after a failed attempt: the retry middleware kicks it again, unless it was the last
        attempt (then a person sees the dead row, and the task ends quietly)."""
        self.queue.failures += 1
        error = f"{type(exc).__name__}: {exc}"
        dead = await followups.failed(self.queue.db, self.kind, payload, error)
        if dead is None:
            log.error("task %s failed (%s): %s", self.kind.name, payload, error, exc_info=exc)
        elif dead:
            log.error("follow-up %s %s failed %s times, left for a person to see: %s", self.kind.name, payload,
                      self.kind.attempts, error, exc_info=exc)
            return _Dead()
        else:
            log.warning("follow-up %s %s failed: %s", self.kind.name, payload, error)
        return exc


class _Dead(Exception):
    """The last attempt failed: the row is dead; the task ends without a retry."""


def build_broker(redis_url: str | None) -> AsyncBroker:
    if redis_url:
        return _stream_broker(redis_url)
    return InMemoryBroker(await_inplace=False)


def _stream_broker(redis_url: str) -> AsyncBroker:
    """taskiq-redis's Redis Streams broker, which creates its consumer group only at start-up. Redis restarted
    without its data (or the stream deleted) would leave every worker failing XREADGROUP with NOGROUP, in a tight
    loop, until restarted; here a worker that meets NOGROUP creates the group again, from the stream's start, so the
    tasks sent since the loss are read too (what was in Redis before it is gone: the relay hands those follow-ups
    over again from their rows)."""
    from redis.asyncio import Redis
    from redis.exceptions import ResponseError
    from taskiq_redis import RedisStreamBroker

    class StreamBroker(RedisStreamBroker):
        async def listen(self):
            while True:
                try:
                    async for message in super().listen():
                        yield message
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    log.warning("the task stream's consumer group is gone (Redis lost its data?): creating it again")
                    async with Redis(connection_pool=self.connection_pool) as redis:
                        try:
                            await redis.xgroup_create(self.queue_name, self.consumer_group_name, id="0",
                                                      mkstream=True)
                        except ResponseError as busy:  # BUSYGROUP: another worker made it first
                            log.debug("%s", busy)

    return StreamBroker(url=redis_url, queue_name="salesop:tasks", consumer_group_name="salesop-workers")


class FollowUpRetry(SmartRetryMiddleware):
    """taskiq's SmartRetryMiddleware with a delay that really waits. Neither broker here honours the "delay" label
    the stock middleware sets when it has no schedule source (the retry would run at once, and the label would feed
    the next delay), so the retry is kicked by a timer of this process: retry n waits retry_delay · 2^(n-1), at most
    max_retry_delay, plus up to half of that again at random. A timer lost with its process costs nothing: the row is
    pending, and the relay hands it over after `grace` seconds."""

    def __init__(self, timings: Timings):
        super().__init__(default_retry_count=5, default_retry_label=False, no_result_on_retry=True,
                         default_delay=timings.retry_delay, use_jitter=True, use_delay_exponent=True,
                         max_delay_exponent=timings.max_retry_delay)
        self.timings = timings
        self._timers: set[asyncio.Task] = set()

    def make_delay(self, message: TaskiqMessage, retries: int) -> float:
        delay = min(self.timings.retry_delay * 2 ** (retries - 1), self.timings.max_retry_delay)
        return delay + random.uniform(0, delay / 2)  # noqa: S311 (jitter, not security)

    async def on_send(self, kicker: AsyncKicker, message: TaskiqMessage, delay: float) -> None:
        async def later() -> None:
            await asyncio.sleep(delay)
            await kicker.kiq(*message.args, **message.kwargs)

        timer = asyncio.create_task(later(), name=f"retry-{message.task_name}")
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    def shutdown(self) -> None:
        for timer in list(self._timers):
            timer.cancel()


class TaskiqQueue:
    """core.ports.TaskQueue over a taskiq broker. With `db`, follow-up kinds are durable (see the module docstring);
    without one (a test's bare queue) they run as plain tasks."""

    def __init__(self, broker: AsyncBroker, db=None, timings: Timings | None = None):
        self.broker = broker
        self.db = db
        self.timings = timings or Timings()
        self.retry = FollowUpRetry(self.timings)
        broker.add_middlewares(self.retry)
        self.handled: set[str] = set()
        self.failures = 0  # attempts that raised (for tests and logs)

    def register(self, name: str, handler: Handler) -> None:
        kind = followups.KINDS.get(name)
        if kind is not None:
            self.register_follow_up(kind, handler)
            return

        async def run(**kwargs: Any) -> Any:
            try:
                return await handler(**kwargs)
            except Exception:
                # Logged here with the task name; taskiq's redelivery/ack policy decides what happens next.
                log.exception("task %s failed (%s)", name, kwargs)
                raise

        self.broker.register_task(run, task_name=name)
        self.handled.add(name)

    def register_follow_up(self, kind: FollowUpKind, handler: Handler) -> None:
        if isinstance(handler, InTransaction) and self.db is not None:
            batches = _Batches(self, kind, handler)

            async def run_in_transaction(**kwargs: Any) -> Any:
                try:
                    return await batches.submit(kwargs)
                except _Dead:
                    return None

            self.broker.register_task(run_in_transaction, task_name=kind.name, retry_on_error=True,
                                      max_retries=kind.attempts)
            self.handled.add(kind.name)
            return

        async def run(**kwargs: Any) -> Any:
            claimed = await followups.claim(self.db, kind, kwargs, self.timings) if self.db is not None else ABSENT
            if claimed == BUSY:
                return None  # another worker runs it, it is dead, or it already ran: nothing to do
            try:
                result = await handler(**kwargs)
            except Exception as exc:
                self.failures += 1
                if claimed == ABSENT:
                    log.exception("task %s failed (%s)", kind.name, kwargs)
                    raise
                error = f"{type(exc).__name__}: {exc}"
                if await followups.fail(self.db, kind, claimed, error):
                    log.error("follow-up %s %s failed %s times, left for a person to see: %s", kind.name, kwargs,
                              claimed.attempts, error, exc_info=exc)
                    return None  # no retry: the row says it is dead
                log.warning("follow-up %s %s failed (attempt %s of %s): %s", kind.name, kwargs, claimed.attempts,
                            kind.attempts, error)
                raise  # the retry middleware kicks it again after a delay
            if claimed != ABSENT and await followups.finish(self.db, claimed):
                await self.kick(kind.name, kwargs)  # asked for again while it ran
            return result

        self.broker.register_task(run, task_name=kind.name, retry_on_error=True, max_retries=kind.attempts)
        self.handled.add(kind.name)

    def check_follow_ups(self) -> None:
        """At start-up, after every component registered its handlers: each declared follow-up kind has one."""
        missing = sorted(set(followups.KINDS) - self.handled)
        if missing:
            raise UnknownFollowUp(f"no handler registered for follow-up kinds: {', '.join(missing)}")

    async def enqueue(self, name: str, **kwargs: Any) -> None:
        """Hand work to a worker. A follow-up kind gets its row first (if the caller did not stage it in its own
        transaction), so from here on it survives a crash. A name that is neither handled here nor a declared
        follow-up kind is an error, never dropped."""
        kind = followups.KINDS.get(name)
        if kind is not None and self.db is not None and not followups.committed(name, kwargs):
            await followups.ensure(self.db, kind, kwargs)
        if name not in self.handled:
            if kind is None:
                raise UnknownFollowUp(f"task {name!r} is not registered")
            if self.in_process:
                # A partial set-up (a test, a tool) without this kind's component: the row waits for a process
                # that runs it (start-up checks that every real one does).
                log.debug("no handler for %s in this process: the row waits", name)
                return
        await self.kick(name, kwargs)

    async def kick(self, name: str, kwargs: dict) -> None:
        """Send a task for work whose row exists (the relay, a re-run)."""
        task = self.broker.find_task(name)
        if task is not None:
            await task.kiq(**kwargs)
            return
        if self.in_process:
            if self.db is not None and name not in followups.KINDS:
                await followups.kill(self.db, name, followups.key_of(kwargs), f"no handler for {name!r}")
            return
        # Redis Streams: a worker in another process may handle it.
        kind = followups.KINDS.get(name)
        await AsyncKicker(task_name=name, broker=self.broker,
                          labels={"retry_on_error": True, "max_retries": kind.attempts} if kind else {}).kiq(**kwargs)

    def relay(self) -> followups.Relay:
        return followups.Relay(self.db, self, self.timings)

    @property
    def in_process(self) -> bool:
        return isinstance(self.broker, InMemoryBroker)

    async def receive(self, stop) -> None:
        """Consume tasks from the shared broker until `stop` is set (the `salesop worker` loop)."""
        from taskiq.api import run_receiver_task

        receiver = asyncio.create_task(run_receiver_task(self.broker, max_async_tasks=50))
        await stop.wait()
        receiver.cancel()
        await asyncio.gather(receiver, return_exceptions=True)

    async def startup(self) -> None:
        await self.broker.startup()

    async def shutdown(self) -> None:
        await self.broker.shutdown()
