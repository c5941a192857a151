"""The scheduler (exactly one per deployment): enqueues periodic tasks; workers execute them.

Components add periodic jobs in their install(): `add_periodic(ctx, task_name, every_seconds)`.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlalchemy import delete

from core.models import ProcessedUpdate

PURGE_PROCESSED_UPDATES = "purge_processed_updates"
# Telegram keeps an update for 24 h and VK replays a long-poll window of minutes: a week of dedup keys is ample.
DEDUP_RETENTION = timedelta(days=7)


def add_periodic(ctx, task_name: str, every_seconds: float) -> None:
    ctx.services.setdefault("periodic", []).append((task_name, every_seconds))


def install(ctx) -> None:
    async def purge_processed_updates() -> int:
        async with ctx.db.unit_of_work() as session:
            result = await session.execute(
                delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < ctx.clock.now() - DEDUP_RETENTION)
            )
            return result.rowcount

    ctx.queue.register(PURGE_PROCESSED_UPDATES, purge_processed_updates)
    add_periodic(ctx, PURGE_PROCESSED_UPDATES, 3600)


async def run(ctx, stop: asyncio.Event) -> None:
    from .runner import announce

    jobs = ctx.services.get("periodic", [])
    announce("scheduler", f"{len(jobs)} periodic jobs")
    next_due = {name: time.monotonic() for name, _ in jobs}
    while not stop.is_set():
        now = time.monotonic()
        for name, every in jobs:
            if now >= next_due[name]:
                next_due[name] = now + every
                await ctx.queue.enqueue(name)
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except TimeoutError:
            pass
