"""`salesop run`: every component in one process, stopped cleanly by Ctrl-C / SIGTERM (embedded PostgreSQL too).

A component is `async def component(ctx, stop: asyncio.Event) -> None`: it starts, announces itself with
`ctx_announce`, and returns once `stop` is set. Scaling out runs the same components as separate services
(docker-compose.yml); here they share one event loop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

from core.settings import Settings

from .context import AppContext, app_context

log = logging.getLogger("salesop.run")

Component = Callable[[AppContext, asyncio.Event], Awaitable[None]]


def announce(name: str, where: str) -> None:
    """One line per running component: what it is and where to reach it."""
    print(f"{name:<12} {where}", flush=True)


def components(settings: Settings) -> list[tuple[str, Component]]:
    from webapp.server import run_webapp

    return [("webapp", run_webapp)]


async def run_all(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async with app_context(settings, run_migrations=True) as ctx:
        announce("database", "embedded PostgreSQL + pgvector (" + str(settings.data_dir / "pgdata") + ")"
                 if ctx.embedded else "external PostgreSQL")
        tasks = [asyncio.create_task(component(ctx, stop), name=name) for name, component in components(settings)]
        announce("ready", "press Ctrl-C to stop")
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        failed = [t for t in done if t is not stopper and t.exception() is not None]
        stop.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        stopper.cancel()
        for task, result in zip(tasks, results):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("component %s failed", task.get_name(), exc_info=result)
    print("stopped", file=sys.stderr, flush=True)
    return 1 if failed else 0
