"""A unit of work PostgreSQL aborts as a deadlock victim runs again as a whole; other errors are not retried."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from core.db import is_retryable, retry_transaction


async def _table(db) -> None:
    async with db.unit_of_work() as session:
        await session.execute(text("CREATE TABLE probe (id int PRIMARY KEY, n int NOT NULL)"))
        await session.execute(text("INSERT INTO probe VALUES (1, 0), (2, 0)"))


async def test_a_deadlock_victim_runs_again_and_both_units_commit(db):
    await _table(db)
    first_locked, second_locked = asyncio.Event(), asyncio.Event()
    attempts = {"a": 0, "b": 0}

    def work(name: str, mine: int, other: int, locked: asyncio.Event, wait_for: asyncio.Event):
        async def unit(session):
            attempts[name] += 1
            await session.execute(text("UPDATE probe SET n = n + 1 WHERE id = :id"), {"id": mine})
            locked.set()
            await wait_for.wait()
            # Each now wants the row the other holds: PostgreSQL aborts one of them.
            await session.execute(text("UPDATE probe SET n = n + 1 WHERE id = :id"), {"id": other})

        return unit

    await asyncio.wait_for(asyncio.gather(
        db.run(work("a", 1, 2, first_locked, second_locked), what="a"),
        db.run(work("b", 2, 1, second_locked, first_locked), what="b"),
    ), 60)
    async with db.unit_of_work() as session:
        assert (await session.execute(text("SELECT n FROM probe ORDER BY id"))).scalars().all() == [2, 2]
    assert sorted(attempts.values()) == [1, 2]  # the victim ran once more, the other once


async def test_other_errors_are_not_retried(db):
    await _table(db)
    calls = 0

    async def duplicate(session):
        nonlocal calls
        calls += 1
        await session.execute(text("INSERT INTO probe VALUES (1, 0)"))

    with pytest.raises(Exception) as raised:
        await db.run(duplicate)
    assert calls == 1 and not is_retryable(raised.value)

    async def fails_for_good():
        raise RuntimeError("not a database error")

    with pytest.raises(RuntimeError):
        await retry_transaction(fails_for_good)
