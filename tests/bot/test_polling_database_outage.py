"""Long polling does not confirm an update whose unit of work met a database that cannot be reached: it is handled
again once PostgreSQL answers (the fault soak lost two manager replies during a PostgreSQL restart: aiogram logged
the failed update and the next getUpdates confirmed it). The outage is real: a TCP relay to PostgreSQL, cut."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiogram.types import Update
from sqlalchemy import text

from bot.component import feed_until_the_database_answers
from core.db import Database, database_unreachable
from tests.conftest import free_port
from tests.waiting import wait_for

from .test_dispatcher_crashes import relay_to


async def test_an_update_is_handled_again_once_the_database_answers(db_url, caplog):
    relay, relayed = await relay_to(db_url)
    db = Database(relayed, pool_size=2)
    tries = []

    async def feed(bot, update, **kw):  # one update's unit of work
        tries.append(update.update_id)
        async with db.unit_of_work() as session:
            return (await session.execute(text("SELECT 42"))).scalar_one()

    handled = feed_until_the_database_answers(feed)
    relay.cut()  # PostgreSQL unreachable
    try:
        with caplog.at_level(logging.WARNING, logger="bot.component"):
            task = asyncio.create_task(handled(None, Update(update_id=35)))
            await wait_for(lambda: len(tries) >= 3, "the update tried while the database is gone", timeout=30)
            assert not task.done()  # not given up: the polling does not move past it
            relay.restore()
            assert await asyncio.wait_for(task, 30) == 42
    finally:
        await relay.close()
        await db.dispose()
    warnings = [r.getMessage() for r in caplog.records if "update 35" in r.getMessage()]
    assert len(warnings) >= 2 and "not confirmed" in warnings[0]


async def test_only_an_unreachable_database_holds_an_update():
    gone = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/gone")  # nothing listens there
    try:
        with pytest.raises(Exception) as error:
            async with gone.unit_of_work() as session:
                await session.execute(text("SELECT 1"))
    finally:
        await gone.dispose()
    assert database_unreachable(error.value)
    assert not database_unreachable(ValueError("a bug in a handler"))

    async def buggy(bot, update, **kw):
        raise ValueError("a bug in a handler")

    with pytest.raises(ValueError):  # handled as before: aiogram logs it
        await feed_until_the_database_answers(buggy)(None, Update(update_id=1))


async def test_a_vanished_unix_socket_is_an_unreachable_database(tmp_path):
    """During a restart PostgreSQL's unix socket is gone: connect() raises a bare FileNotFoundError. That is the
    database, not the update — while a handler's own missing file is the update's error."""
    gone = Database(f"postgresql://postgres@/gone?host={tmp_path}&port=5432")  # no socket in that directory
    try:
        with pytest.raises(FileNotFoundError) as error:
            async with gone.unit_of_work() as session:
                await session.execute(text("SELECT 1"))
    finally:
        await gone.dispose()
    assert database_unreachable(error.value)
    with pytest.raises(FileNotFoundError) as own:
        open(tmp_path / "no-such-file")  # noqa: SIM115
    assert not database_unreachable(own.value)
