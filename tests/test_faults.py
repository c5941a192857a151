"""Nothing lost, nothing twice, under faults (the short form of bench/soak_faults.py).

The product runs as processes, as production runs it — `salesop serve bot userbots` and `salesop worker` over Redis,
on a PostgreSQL the test owns — against the Bot API, VK and MTProto stand-ins. VK and Telegram-account customers
write, the manager answers in the topics, and meanwhile: the processes are killed with SIGKILL (alone, together,
with customers writing while nothing runs), Redis dies and comes back empty, PostgreSQL is stopped and started while
customers write, the Bot API answers storms of 429 (retry_after) and 502, VK's long poll fails (key expired, history
lost). Every fault fires at a point of progress (customer messages stored), never at a wall-clock time. Then every
customer message, topic post, card and manager reply is compared with what the stand-ins recorded: 0 lost,
0 duplicated. Harness: tests/faults_harness.py."""

from __future__ import annotations

import aiohttp
import pytest

from sandbox.runner import start_sandbox
from tests.faults_harness import Fault, Soak, run_plan

# The whole fault run takes 1–2 minutes on 2 cores, ~3 when they are very busy (restarts are forks of a process that
# imported the product once: tests/faults_harness.py).
pytestmark = pytest.mark.timeout(600)

SEND_METHODS = ["sendMessage", "createForumTopic", "editForumTopic", "editMessageText", "editMessageReplyMarkup",
                "pinChatMessage", "setMessageReaction", "sendChatAction"]


async def test_bot_api_fault_storms_answer_as_telegram_does():
    stack = await start_sandbox(telegram_limits="off")
    url = f"{stack.urls['telegram']}/bot{stack.telegram.bot_token}"
    control = f"{stack.urls['telegram']}/_sandbox/faults"
    user = stack.telegram.create_user("Анна")["id"]
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(control, json={"status": 429, "count": 2, "retry_after": 7,
                                                "methods": ["sendMessage"]}) as resp:
                assert resp.status == 200
            async with http.post(control, json={"status": 502, "count": 1}) as resp:
                assert resp.status == 200
            async with http.post(control, json={"status": 418}) as resp:
                assert resp.status == 400  # only what Telegram answers
            async with http.post(f"{url}/getMe") as resp:  # not a sendMessage: the 502 takes it
                assert resp.status == 502
                assert await resp.json() == {"ok": False, "error_code": 502, "description": "Bad Gateway"}
            for _ in range(2):
                async with http.post(f"{url}/sendMessage", json={"chat_id": user, "text": "привет"}) as resp:
                    assert resp.status == 429
                    body = await resp.json()
                    assert body["parameters"] == {"retry_after": 7}
                    assert body["description"] == "Too Many Requests: retry after 7"
            assert stack.telegram.sent_messages(user) == []  # a refused call did nothing
            async with http.post(f"{url}/sendMessage", json={"chat_id": user, "text": "привет"}) as resp:
                assert resp.status == 200  # the storm is over
            async with http.get(control) as resp:
                assert await resp.json() == {"pending": [], "injected": {"429": 2, "502": 1}}
            async with http.post(control, json={"status": 500, "count": 3}) as resp:
                assert resp.status == 200
            async with http.delete(control) as resp:
                assert resp.status == 200
            async with http.post(f"{url}/getMe") as resp:
                assert resp.status == 200
        assert [m["text"] for m in stack.telegram.sent_messages(user)] == ["привет"]
    finally:
        await stack.stop()


def _kill(names: list[str], writes: int = 0):
    async def action(soak: Soak):
        if writes:
            await soak.kill_and_write(names, writes)  # customers write while nothing runs
        else:
            for name in names:
                soak.kill(name)
        await soak.all_ready()

    return action


def _storm(status: int, count: int, **kw):
    async def action(soak: Soak):
        await soak.telegram_storm(status, count, **kw)

    return action


def _kill_into_storm(name: str, status: int, count: int, methods: list[str]):
    """The process restarts while the Bot API fails these methods: it waits the storm out (bot.component.who_am_i)
    instead of exiting into its restart policy."""
    async def action(soak: Soak):
        soak.kill(name, hold=True)
        await soak.telegram_storm(status, count, methods=methods)
        soak.procs[name].release()
        await soak.all_ready()

    return action


def _longpoll(failed: int):
    async def action(soak: Soak):
        await soak.vk_longpoll_fails(failed)

    return action


def _redis(writes: int):
    async def action(soak: Soak):
        await soak.restart_redis(writes)

    return action


def _postgres(writes: int):
    async def action(soak: Soak):
        await soak.restart_postgres(writes)

    return action


async def test_nothing_lost_nothing_twice_under_faults(tmp_path, embedded_pgdata):
    faults = [
        Fault(3, "Bot API 429 storm (retry_after 2)", _storm(429, 6, retry_after=2, methods=SEND_METHODS)),
        Fault(6, "kill -9 bot", _kill(["bot"])),
        Fault(9, "VK long poll: key expired", _longpoll(2)),
        Fault(11, "VK long poll: history lost", _longpoll(1)),
        Fault(13, "kill -9 worker while customers write", _kill(["worker1"], writes=3)),
        Fault(17, "Bot API 502 storm", _storm(502, 5, methods=SEND_METHODS + ["getUpdates", "getMe"])),
        Fault(19, "Redis restarted empty while customers write", _redis(2)),
        Fault(22, "PostgreSQL stopped and started while customers write", _postgres(3)),
        Fault(25, "kill -9 bot into a getMe 500 storm", _kill_into_storm("bot", 500, 6, ["getMe"])),
        Fault(27, "kill -9 bot and worker while customers write", _kill(["bot", "worker1"], writes=2)),
    ]
    async with Soak(tmp_path, vk_customers=4, tg_customers=2, seed=11, pgdata=embedded_pgdata) as soak:
        await run_plan(soak, messages=32, replies_every=3, faults=faults)
        await soak.settle(timeout=240)
        report = await soak.check()
        logs = "\n".join(f"--- {p.name}.log\n{p.log.read_text()[-4000:]}" for p in soak.procs.values())
    summary = "\n".join(report.lines() + report.details)
    print(summary)  # the figures, for `pytest -rP`
    assert report.kills >= 4 and report.redis_restarts == 1 and report.postgres_restarts == 1, summary
    assert report.telegram_errors.get(429) == 6 and report.telegram_errors.get(502) == 5, summary
    assert report.telegram_errors.get(500) == 6, summary  # the restarted bot met the whole getMe storm...
    assert not [why for why in report.details if "TelegramServerError" in why], summary  # ...and did not exit on it
    assert report.messages >= 32 and report.replies >= 10, summary
    assert report.lost == 0, f"{summary}\n{logs}"
    # The record of a post is retried through a database outage (never the post), so PostgreSQL restarts duplicate
    # nothing. What remains: the process running the dispatcher killed between a Bot API call and its record (a few
    # milliseconds per post) — the command, marked "about to send", is sent again after its lease and counted by the
    # product (unconfirmed_sends, shown by /status); the Bot API takes no idempotency key. Any duplicate the product
    # did not count fails: the bound is "every duplicate counted", each one a kill in that window. (A new topic or a
    # card is such a call too: a duplicate of one is allowed only as a counted send.)
    assert report.stored_twice == 0 and report.replies_twice == 0, f"{summary}\n{logs}"
    assert report.posts_twice == report.posts_resent, f"{summary}\n{logs}"
    assert report.duplicated <= report.unconfirmed_sends, f"{summary}\n{logs}"
    assert report.unconfirmed_sends == 0 or report.bot_kills > 0, f"{summary}\n{logs}"
    assert report.failed_commands == 0 and report.dead_follow_ups == 0, f"{summary}\n{logs}"


async def test_a_worker_takes_tasks_again_after_redis_comes_back_empty(redis_url):
    """Redis restarted without its data: the stream's consumer group is gone. A worker meeting NOGROUP creates it
    again and runs what was sent since (taskiq-redis alone failed every XREADGROUP until the worker restarted)."""
    import asyncio

    import redis.asyncio as aioredis

    from core.tasks import TaskiqQueue, build_broker
    from tests.faults_harness import until

    queue = TaskiqQueue(build_broker(redis_url))
    ran: list[int] = []

    async def probe(n: int) -> None:
        ran.append(n)

    queue.register("faults_probe", probe)
    await queue.startup()
    stop = asyncio.Event()
    receiving = asyncio.create_task(queue.receive(stop))
    try:
        await queue.enqueue("faults_probe", n=1)

        async def first():
            return ran == [1]

        await until("the first task runs", first, 30)
        client = aioredis.Redis.from_url(redis_url)
        await client.flushdb()  # what a Redis restarted without its data looks like to the worker
        await client.aclose()
        await queue.enqueue("faults_probe", n=2)

        async def second():
            return 2 in ran

        await until("a task sent after Redis came back empty runs", second, 30)
    finally:
        stop.set()
        await receiving
        await queue.shutdown()


async def test_stopping_the_userbots_stops_every_channel_when_the_database_is_gone(settings):
    """A database outage ends the userbots component; on its way out it must stop every channel even though giving
    their leases back fails. A channel left running kept the whole process from exiting (it hung after printing
    "stopped", so no restart policy brought ingest back): found by the fault soak after a PostgreSQL restart."""
    import asyncio
    from types import SimpleNamespace

    from core.db import Database
    from tests.conftest import free_port
    from userbots.component import UserbotSupervisor

    gone = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/gone")  # nothing listens there
    ctx = SimpleNamespace(settings=settings, db=gone, queue=None, secrets=None, services={})
    supervisor = UserbotSupervisor(ctx, accounts=None, gateway=None)
    stops = {}
    for channel_id in (1, 2):
        stop = asyncio.Event()
        supervisor.running[channel_id] = (asyncio.create_task(stop.wait()), stop)
        supervisor.leases.held[f"channel:{channel_id}"] = channel_id
        stops[channel_id] = stop
    try:
        await asyncio.wait_for(supervisor.stop_all(), 60)
    finally:
        await gone.dispose()
    assert all(stop.is_set() for stop in stops.values())
    assert supervisor.running == {} and supervisor.leases.held == {}
