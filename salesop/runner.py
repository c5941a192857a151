"""`salesop run`: every component in one process, stopped cleanly by Ctrl-C / SIGTERM (embedded PostgreSQL too).

A component is a module with an optional `install(ctx)` (register task handlers and the adapters it offers in
ctx.services) and `async def run(ctx, stop)` (start, `announce` where it is, return once `stop` is set).
Scaling out runs the same components as separate services (docker-compose.yml); here they share one loop.
"""

from __future__ import annotations

import asyncio
import fcntl
import gc
import importlib
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from core.app import announce
from core.errors import Conflict, UserError
from core.i18n import t
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


LOCK_FILE = "salesop.lock"


class AlreadyRunning(Conflict):
    """Another `salesop run` / `salesop serve` holds the data directory."""


class PortInUse(Conflict):
    """A port a component must listen on is taken."""


class DataDirLock:
    """One `salesop run` / `salesop serve` per embedded data directory: an exclusive flock on <data dir>/salesop.lock,
    held for the life of the process. The kernel releases it when the process dies, even by SIGKILL, so a stale file
    never blocks a restart; the file only tells who holds it."""

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.close(fd)
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise AlreadyRunning(
                f"another salesop{who} is already running on {self.path.parent}: stop it first, "
                "or give this one its own SALESOP_DATA_DIR",
                code="cli.run.already_running_pid" if holder.isdigit() else "cli.run.already_running",
                pid=holder, path=str(self.path.parent)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def check_port(host: str, port: int, what: str, setting: str) -> None:
    """Refuse in one line, before anything starts, when a port a component binds is taken. `what` names the text
    (cli.run.port.<what>) that says who wanted it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as exc:
            error = exc.strerror or str(exc)
            raise PortInUse(f"the {what} cannot listen on {host}:{port}: {error}; stop what uses it or set {setting}",
                            code=f"cli.run.port.{what}", host=host, port=port, error=error,
                            setting=setting) from None


def check_ports(settings: Settings, serve: list[str] | None) -> None:
    served = set(SERVICES if serve is None else serve)
    if "webapp" in served:
        check_port(settings.webapp.webapp_host, settings.webapp.webapp_port, "webapp", "SALESOP_WEBAPP_PORT")
    if "bot" in served and settings.telegram.webhook_url:
        check_port(settings.webapp.webapp_host, settings.telegram.webhook_port, "webhook", "SALESOP_WEBHOOK_PORT")


async def run_components(ctx: AppContext, stop: asyncio.Event, serve: list[str] | None = None, *,
                         worker: bool = False, extra: list = ()) -> int:
    """Install every component, run the served ones (all by default) and, with `worker`, a task receiver."""
    modules = {name: importlib.import_module(path) for name, path in SERVICES.items()}
    for module in modules.values():
        if hasattr(module, "install"):
            module.install(ctx)
    ctx.queue.check_follow_ups()  # a follow-up kind nobody handles is a start-up error, not work dropped later
    await ctx.queue.startup()
    served = [modules[name] for name in (SERVICES if serve is None else serve)]
    tasks = [asyncio.create_task(m.run(ctx, stop), name=m.__name__) for m in served if hasattr(m, "run")]
    tasks += [asyncio.create_task(coro, name="extra") for coro in extra]
    locale = ctx.settings.language
    if worker and not ctx.queue.in_process:
        tasks.append(asyncio.create_task(ctx.queue.receive(stop), name="worker"))
        announce("worker", t("cli.run.worker", locale))
    if ctx.queue.in_process or worker:  # where tasks run: follow-ups nobody handed over (a crash) go to taskiq again
        tasks.append(asyncio.create_task(ctx.queue.relay().run(stop), name="follow-up relay"))
    announce("ready", t("cli.run.ready", locale))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    stopper.cancel()
    await ctx.queue.shutdown()
    failed = False
    refusal: UserError | None = None
    for task, result in zip(tasks, results):
        if isinstance(result, UserError):
            refusal = refusal or result  # e.g. a port taken meanwhile: one line, no traceback
            continue
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            failed = True
            log.error("component %s failed", task.get_name(), exc_info=result)
    if refusal is not None and not failed:
        raise refusal
    return 1 if failed else 0


def _install_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def run_all(settings: Settings, serve: list[str] | None = None, *, worker: bool = True) -> int:
    # Before anything is touched (the demo's set-up, the database): one process per embedded data directory, and
    # the ports it needs free. Each refusal is one line (the CLI prints UserError messages), exit code 1.
    lock = None
    if settings.db.database_url is None and (serve is None or serve):
        lock = DataDirLock(settings.data_dir).acquire()
    try:
        check_ports(settings, serve)
        return await _run_all(settings, serve, worker=worker)
    finally:
        if lock is not None:
            lock.release()


async def _run_all(settings: Settings, serve: list[str] | None, *, worker: bool) -> int:
    stop = asyncio.Event()
    _install_signals(stop)
    locale = settings.language
    demo = None
    if settings.telegram.bot_token is None and serve is None:
        from .demo import Demo

        demo = await Demo.start(settings)
        settings = demo.settings
        announce("demo", t("cli.run.demo", locale))
    try:
        async with app_context(settings, run_migrations=serve is None) as ctx:
            where = (t("cli.run.database_embedded", locale, path=str(settings.data_dir / "pgdata")) if ctx.embedded
                     else t("cli.run.database_external", locale))
            announce("database", where)
            announce("queue", t("cli.run.queue_in_process" if ctx.queue.in_process else "cli.run.queue_redis", locale))
            extra = []
            if demo is not None:
                await demo.seed(ctx)
                for name, url in demo.urls():
                    announce(name, url)
                extra.append(demo.trickle(stop))
            gc.freeze()  # start-up objects live as long as the process: full collections stop walking them
            code = await run_components(ctx, stop, serve, worker=worker, extra=extra)
    finally:
        if demo is not None:
            await demo.stop()
    print(t("cli.run.stopped", locale), file=sys.stderr, flush=True)
    return code
