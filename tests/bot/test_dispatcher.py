"""The outbox dispatcher: rate budgets (in-process and shared through Redis), exact retry_after, restarts, and no
customer message sent twice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from core import outbox
from core.models import CommandState, OutboxCommand
from core.ratelimit import TELEGRAM_GROUP, Budget, LocalRateLimiter, RedisRateLimiter
from core.services.workspace import base, topics

from .desk import Desk


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_local_budget_allows_the_burst_then_paces_exactly():
    clock = FakeClock()
    limiter = LocalRateLimiter(time_scale=1.0, clock=clock)
    taken = [await limiter.try_acquire("tg:group:1", TELEGRAM_GROUP) for _ in range(10)]
    assert taken == [0.0] * 10  # a short burst
    assert await limiter.try_acquire("tg:group:1", TELEGRAM_GROUP) == 3.0  # then one every 3 s
    clock.now += 2.9
    assert 0 < await limiter.try_acquire("tg:group:1", TELEGRAM_GROUP) < 0.2
    clock.now += 0.1
    assert await limiter.try_acquire("tg:group:1", TELEGRAM_GROUP) == 0.0
    assert await limiter.try_acquire("tg:group:2", TELEGRAM_GROUP) == 0.0  # another group has its own budget


async def test_block_closes_a_destination_for_exactly_retry_after():
    clock = FakeClock()
    limiter = LocalRateLimiter(time_scale=1.0, clock=clock)
    await limiter.block("tg:group:1", TELEGRAM_GROUP, 7.0)
    assert await limiter.try_acquire("tg:group:1", TELEGRAM_GROUP) == 7.0
    clock.now += 7.0
    assert await limiter.try_acquire("tg:group:1", TELEGRAM_GROUP) == 0.0


async def test_time_scale_shrinks_intervals():
    clock = FakeClock()
    limiter = LocalRateLimiter(time_scale=60.0, clock=clock)
    budget = Budget(20, 60.0, burst=1)
    assert await limiter.try_acquire("k", budget) == 0.0
    assert abs(await limiter.try_acquire("k", budget) - 3.0 / 60) < 1e-9


async def test_redis_budget_is_shared_by_processes(redis_url):
    # Two limiters stand for two dispatcher processes; a budget so slow that no token refills during the test.
    budget = Budget(3, 3600.0, burst=3)
    first, second = RedisRateLimiter(redis_url), RedisRateLimiter(redis_url)
    try:
        results = [await limiter.try_acquire("tg:group:7", budget) for limiter in (first, second, first)]
        assert results == [0.0, 0.0, 0.0]
        assert await second.try_acquire("tg:group:7", budget) > 1000  # the shared budget is spent
        await second.refund("tg:group:7", budget)
        assert await first.try_acquire("tg:group:7", budget) == 0.0
        await first.block("tg:group:8", budget, 30.0)
        assert 29 < await second.try_acquire("tg:group:8", budget) <= 30.0
    finally:
        await first.close()
        await second.close()


async def test_a_429_is_retried_after_exactly_retry_after_without_using_an_attempt(make_desk):
    desk: Desk = await make_desk(time_scale=1.0)  # Telegram's own pace: the sandbox's minute is a real minute
    # This dispatcher ignores the budget (a huge time scale), so the sandbox's strict limits answer 429.
    desk.outbox.limiter = LocalRateLimiter(time_scale=1e9)
    desk.sb.set_limits("strict")
    anna = desk.customer()
    first = await desk.customer_writes(anna, "Привет")
    await desk.settle()
    thread_id = (await desk.topic(first.dialog_id)).thread_id
    for n in range(25):
        async with desk.db.unit_of_work() as session:
            group = await base.group_by_chat(session, desk.group_chat_id)
            topic = await topics.topic_by_thread(session, group, thread_id)
            await topics.notice(session, group, key="group_ready", topic=topic)
    for _ in range(60):  # one post per cycle: the notices share the dialog's lane
        await desk.outbox._cycle()
        await desk.outbox._finish()
        if desk.outbox.stats.rate_limited:
            break
    assert desk.outbox.stats.rate_limited >= 1
    async with desk.db.unit_of_work() as session:
        waiting = list((await session.execute(
            select(OutboxCommand).where(OutboxCommand.state == CommandState.QUEUED,
                                        OutboxCommand.last_error.like("Too Many Requests%"))
        )).scalars())
    assert waiting
    for command in waiting:
        retry_after = int(command.last_error.rsplit(" ", 1)[1])
        assert command.attempts == 0  # a rate limit is not a failure
        assert command.not_before - command.updated_at == timedelta(seconds=retry_after)


async def test_a_command_whose_worker_died_is_taken_again(desk: Desk):
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Привет")
    async with desk.db.unit_of_work() as session:
        await session.execute(update(OutboxCommand).values(
            state=CommandState.IN_FLIGHT, attempts=1, updated_at=OutboxCommand.created_at - 2 * outbox.LEASE))
    await desk.outbox.recover_leases()  # what every dispatcher does a few times per lease
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        states = set((await session.execute(select(OutboxCommand.state))).scalars())
    assert states == {CommandState.DONE}
    assert (await desk.topic(received.dialog_id)).thread_id is not None


async def test_a_customer_message_is_never_sent_twice(desk: Desk):
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Сколько стоит?")
    suggestion_id = await desk.suggest(received, "1000 ₽")
    await desk.settle()
    card = desk.card_of((await desk.topic(received.dialog_id)).thread_id, suggestion_id)
    await desk.press(desk.manager, card["message_id"], f"s:send:{suggestion_id}")
    # The process crashed after the channel accepted the message but before the outbox recorded it.
    async with desk.db.unit_of_work() as session:
        await session.execute(update(OutboxCommand).where(OutboxCommand.kind == base.Kind.SEND_CUSTOMER)
                              .values(state=CommandState.QUEUED))
    await desk.settle()
    assert desk.gateway.calls == 2  # the retry reached the channel with the same idempotency key...
    assert [m["text"] for m in desk.customer_chat(anna)] == ["1000 ₽"]  # ...and the customer got it once


async def test_a_redelivered_update_is_handled_once(desk: Desk):
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Привет")
    await desk.settle()
    thread_id = (await desk.topic(received.dialog_id)).thread_id
    await desk.sb.user_sends(desk.manager["id"], desk.group_chat_id, "Добрый день!", thread_id=thread_id)
    [update_] = await desk.bot.get_updates(offset=desk.offset, timeout=0)
    desk.offset = update_.update_id + 1
    await desk.dp.feed_update(desk.bot, update_)
    await desk.dp.feed_update(desk.bot, update_)  # a webhook retry / a restart re-reading the same update
    await desk.settle()
    assert [m["text"] for m in desk.customer_chat(anna)] == ["Добрый день!"]


async def test_a_command_waits_for_a_manager_surface_that_starts_later(desk: Desk):
    """The dispatcher asks its provider for the manager surface at each call (bot/component.py hands it one that
    reads what the bot installed): before the bot runs, the call fails as a transient "no_surface" and the command
    stays queued; once a surface is there, the same command goes out."""
    surface = desk.ctx.services.pop("manager_surface")
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Привет")
    await desk.outbox._cycle()
    await desk.outbox._finish()
    async with desk.db.unit_of_work() as session:
        head, *behind = (await session.execute(
            select(OutboxCommand).where(OutboxCommand.dialog_id == received.dialog_id).order_by(OutboxCommand.id)
        )).scalars().all()
    assert (head.state, head.attempts, head.last_error) == (CommandState.QUEUED, 1, "the manager bot is not running")
    assert behind and {(c.state, c.attempts) for c in behind} == {(CommandState.QUEUED, 0)}  # waiting in its lane
    assert (await desk.topic(received.dialog_id)).thread_id is None

    desk.ctx.services["manager_surface"] = surface
    async with desk.db.unit_of_work() as session:  # its backoff is not what this test is about
        await session.execute(update(OutboxCommand).values(not_before=OutboxCommand.created_at))
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        states = set((await session.execute(select(OutboxCommand.state))).scalars())
    assert states == {CommandState.DONE}
    assert (await desk.topic(received.dialog_id)).thread_id is not None
