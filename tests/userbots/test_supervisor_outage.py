"""The userbots component rides out a PostgreSQL restart: its channel scan and lease renewal meet a database that
cannot be reached, wait with backoff and say so (health), and go on when it answers — the fault soak saw the whole
component (and every channel with it) end on "the database system is shutting down" or a vanished socket. The
outage is real: a TCP relay to PostgreSQL, cut."""

from __future__ import annotations

import asyncio
import logging

from pydantic import SecretStr

from core.db import database_unreachable
from salesop.context import app_context
from userbots import component

from ..bot.test_dispatcher_crashes import relay_to
from .conftest import GROUP, make_vk_channel
from .test_component import _listening, _stored
from .test_vk_realtime import eventually
from tests.waiting import wait_for


async def test_the_component_waits_out_a_database_outage_and_goes_on(vk, vk_settings, secrets, db, db_url, caplog):
    await make_vk_channel(db, secrets, vk.token)
    relay, relayed = await relay_to(db_url)
    settings = vk_settings.model_copy(update={"db": vk_settings.db.model_copy(
        update={"database_url": SecretStr(relayed)})})
    async with app_context(settings) as ctx:
        component.install(ctx)
        supervisor = ctx.services["userbots"]
        await ctx.queue.startup()
        stop = asyncio.Event()
        running = asyncio.create_task(component.run(ctx, stop))
        try:
            await eventually(lambda: _listening(vk, 1))
            with caplog.at_level(logging.WARNING, logger="userbots.component"):
                relay.cut()  # PostgreSQL gone: pooled connections die, new ones are refused
                await supervisor.channel_added(0)  # the next scan runs at once
                await wait_for(lambda: state(ctx) == "waiting" or running.done(), "the component to report the outage",
                               timeout=60)
                assert not running.done()  # not ended: it waits
                relay.restore()
                await supervisor.channel_added(0)
                await wait_for(lambda: state(ctx) == "ok",
                               "the component to report the database back", timeout=60)
            assert not running.done()
            assert any("cannot be reached" in r.getMessage() for r in caplog.records)
            # the channel still ingests: a customer's message after the outage is stored
            await vk.sandbox.user_writes(GROUP, 500_000_077, "После перезапуска базы")
            await eventually(lambda: _stored(db, "После перезапуска базы"))
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)
            await ctx.queue.shutdown()
            await relay.close()


def state(ctx) -> str | None:
    return ctx.services.get("health", {}).get("userbots", {}).get("state")


def test_a_bug_is_not_an_outage():
    assert not database_unreachable(ValueError("a bug"))
    assert not database_unreachable(None)
