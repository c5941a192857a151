"""A Telegram account's session (auth key, update state, entity cache) is written only by the holder of the channel's
lease (core.leases.Fence, checked in the write's own statement): a process that lost the lease — another replica
took the channel over and writes the session now — cannot put back its older state when it disconnects (pts going
backwards: updates fetched twice or skipped; another auth key: the account signed out). The refused write is logged
and shown in the supervisor's health. Against the MTProto stand-in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time

from telethon.crypto import AuthKey
from telethon.sessions import StringSession

from core.leases import LeaseTimings, Leases, channel_lease
from core.models import ChannelAccount
from core.services import channels as channel_service
from salesop.context import app_context
from tests.waiting import wait_for
from userbots import component
from userbots.component import UserbotSupervisor
from userbots.telegram.client import TelegramAccount, TelethonClientFactory
from userbots.telegram.session import SessionStore

from .test_telegram_mtproto import connected  # noqa: F401 (a fixture)

SESSION_LOG = "core.services.channels"  # write_under_lease: where a refused write is logged


async def _stored(db, secrets, channel_id: int) -> tuple[str, dict]:
    async with db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, channel_id)
        return channel_service.credentials(secrets, channel), dict(channel.update_state or {})


def _new_holders_session(string: str) -> tuple[str, dict]:
    """What the holder that took the channel over writes: a session of its own (here another auth key, as after
    signing in again there) and an update state further on than anything the old holder saw."""
    current = StringSession(string)
    other = StringSession()
    other.set_dc(current.dc_id, current.server_address, current.port)
    other.auth_key = AuthKey(os.urandom(256))
    state = {"pts": 1_000_000, "qts": 0, "seq": 0, "date": int(time.time()) + 3600, "channels": {},
             "entities": []}
    return other.save(), state


@contextlib.asynccontextmanager
async def _running(account: TelegramAccount):
    stop = asyncio.Event()
    task = asyncio.create_task(account.run(stop))
    await wait_for(lambda: task.done() or account.connected.is_set(), "the account to connect", timeout=60)
    if task.done():
        task.result()
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_a_holder_that_lost_the_lease_does_not_overwrite_the_new_holders_session_when_it_disconnects(
        db, tg_secrets, tg_settings, mtproto, connected, tasks, caplog):  # noqa: F811
    _, _, channel_id = connected
    name = channel_lease(channel_id)
    first, second = Leases(db, LeaseTimings()), Leases(db, LeaseTimings())
    assert await first.acquire(name) is not None
    async with db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, channel_id)
    refused = []
    account = TelegramAccount(db, tasks.queue, channel, TelethonClientFactory(tg_settings, db, tg_secrets),
                              fence=first.fence(name), fenced_out=refused.append)
    caplog.set_level(logging.WARNING, logger=SESSION_LOG)
    async with _running(account):
        # The second holder takes the channel over (the first's renewals did not get through in time) and writes
        # the session as it has it — while the first still runs, not having noticed yet.
        assert await second.acquire(name, force=True) is not None
        taken_over_string, taken_over_state = _new_holders_session((await _stored(db, tg_secrets, channel_id))[0])
        store = SessionStore(db, tg_secrets, channel_id, fence=second.fence(name))
        assert await store.save(taken_over_string, taken_over_state)
    # The first one stopped: its client disconnected, which writes the session through it.

    assert await _stored(db, tg_secrets, channel_id) == (taken_over_string, taken_over_state)
    assert refused and set(refused) == {first.fence(name)}
    assert any(r.levelno == logging.WARNING and r.name == SESSION_LOG and "session not saved" in r.getMessage()
               for r in caplog.records)
    await second.release_all()


async def test_a_session_write_refused_for_a_lost_lease_shows_in_the_health_before_any_renewal(
        db, tg_secrets, tg_settings, mtproto, connected, caplog):  # noqa: F811
    """Telethon writes the session every minute too: a write refused there is shown at once, not only when the
    next renewal finds the lease gone (renewals are an hour apart here, so none does)."""
    _, _, channel_id = connected
    name = channel_lease(channel_id)
    caplog.set_level(logging.WARNING, logger=SESSION_LOG)
    async with app_context(tg_settings) as ctx:
        component.install(ctx)
        supervisor = UserbotSupervisor(ctx, ctx.services["telegram_accounts"], ctx.services["channel_gateway"],
                                       leases=Leases(ctx.db, LeaseTimings(heartbeat=3600, ttl=3600, poll=0.2)))
        ctx.services["userbots"] = supervisor
        await ctx.queue.startup()
        stop = asyncio.Event()
        run = asyncio.create_task(component.run(ctx, stop))

        def account():
            return ctx.services["telegram_accounts"].accounts.get(channel_id)

        try:
            await wait_for(lambda: run.done() or (account() is not None and account().connected.is_set()),
                           "the account to run", timeout=60)
            if run.done():
                run.result()
            assert ctx.services["health"]["leases"] == {"state": "ok"}
            other = Leases(db, LeaseTimings())
            assert await other.acquire(name, force=True) is not None
            taken_over_string, taken_over_state = _new_holders_session((await _stored(db, tg_secrets, channel_id))[0])
            assert await SessionStore(db, tg_secrets, channel_id, fence=other.fence(name)).save(
                taken_over_string, taken_over_state)

            await account().client.session.save()  # Telethon's minute: refused, and shown
            assert ctx.services["health"]["leases"] == {"state": "lost", "channels": [channel_id]}
            assert supervisor.leases.holds(name)  # no renewal has run: the refused write alone told
            assert await _stored(db, tg_secrets, channel_id) == (taken_over_string, taken_over_state)
        finally:
            stop.set()
            await asyncio.wait_for(run, 60)
            await ctx.queue.shutdown()
    # its stop disconnected the client, which tried to write once more
    assert await _stored(db, tg_secrets, channel_id) == (taken_over_string, taken_over_state)
    assert sum("session not saved" in r.getMessage() for r in caplog.records if r.name == SESSION_LOG) >= 2
    await other.release_all()
