"""`salesop run`: every component in one process, stopped cleanly by Ctrl-C / SIGTERM (embedded PostgreSQL too).

A component is a module with an optional `install(ctx)` (register task handlers and the adapters it offers in
ctx.services) and `async def run(ctx, stop)` (start, `announce` where it is, return once `stop` is set).
Scaling out runs the same components as separate services (docker-compose.yml); here they share one loop.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import sys

from core.settings import Settings

from .context import AppContext, app_context

log = logging.getLogger("salesop.run")

# Order matters: install() runs in this order, so a component may use adapters installed before it.
COMPONENTS = [
    "webapp.server",
]


def announce(name: str, where: str) -> None:
    """One line per running component: what it is and where to reach it."""
    print(f"{name:<12} {where}", flush=True)


async def run_components(ctx: AppContext, stop: asyncio.Event, names: list[str] = COMPONENTS) -> int:
    modules = [importlib.import_module(name) for name in names]
    for module in modules:
        if hasattr(module, "install"):
            module.install(ctx)
    await ctx.queue.startup()
    tasks = [asyncio.create_task(m.run(ctx, stop), name=m.__name__) for m in modules if hasattr(m, "run")]
    announce("ready", "press Ctrl-C to stop")
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    stopper.cancel()
    await ctx.queue.shutdown()
    failed = False
    for task, result in zip(tasks, results):
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            failed = True
            log.error("component %s failed", task.get_name(), exc_info=result)
    return 1 if failed else 0


async def run_all(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with app_context(settings, run_migrations=True) as ctx:
        where = f"embedded PostgreSQL + pgvector ({settings.data_dir / 'pgdata'})" if ctx.embedded else "external PostgreSQL"
        announce("database", where)
        announce("queue", "Redis Streams" if settings.redis.redis_url else "in-process")
        code = await run_components(ctx, stop)
    print("stopped", file=sys.stderr, flush=True)
    return code
