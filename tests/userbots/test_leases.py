"""Leases (core.leases): a channel account runs in exactly one replica at a time. Two userbot components against one
database and the VK stand-in: only the lease holder polls; when the holder is killed (SIGKILL: its lease is left to
expire) or stops, the other replica takes the channel over within the scaled timeout and catches up, and what
customers wrote meanwhile is stored once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from sqlalchemy import func, select

from core import leases
from core.leases import LeaseTimings, Leases, channel_lease
from core.models import Message
from salesop.context import app_context
from userbots import component

from .conftest import GROUP, TIME_SCALE, make_vk_channel
from .test_vk_realtime import eventually

SCALED = LeaseTimings().scaled(TIME_SCALE)
KILL_TIME_SCALE = TIME_SCALE / 4  # leases of 5 s renewed every 2 s: a holder may stall 3 s and keep its lease
# `salesop serve userbots` imports the whole application before it takes a lease: seconds alone, half a minute and
# more on a busy machine. The bound only ends a test whose replica never comes up.
PROCESS_START = 180.0


async def _holder(db, channel_id: int) -> str | None:
    for held in await leases.holders(db):
        if held.name == channel_lease(channel_id):
            return held.holder
    return None


async def _count(db, text: str) -> int:
    async with db.unit_of_work() as session:
        return (await session.execute(select(func.count(Message.id)).where(Message.text == text))).scalar_one()


async def _listening(vk) -> bool:
    return any(c.lp.key for c in vk.sandbox._communities.values()) and vk.sandbox.stats["longpoll_requests"] >= 1


class Replica:
    """A userbot component in this process, with its own database pool and queue (as a separate process has)."""

    def __init__(self, settings):
        self.settings = settings
        self.scans = 0

    async def __aenter__(self):
        self._context = app_context(self.settings)
        self.ctx = await self._context.__aenter__()
        component.install(self.ctx)
        self.supervisor = self.ctx.services["userbots"]
        sync = self.supervisor.sync

        async def counted():
            started = await sync()
            self.scans += 1
            return started

        self.supervisor.sync = counted
        await self.ctx.queue.startup()
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(component.run(self.ctx, self.stop))
        return self

    async def scanned(self, more: int) -> None:
        target = self.scans + more

        async def done():
            return self.scans >= target

        await eventually(done)

    async def halt(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)

    async def __aexit__(self, *exc):
        if not self.task.done():
            await self.halt()
        await self.ctx.queue.shutdown()
        await self._context.__aexit__(*exc)


def test_lease_timings_follow_the_time_scale():
    assert (LeaseTimings().heartbeat, LeaseTimings().ttl, LeaseTimings().poll) == (10.0, 25.0, 5.0)
    # a dead holder's channel is taken over within ttl + poll of its last renewal: 30 s
    assert LeaseTimings().ttl + LeaseTimings().poll <= 30.0
    assert SCALED.ttl == 25.0 / TIME_SCALE and SCALED.heartbeat == 10.0 / TIME_SCALE


async def test_a_killed_holder_is_taken_over_and_nothing_is_ingested_twice(vk, vk_settings, secrets, db, db_url,
                                                                             tmp_path):
    shop = await make_vk_channel(db, secrets, vk.token)
    # Both replicas run their leases at KILL_TIME_SCALE: A must renew while B looks on, and at TIME_SCALE a renewal
    # late by 0.75 s — a busy machine starving the other process — would hand the channel to B while A lives.
    timings = LeaseTimings().scaled(KILL_TIME_SCALE)
    env = {**os.environ, "SALESOP_DATABASE_URL": db_url, "SALESOP_VK_API_URL": vk.api_url,
           "SALESOP_MASTER_KEY": vk_settings.security.master_key.get_secret_value(),
           "SALESOP_TIME_SCALE": str(KILL_TIME_SCALE), "SALESOP_DATA_DIR": str(tmp_path / "a"),
           "SALESOP_LOG_LEVEL": "WARNING"}
    env.pop("SALESOP_BOT_TOKEN", None)
    # Replica A: a real `salesop serve userbots` process. Its log goes to a file: a pipe nobody reads would stop
    # it once full, and the file tells why when it never comes up.
    a_log = tmp_path / "a.log"
    with a_log.open("wb") as a_stderr:
        first = await asyncio.create_subprocess_exec(sys.executable, "-m", "salesop.cli", "serve", "userbots",
                                                     env=env, stdout=asyncio.subprocess.DEVNULL, stderr=a_stderr)
    try:
        async def a_holds():
            assert first.returncode is None, f"replica A exited ({first.returncode}):\n{a_log.read_text()}"
            holder = await _holder(db, shop.channel_id)
            return holder is not None and f":{first.pid}:" in holder

        await eventually(a_holds, timeout=PROCESS_START)
        await eventually(lambda: _listening(vk))
        await vk.sandbox.user_writes(GROUP, 500_000_070, "Первое, пока работает A")

        async def first_stored():
            return await _count(db, "Первое, пока работает A") == 1

        await eventually(first_stored)

        async with Replica(vk_settings.model_copy(update={"time_scale": KILL_TIME_SCALE})) as b:
            # B looks, again and again, and leaves the channel to A.
            await b.scanned(3)
            assert b.supervisor.running == {}
            assert f":{first.pid}:" in await _holder(db, shop.channel_id)

            # A dies without a word: its lease stays until it expires.
            first.send_signal(signal.SIGKILL)
            await first.wait()
            await vk.sandbox.user_writes(GROUP, 500_000_071, "Второе, пока никого нет")
            await vk.sandbox.user_writes(GROUP, 500_000_072, "Третье, пока никого нет")

            async def b_took_over():
                return shop.channel_id in b.supervisor.running and \
                    await _holder(db, shop.channel_id) == b.supervisor.leases.holder

            # within ttl + poll of A's last renewal; the rest of the bound only ends a test that fails
            await eventually(b_took_over, timeout=timings.ttl + timings.poll + 60)
            await vk.sandbox.user_writes(GROUP, 500_000_073, "Четвёртое, работает B")

            async def all_stored():
                texts = ("Второе, пока никого нет", "Третье, пока никого нет", "Четвёртое, работает B")
                return all([await _count(db, text) >= 1 for text in texts])

            await eventually(all_stored)
        for text in ("Первое, пока работает A", "Второе, пока никого нет", "Третье, пока никого нет",
                     "Четвёртое, работает B"):
            assert await _count(db, text) == 1, text
        # B stopped cleanly: it gave the lease back.
        assert await _holder(db, shop.channel_id) is None
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()


async def test_only_the_holder_polls_and_a_clean_stop_hands_over_at_once(vk, vk_settings, secrets, db):
    shop = await make_vk_channel(db, secrets, vk.token)
    async with Replica(vk_settings) as a:
        async def a_runs():
            return shop.channel_id in a.supervisor.running

        await eventually(a_runs)
        await eventually(lambda: _listening(vk))
        async with Replica(vk_settings) as b:
            await b.scanned(3)
            await a.scanned(1)
            assert shop.channel_id in a.supervisor.running and b.supervisor.running == {}
            await vk.sandbox.user_writes(GROUP, 500_000_080, "Один раз")

            async def stored():
                return await _count(db, "Один раз") == 1

            await eventually(stored)

            await a.halt()  # a clean stop gives the lease back: B need not wait for it to expire

            async def b_runs():
                return shop.channel_id in b.supervisor.running

            await eventually(b_runs)
            await vk.sandbox.user_writes(GROUP, 500_000_081, "После передачи")

            async def stored_after():
                return await _count(db, "После передачи") == 1

            await eventually(stored_after)
        assert await _count(db, "Один раз") == 1


async def test_a_holder_that_loses_its_lease_stops_the_channel_at_once(vk, vk_settings, secrets, db):
    shop = await make_vk_channel(db, secrets, vk.token)
    async with Replica(vk_settings) as a:
        async def a_runs():
            return shop.channel_id in a.supervisor.running

        await eventually(a_runs)
        # Another holder takes the lease by force (as if A's renewals had not reached the database in time).
        other = Leases(db, LeaseTimings())  # (unscaled: it stays valid for the rest of the test)
        assert await other.acquire(channel_lease(shop.channel_id), force=True) is not None

        async def a_stopped():
            return shop.channel_id not in a.supervisor.running

        await eventually(a_stopped)
        await a.scanned(2)  # and does not start it again while the other holds it
        assert shop.channel_id not in a.supervisor.running
        assert await _holder(db, shop.channel_id) == other.holder
        await other.release_all()


async def test_an_import_that_loses_its_lease_stops_at_once(db, secrets, settings):
    from core.models import ImportRun, ImportStatus
    from userbots.importer import LeaseLost, run_import

    from .conftest import serve_vk
    from .test_import import seed

    vk = await serve_vk(time_scale=3.0)  # slow enough for the import to be running when its lease goes
    try:
        seed(vk, conversations=1500, messages=2)
        shop = await make_vk_channel(db, secrets, vk.token)
        cfg = settings.model_copy(update={"time_scale": 3.0,
                                          "vk": settings.vk.model_copy(update={"vk_api_url": vk.api_url})})
        # (renewed every 0.1 s here, so the loss is noticed long before the import could end)
        importing = asyncio.create_task(run_import(db, secrets, cfg, shop.channel_id, progress=False,
                                                   lease_timings=LeaseTimings(heartbeat=0.1, ttl=5.0, poll=1.0)))

        async def running():  # holding its lease, and part of the history in
            held = {h.name for h in await leases.holders(db)}
            async with db.unit_of_work() as session:
                done = await session.scalar(select(ImportRun.conversations_done)
                                            .where(ImportRun.channel_id == shop.channel_id))
            return leases.import_lease(shop.channel_id) in held and (done or 0) > 0

        await eventually(running)
        other = Leases(db, LeaseTimings())
        await other.acquire(leases.import_lease(shop.channel_id), force=True)
        try:
            await asyncio.wait_for(importing, 60)
        except LeaseLost:
            pass
        else:
            raise AssertionError("the import went on without its lease")
        async with db.unit_of_work() as session:
            run = (await session.execute(select(ImportRun).where(ImportRun.channel_id == shop.channel_id))).scalar_one()
        assert run.status == ImportStatus.PAUSED  # the checkpoint is kept: a later import resumes from it
        assert run.conversations_done < 1500
        await other.release_all()
    finally:
        await vk.runner.cleanup()


async def test_a_lease_lost_to_a_database_outage_is_taken_again_when_the_database_is_back(
        db, db_url, tg_secrets, tg_settings, mtproto, tasks):
    """PostgreSQL unreachable for longer than the lease: the holder, trusting its lease no longer, stops the Telegram
    account (another replica might take it) and says so in its health; when the database answers again it takes the
    lease again and the account runs again — sends included. The fault soak saw a bot process log the account's lease
    as lost and never run it again. The outage is real: a TCP relay to PostgreSQL, cut."""
    from pydantic import SecretStr

    from tests.bot.test_dispatcher_crashes import relay_to
    from tests.waiting import wait_for

    from .test_telegram_mtproto import PHONE, connect_with_code, until_stored

    async with db.unit_of_work() as session:
        from core.services.tenants import create_tenant

        tenant = await create_tenant(session, slug="shop", name="Магазин")
        await session.flush()
        tenant_id = tenant.id
    owner = mtproto.create_account(PHONE, "Ольга", "Магазин")
    customer = mtproto.create_customer("Анна", "Петрова", username="anna_p")
    channel_id = await connect_with_code(db, tg_secrets, tg_settings, mtproto, tenant_id)
    relay, relayed = await relay_to(db_url)
    settings = tg_settings.model_copy(update={"time_scale": TIME_SCALE, "db": tg_settings.db.model_copy(
        update={"database_url": SecretStr(relayed)})})
    name = channel_lease(channel_id)
    async with app_context(settings) as ctx:
        component.install(ctx)
        supervisor = ctx.services["userbots"]
        await ctx.queue.startup()
        stop = asyncio.Event()
        run = asyncio.create_task(component.run(ctx, stop))

        def account():
            return ctx.services["telegram_accounts"].accounts.get(channel_id)

        async def running_here():
            """The account runs in this supervisor, connected, under a lease the database says is its own."""
            if run.done():
                run.result()
            return channel_id in supervisor.running and supervisor.leases.holds(name) \
                and account() is not None and account().connected.is_set() \
                and await _holder(db, channel_id) == supervisor.leases.holder

        try:
            await wait_for(running_here, "the account to run", timeout=60)
            await mtproto.customer_writes(owner.user.id, customer.id, "До сбоя базы")
            await until_stored(db, channel_id, 1)

            relay.cut()  # PostgreSQL gone for longer than the lease (its ttl is ~1 s here)
            await wait_for(lambda: name not in supervisor.leases.held and channel_id not in supervisor.running,
                           "the holder to give up the lease it could not renew", timeout=60)
            lease_health = ctx.services["health"].get("leases", {})
            assert lease_health == {"state": "lost", "channels": [channel_id]}, lease_health  # /healthz: not ok
            await mtproto.customer_writes(owner.user.id, customer.id, "Во время сбоя")
            relay.restore()

            await wait_for(running_here, "the account to run again once the database is back", timeout=60)
            await wait_for(lambda: ctx.services["health"].get("leases", {}).get("state") == "ok",
                           "the health to show the lease taken again", timeout=30)
            await mtproto.customer_writes(owner.user.id, customer.id, "После сбоя")
            rows = await until_stored(db, channel_id, 3)
            assert [m.text for m in rows] == ["До сбоя базы", "Во время сбоя", "После сбоя"]
            # and replies leave through it: the gateway finds this process's client
            assert ctx.services["telegram_accounts"]._client(channel_id) is not None
        finally:
            stop.set()
            await asyncio.wait_for(run, 60)
            await ctx.queue.shutdown()
            await relay.close()


class _SlowToStop:
    """A channel's real worker whose end, once cancelled, waits for the test (a Telethon client's disconnect writing
    its session through a slow database, say)."""

    def __init__(self, real, events: list):
        self.real, self.events = real, events
        self.stopping = asyncio.Event()
        self.may_end = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self.real.run(stop)
        finally:
            self.stopping.set()
            await self.may_end.wait()
            self.events.append("ended")


class _Watched:
    """The real adapters, with every worker started and every forget recorded in order."""

    def __init__(self, real):
        self.real = real
        self.workers: list[_SlowToStop] = []
        self.events: list[str] = []

    def kinds(self, *args, **kwargs):
        return self.real.kinds(*args, **kwargs)

    def check(self, *args, **kwargs):
        return self.real.check(*args, **kwargs)

    def get(self, kind):
        watched, adapter = self, self.real.get(kind)

        class Adapter:
            async def live(self, host, channel):
                worker = _SlowToStop(await adapter.live(host, channel), watched.events)
                watched.workers.append(worker)
                watched.events.append(f"started {len(watched.workers)}")
                return worker

            def forget(self, host, channel_id):
                watched.events.append("forgotten")
                adapter.forget(host, channel_id)

        return Adapter()


async def test_a_channel_is_not_started_again_while_its_previous_worker_is_still_stopping(vk, vk_settings, secrets,
                                                                                             db):
    """A lost lease stops the channel at once, but its worker may take a while to end. Started again meanwhile, two
    clients of one account ran in one process, and the old stop's clean-up, ending last, unregistered the new
    worker from the gateway (no more sends through it)."""
    from userbots.channels import ADAPTERS
    from userbots.component import UserbotSupervisor

    from tests.waiting import wait_for

    shop = await make_vk_channel(db, secrets, vk.token)
    watched = _Watched(ADAPTERS)
    async with app_context(vk_settings.model_copy(update={"time_scale": TIME_SCALE})) as ctx:
        component.install(ctx)
        supervisor = ctx.services["userbots"] = UserbotSupervisor(
            ctx, ctx.services["telegram_accounts"], ctx.services["channel_gateway"], adapters=watched)
        scans = 0
        sync = supervisor.sync

        async def counted():
            nonlocal scans
            started = await sync()
            scans += 1
            return started

        supervisor.sync = counted
        await ctx.queue.startup()
        stop = asyncio.Event()
        run = asyncio.create_task(component.run(ctx, stop))
        try:
            await wait_for(lambda: shop.channel_id in supervisor.running, "the channel to run", timeout=60)
            other = Leases(db, LeaseTimings(ttl=2.0))  # another holder takes the lease (as after a long outage)
            await other.acquire(channel_lease(shop.channel_id), force=True)
            first = watched.workers[0]
            await wait_for(first.stopping.is_set, "the channel to be stopped at once", timeout=60)
            await other.release_all()  # the lease is free again, while the old worker is still ending
            seen = scans
            await wait_for(lambda: scans >= seen + 3, "three more scans", timeout=60)
            assert len(watched.workers) == 1, watched.events  # not started again yet
            assert shop.channel_id in supervisor.stopping
            assert ctx.services["health"]["leases"] == {"state": "lost", "channels": [shop.channel_id]}
            first.may_end.set()
            await wait_for(lambda: len(watched.workers) == 2 and shop.channel_id in supervisor.running,
                           "the channel to run again once its old worker ended", timeout=60)
            assert watched.events[-1] == "started 2", watched.events  # no clean-up of the old one after it
            await wait_for(lambda: ctx.services["health"]["leases"] == {"state": "ok"}, "the lease shown as taken",
                           timeout=30)
            assert await _holder(db, shop.channel_id) == supervisor.leases.holder
        finally:
            for worker in watched.workers:
                worker.may_end.set()
            stop.set()
            await asyncio.wait_for(run, 60)
            await ctx.queue.shutdown()
