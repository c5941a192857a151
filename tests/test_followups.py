"""Durable follow-ups (core.followups, core.tasks): written with the inbox row, run by taskiq with retries, handed
over again by the relay after a crash, dead when they keep failing (and /status says so), never run twice into a
topic; a follow-up kind nobody handles stops the start."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select
from taskiq import InMemoryBroker

from core import followups, inbox
from core.followups import Timings, UnknownFollowUp
from core.models import FollowUp, FollowUpState, Message
from core.services import readiness
from core.tasks import TaskiqQueue
from tests.bot.desk import build_desk, close_desk

FAST = Timings(retry_delay=0.05, max_retry_delay=0.2, grace=0.5, lease=1.0, poll=0.05)


async def eventually(check: Callable, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def rows(db) -> list[FollowUp]:
    async with db.unit_of_work() as session:
        return list((await session.execute(select(FollowUp).order_by(FollowUp.id))).scalars())


@pytest.fixture
async def desk(settings):
    desk, resources = await build_desk(database_url=settings.db.database_url.get_secret_value(),
                                       master_key=settings.security.master_key.get_secret_value(),
                                       data_dir=settings.data_dir)
    try:
        yield desk
    finally:
        await close_desk(resources)


def durable_queue(desk, **handlers) -> TaskiqQueue:
    """The desk's bot handlers on a durable in-process queue, plus `handlers` (name → handler) for the other kinds."""
    queue = TaskiqQueue(InMemoryBroker(), db=desk.db, timings=FAST)
    for name, handler in {**desk.tasks, **handlers}.items():
        queue.register(name, handler)
    return queue


class Relay:
    """A relay running in the background until the test ends."""

    def __init__(self, queue: TaskiqQueue):
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(queue.relay().run(self.stop))

    async def close(self):
        self.stop.set()
        await self.task


async def test_follow_ups_are_written_with_the_message_and_the_relay_runs_them_after_a_crash(desk):
    customer = desk.customer()
    drafted: list[int] = []

    async def suggest_reply(message_id: int):
        drafted.append(message_id)

    # The inbox transaction commits; the process dies before it enqueues anything.
    async with desk.db.unit_of_work() as session:
        received = await inbox.receive(session, desk.inbound(customer, "Сколько стоит доставка?"))
    staged = {(r.kind, r.payload["message_id"]) for r in await rows(desk.db)}
    assert staged == {(inbox.MIRROR_MESSAGE, received.message_id), (inbox.SUGGEST_REPLY, received.message_id)}

    # The next start: its relay hands every pending row to taskiq.
    queue = durable_queue(desk, suggest_reply=suggest_reply)
    await queue.startup()
    relay = Relay(queue)
    try:
        await eventually(lambda: drafted == [received.message_id], "the draft task")
        await eventually(lambda: _none_left(desk.db), "every follow-up done")
        await desk.settle()
        topic = await desk.topic(received.dialog_id)
        assert topic is not None
        posts = [m for m in desk.thread(topic.thread_id) if m["text"] == "Сколько стоит доставка?"]
        assert len(posts) == 1

        # Redelivered (a worker died after the post, Redis gave the task again; a second relay pass; a kick by hand):
        # still one post.
        await queue.enqueue(inbox.MIRROR_MESSAGE, message_id=received.message_id)
        await queue.kick(inbox.MIRROR_MESSAGE, {"message_id": received.message_id})
        await queue.broker.wait_all()
        await eventually(lambda: _none_left(desk.db), "the repeated mirror done")
        await desk.settle()
        posts = [m for m in desk.thread(topic.thread_id) if m["text"] == "Сколько стоит доставка?"]
        assert len(posts) == 1
    finally:
        await relay.close()
        await queue.shutdown()


async def _none_left(db) -> bool:
    return not await rows(db)


async def test_a_failing_follow_up_is_retried_with_backoff_then_succeeds(desk):
    calls: list[float] = []

    async def reembed(tenant_id: int):
        calls.append(time.monotonic())
        if len(calls) <= 2:
            raise ConnectionError("embedder unreachable")
        return 7

    queue = durable_queue(desk, reembed_stale=reembed)
    await queue.startup()
    try:
        async with desk.db.unit_of_work() as session:
            await followups.stage(session, followups.REEMBED_STALE, {"tenant_id": desk.tenant_id},
                                  tenant_id=desk.tenant_id)
        await queue.enqueue(followups.REEMBED_STALE.name, tenant_id=desk.tenant_id)
        await eventually(lambda: len(calls) == 3, "the third attempt")
        await eventually(lambda: _none_left(desk.db), "the row gone once it succeeded")
        # Backoff: the second retry waited at least twice the first's base delay.
        assert calls[1] - calls[0] >= FAST.retry_delay
        assert calls[2] - calls[1] >= FAST.retry_delay * 2
        assert queue.failures == 2
    finally:
        await queue.shutdown()


async def test_retries_over_redis_streams(desk, redis_url):
    from core.tasks import build_broker

    calls: list[int] = []

    async def reembed(tenant_id: int):
        calls.append(tenant_id)
        if len(calls) <= 2:
            raise ConnectionError("embedder unreachable")

    queue = TaskiqQueue(build_broker(redis_url), db=desk.db, timings=FAST)
    queue.register(followups.REEMBED_STALE.name, reembed)
    await queue.startup()
    stop = asyncio.Event()
    receiver = asyncio.create_task(queue.receive(stop))
    try:
        await queue.enqueue(followups.REEMBED_STALE.name, tenant_id=desk.tenant_id)  # the row, then the stream
        await eventually(lambda: len(calls) == 3, "the third attempt, through Redis")
        await eventually(lambda: _none_left(desk.db), "the row gone")
    finally:
        stop.set()
        await asyncio.wait_for(receiver, 10)
        await queue.shutdown()


async def test_a_follow_up_that_always_fails_ends_dead_and_status_shows_it(desk):
    from bot.handlers.private import status_lines

    attempts: list[int] = []

    async def refresh_memory(customer_id: int):
        attempts.append(customer_id)
        raise RuntimeError("the model refused: quota exceeded")

    queue = durable_queue(desk, refresh_customer_memory=refresh_memory)
    await queue.startup()
    relay = Relay(queue)
    try:
        async with desk.db.unit_of_work() as session:
            await followups.stage(session, followups.REFRESH_CUSTOMER_MEMORY, {"customer_id": 41},
                                  tenant_id=desk.tenant_id)
        await queue.enqueue(followups.REFRESH_CUSTOMER_MEMORY.name, customer_id=41)

        async def dead():
            found = await rows(desk.db)
            return found and found[0].state == FollowUpState.DEAD

        await eventually(dead, "the row dead")
        (row,) = await rows(desk.db)
        assert row.attempts == followups.REFRESH_CUSTOMER_MEMORY.attempts == len(attempts)
        assert "quota exceeded" in row.last_error
        # Dead stays dead while the product runs: the relay does not hand it over again...
        assert await queue.relay().once() == 0 and len(attempts) == followups.REFRESH_CUSTOMER_MEMORY.attempts
        await relay.close()
        relay = Relay(queue)  # ...until the next start, whose relay gives it a fresh set of attempts
        await eventually(lambda: len(attempts) == 2 * followups.REFRESH_CUSTOMER_MEMORY.attempts, "a second round")
        await eventually(dead, "dead again")
        await relay.close()

        async with desk.db.unit_of_work() as session:
            state = await readiness.check(session, desk.tenant_id, readiness.Platform(), now=_now())
        assert state.failed_follow_ups == 1 and state.follow_up_kinds == ("refresh_customer_memory",)
        text = "\n".join(status_lines(state, "en"))
        assert "1 follow-up failed every attempt (refreshing a customer's memory)" in text
        assert "quota exceeded" in text and "restart salesop" in text
        ru = "\n".join(status_lines(state, "ru"))
        assert "1 фоновая задача не выполнилась" in ru
    finally:
        if not relay.task.done():
            await relay.close()
        await queue.shutdown()


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def test_work_lost_with_the_in_process_queue_runs_after_a_restart(desk):
    customer = desk.customer()
    started = asyncio.Event()
    hang = asyncio.Event()  # never set: the first run is "in flight" when the process dies
    runs: list[int] = []

    async def slow_draft(message_id: int):
        runs.append(message_id)
        if len(runs) == 1:
            started.set()
            await hang.wait()

    first = durable_queue(desk, suggest_reply=slow_draft)
    await first.startup()
    async with desk.db.unit_of_work() as session:
        one = await inbox.receive(session, desk.inbound(customer, "Первое"))
    for name, kwargs in one.follow_ups:
        await first.enqueue(name, **kwargs)
    await asyncio.wait_for(started.wait(), 30)
    async with desk.db.unit_of_work() as session:  # written, but the crash comes before its enqueue
        two = await inbox.receive(session, desk.inbound(customer, "Второе"))

    # The crash: the in-memory queue is gone with what it held (nothing drained, nothing finished).
    for task in list(first.broker._running_tasks):
        task.cancel()
    await asyncio.gather(*first.broker._running_tasks, return_exceptions=True)
    await first.shutdown()
    states = {(r.kind, r.payload["message_id"]): r.state for r in await rows(desk.db)}
    assert states[(inbox.SUGGEST_REPLY, one.message_id)] == FollowUpState.RUNNING
    assert states[(inbox.SUGGEST_REPLY, two.message_id)] == FollowUpState.PENDING

    # The restart: pending rows at once, the one that was running once its lease ran out.
    second = durable_queue(desk, suggest_reply=slow_draft)
    await second.startup()
    relay = Relay(second)
    try:
        await eventually(lambda: _none_left(desk.db), "every follow-up done after the restart", timeout=60)
        assert sorted(runs) == sorted([one.message_id, one.message_id, two.message_id])
        await desk.settle()
        topic = await desk.topic(one.dialog_id)
        # (the pinned card, starting with 👤, quotes the last messages; a burst may be one post)
        posts = "\n".join(m["text"] or "" for m in desk.thread(topic.thread_id) if not (m["text"] or "").startswith("👤"))
        assert posts.count("Первое") == 1 and posts.count("Второе") == 1
    finally:
        await relay.close()
        await second.shutdown()


async def test_asked_again_while_running_runs_once_more(desk):
    gate = asyncio.Event()
    seen: list[str] = []

    async def mirror_edit(message_id: int):
        async with desk.db.unit_of_work() as session:
            seen.append((await session.get(Message, message_id)).text)
        if len(seen) == 1:
            await gate.wait()

    customer = desk.customer()
    received = await desk.customer_writes(customer, "v1")
    queue = durable_queue(desk, mirror_edit=mirror_edit)
    await queue.startup()
    try:
        chat, external = str(customer["id"]), "1"
        async with desk.db.unit_of_work() as session:
            edited = await inbox.record_edit(session, desk.channel_id, chat, external, "v2", _now())
        for name, kwargs in edited.follow_ups:
            await queue.enqueue(name, **kwargs)
        await eventually(lambda: seen == ["v2"], "the first run")
        async with desk.db.unit_of_work() as session:  # a second edit while the first mirror runs
            edited = await inbox.record_edit(session, desk.channel_id, chat, external, "v3", _now())
        for name, kwargs in edited.follow_ups:
            await queue.enqueue(name, **kwargs)  # the worker holds the row: this kick does nothing...
        gate.set()
        await eventually(lambda: seen == ["v2", "v3"], "...but the run after it sees the second edit")

        async def mirrored():
            return not [r for r in await rows(desk.db) if r.kind == inbox.MIRROR_EDIT]

        await eventually(mirrored, "the row gone")
        assert received.message_id
    finally:
        await queue.shutdown()


async def test_a_follow_up_kind_nobody_handles_stops_the_start(settings, monkeypatch):
    from salesop import runner
    from salesop.context import app_context

    # Only the bot component: nobody registers the AI's kinds ("suggest_reply", ...).
    monkeypatch.setattr(runner, "SERVICES", {"bot": "bot.component"})
    async with app_context(settings) as ctx:
        try:
            with pytest.raises(UnknownFollowUp, match="suggest_reply"):
                await runner.run_components(ctx, asyncio.Event())
        finally:
            await ctx.services["outbox_dispatcher"].db.dispose()
        # and a task name nobody declared is an error when asked for, not silently dropped
        with pytest.raises(UnknownFollowUp, match="no_such_task"):
            await ctx.queue.enqueue("no_such_task", message_id=1)


async def test_every_kind_is_handled_in_a_full_process(settings):
    import importlib

    from salesop import runner
    from salesop.context import app_context

    async with app_context(settings) as ctx:
        for path in runner.SERVICES.values():
            module = importlib.import_module(path)
            if hasattr(module, "install"):
                module.install(ctx)
        ctx.queue.check_follow_ups()
        assert set(followups.KINDS) <= ctx.queue.handled
        await ctx.services["outbox_dispatcher"].db.dispose()
