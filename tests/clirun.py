"""`salesop …` in this process: salesop.cli.main(argv) — the entry point the console script runs — with exactly the
given environment's SALESOP_* variables, stdout and stderr captured (log lines too, as main configures logging for a
process of its own), the exit code as a subprocess would give it.

A Python subprocess costs seconds of interpreter start and imports on a busy machine; where a test asks the CLI for
its output and exit code, this gives the same (an exception escaping main — a traceback for a user — fails the test
instead of landing in stderr). Tests about the process itself (signals, a second process, the console script) keep
a real subprocess.

main runs its own event loop, so it runs in a worker thread: `run_cli` blocks the caller (nothing in the caller's
loop is needed meanwhile), `run_cli_async` lets the caller's loop go on (a sandbox the CLI talks to lives there).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import logging
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from salesop.cli import main

_LOCK = threading.Lock()  # one in-process CLI at a time: stdout, stderr and the environment are the process's


class _Captured(io.StringIO):
    """The CLI's stream. The caller's thread (the test, the stand-ins in its event loop) is no part of that process:
    what it writes meanwhile goes where it went before."""

    def __init__(self, caller: int, before):
        super().__init__()
        self.caller, self.before = caller, before

    def write(self, text: str) -> int:
        if threading.get_ident() == self.caller:
            return self.before.write(text)
        return super().write(text)


def _run(env: dict, args: tuple[str, ...], caller: int) -> subprocess.CompletedProcess:
    root = logging.getLogger()
    with _LOCK:
        out, err = _Captured(caller, sys.stdout), _Captured(caller, sys.stderr)
        saved = {k: v for k, v in os.environ.items() if k.startswith("SALESOP_")}
        for name in saved:
            del os.environ[name]
        os.environ.update({k: v for k, v in env.items() if k.startswith("SALESOP_")})
        # Without handlers on the root logger main's logging.basicConfig sets it up as in a process of its own: the
        # level SALESOP_LOG_LEVEL says, log lines on (captured) stderr. The test run's own handlers come back after.
        handlers, level = root.handlers[:], root.level
        root.handlers = []
        # What the command leaves open (an HTTP session, a pending task) says so when it is collected: in a process,
        # on its stderr as it exits. Collected here, on the captured stderr — only what was made since the start, so
        # the test's own garbage stays out of it (and the collection costs milliseconds, not a whole heap's walk).
        # Frozen for good, as the run's collected modules are (tests/conftest.py): unfreezing would hand the whole
        # heap back to the collector.
        gc.freeze()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as exc:  # argparse: usage errors
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                gc.collect()
        finally:
            for handler in root.handlers:
                handler.close()
            root.handlers = handlers
            root.setLevel(level)
            for name in [k for k in os.environ if k.startswith("SALESOP_")]:
                del os.environ[name]
            os.environ.update(saved)
    return subprocess.CompletedProcess(["salesop", *args], code or 0, out.getvalue(), err.getvalue())


def run_cli(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_run, env, args, threading.get_ident()).result(timeout=timeout)


async def run_cli_async(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return await asyncio.wait_for(asyncio.to_thread(_run, env, args, threading.get_ident()), timeout)
