"""The composition root: settings → database (embedded or external) → secrets. Everything the entrypoints share."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.app import AppContext
from core.clock import SystemClock
from core.crypto import load_secret_box
from core.db import Database, open_database
from core.settings import Settings
from core.followups import Timings
from core.tasks import TaskiqQueue, build_broker

log = logging.getLogger("salesop")


@asynccontextmanager
async def app_context(settings: Settings, *, run_migrations: bool = False) -> AsyncIterator[AppContext]:
    """Opens the database (starting the embedded server when needed) and closes everything on exit, even on errors."""
    handle = open_database(settings)
    try:
        secrets = load_secret_box(settings, embedded=handle.embedded is not None)
        if run_migrations:
            from core import migrate  # alembic: imported by the commands that migrate, not by every `salesop` start

            await migrate.upgrade(handle.url)
        db = Database(handle.url, pool_size=settings.db.db_pool_size)
        # follow-ups are durable (rows in the database); their delays follow SALESOP_TIME_SCALE like the budgets
        queue = TaskiqQueue(build_broker(settings.redis.redis_url), db=db,
                            timings=Timings().scaled(settings.time_scale))
        try:
            yield AppContext(settings=settings, handle=handle, db=db, secrets=secrets, queue=queue,
                             clock=SystemClock())
        finally:
            await db.dispose()
    finally:
        handle.close()
