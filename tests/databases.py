"""Each test's own database, made through one admin connection and dropped without the test waiting.

Every test that touches PostgreSQL gets a fresh copy of the migrated template. Through `psql` that cost two shell +
psql processes per test besides the statements (test_settings.py under load: 155–180 s; here 88–127 s). One admin
connection on a thread of its own does the work; a finished test's database is dropped while the next test starts.
(Making the next copy ahead, during the current test, was tried: faster under load, but it slowed a quiet run.)

    databases = TestDatabases(admin_url, "salesop_template")
    name = databases.take()   # a fresh copy of the template
    databases.release(name)   # dropped in the background
    databases.close()         # waits for the drops, then disconnects
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from concurrent.futures import Future

import asyncpg


class TestDatabases:
    __test__ = False  # not a test class, despite the name

    def __init__(self, admin_dsn: str, template: str, *, prefix: str = "t") -> None:
        self._template = template
        self._names = (f"{prefix}_{os.getpid()}_{n}" for n in itertools.count(1))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-databases", daemon=True)
        self._thread.start()
        self._conn: asyncpg.Connection = self._call(asyncpg.connect(admin_dsn)).result()
        self._lock = asyncio.Lock()  # one statement at a time on the one connection (made on the thread's loop)

    def _call(self, coro) -> Future:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _execute(self, sql: str) -> None:
        async with self._lock:
            await self._conn.execute(sql)

    def take(self) -> str:
        """A migrated database of the caller's own."""
        name = next(self._names)
        self._call(self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')).result(timeout=120)
        return name

    def empty(self) -> str:
        """An empty database (for migration tests)."""
        name = f"empty_{next(self._names)}"
        self._call(self._execute(f'CREATE DATABASE "{name}"')).result(timeout=120)
        return name

    def release(self, name: str) -> None:
        self._call(self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        self._call(self._finish()).result(timeout=120)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _finish(self) -> None:
        async with self._lock:  # queued drops hold the lock in turn; this runs after them
            await self._conn.close()
