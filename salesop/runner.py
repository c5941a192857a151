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

# Services by the name `salesop serve NAME` and docker-compose use. Order matters: install() runs in this order,
# so a component may use adapters installed before it. Every process installs all of them (task handlers must be
# known wherever a task is enqueued or executed) and runs only the ones it serves.
# (COMPONENTS in older notes = this mapping: add "name": "module.path" here.)
SERVICES = {
    "webapp": "webapp.server",
    "ai": "core.ai.component",
    "scheduler": "salesop.scheduler",
    "bot": "bot.component",
    "userbots": "userbots.component",
}


def announce(name: str, where: str) -> None:
    """One line per running component: what it is and where to reach it."""
    print(f"{name:<12} {where}", flush=True)


async def run_components(ctx: AppContext, stop: asyncio.Event, serve: list[str] | None = None, *,
                         worker: bool = False, extra: list = ()) -> int:
    """Install every component, run the served ones (all by default) and, with `worker`, a task receiver."""
    modules = {name: importlib.import_module(path) for name, path in SERVICES.items()}
    for module in modules.values():
        if hasattr(module, "install"):
            module.install(ctx)
    await ctx.queue.startup()
    served = [modules[name] for name in (SERVICES if serve is None else serve)]
    tasks = [asyncio.create_task(m.run(ctx, stop), name=m.__name__) for m in served if hasattr(m, "run")]
    tasks += [asyncio.create_task(coro, name="extra") for coro in extra]
    if worker and not ctx.queue.in_process:
        tasks.append(asyncio.create_task(ctx.queue.receive(stop), name="worker"))
        announce("worker", "taskiq receiver on Redis Streams")
    announce("ready", "press Ctrl-C to stop")
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
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


def _install_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def run_all(settings: Settings, serve: list[str] | None = None, *, worker: bool = True) -> int:
    stop = asyncio.Event()
    _install_signals(stop)
    demo = None
    if settings.telegram.bot_token is None and serve is None:
        from .demo import Demo

        demo = await Demo.start(settings)
        settings = demo.settings
        announce("demo", "no SALESOP_BOT_TOKEN: offline demo against the local sandbox")
    try:
        async with app_context(settings, run_migrations=serve is None) as ctx:
            where = (f"embedded PostgreSQL + pgvector ({settings.data_dir / 'pgdata'})" if ctx.embedded
                     else "external PostgreSQL")
            announce("database", where)
            announce("queue", "in-process" if ctx.queue.in_process else "Redis Streams")
            extra = []
            if demo is not None:
                await demo.seed(ctx)
                for name, url in demo.urls():
                    announce(name, url)
                extra.append(demo.trickle(stop))
            code = await run_components(ctx, stop, serve, worker=worker, extra=extra)
    finally:
        if demo is not None:
            await demo.stop()
    print("stopped", file=sys.stderr, flush=True)
    return code
