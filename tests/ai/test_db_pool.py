"""The pool without pre-ping (core.db): a connection the server closed is replaced at checkout without a round trip,
and a unit of work whose connection dies under a statement runs again as a whole (retry_transaction)."""

from __future__ import annotations

import asyncio
import time

import asyncpg
from sqlalchemy import text

from core.db import Database, lost_connection


async def _until(what: str, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def _terminate(db_url: str, pid: int) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


async def _pid_and_driver(session):
    pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    raw = await (await session.connection()).get_raw_connection()
    return pid, raw.driver_connection


async def test_a_connection_the_server_closed_is_replaced_at_checkout(db_url):
    db = Database(db_url, pool_size=1)  # one connection: the next unit of work gets the same one back
    try:
        async with db.unit_of_work() as session:
            pid, driver = await _pid_and_driver(session)
        await _terminate(db_url, pid)
        await _until("the client to see the server close the connection", driver.is_closed)
        async with db.unit_of_work() as session:
            again = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert again != pid
    finally:
        await db.dispose()


async def test_a_unit_of_work_whose_connection_dies_under_a_statement_runs_again(db_url):
    db = Database(db_url, pool_size=1)
    attempts: list[int] = []

    async def work(session):
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        attempts.append(pid)
        if len(attempts) == 1:
            await _terminate(db_url, pid)  # the server goes away under this transaction, before its next statement
        await session.execute(text("CREATE TEMP TABLE IF NOT EXISTS t (x int)"))
        return pid

    try:
        pid = await db.run(work, what="a unit of work that loses its connection")
        assert len(attempts) == 2 and pid == attempts[1] != attempts[0]
    finally:
        await db.dispose()


async def test_a_failed_commit_is_not_run_again(db_url):
    """Whether a COMMIT the connection died under was applied is unknown: that error is not a lost statement."""
    from sqlalchemy.exc import DBAPIError

    exc = DBAPIError(None, None, Exception("connection is closed"), connection_invalidated=True)
    assert not lost_connection(exc)
    exc = DBAPIError("SELECT 1", None, Exception("connection is closed"), connection_invalidated=True)
    assert lost_connection(exc)
