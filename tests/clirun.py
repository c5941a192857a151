"""`salesop …` in this process: salesop.cli.main(argv) — the entry point the console script runs — with exactly the
given environment's SALESOP_* variables, stdout and stderr captured, the exit code as a subprocess would give it.

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
import io
import os
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

from salesop.cli import main

_LOCK = threading.Lock()  # one in-process CLI at a time: stdout, stderr and the environment are the process's


def _run(env: dict, args: tuple[str, ...]) -> subprocess.CompletedProcess:
    out, err = io.StringIO(), io.StringIO()
    with _LOCK:
        saved = {k: v for k, v in os.environ.items() if k.startswith("SALESOP_")}
        for name in saved:
            del os.environ[name]
        os.environ.update({k: v for k, v in env.items() if k.startswith("SALESOP_")})
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as exc:  # argparse: usage errors
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            for name in [k for k in os.environ if k.startswith("SALESOP_")]:
                del os.environ[name]
            os.environ.update(saved)
    return subprocess.CompletedProcess(["salesop", *args], code or 0, out.getvalue(), err.getvalue())


def run_cli(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_run, env, args).result(timeout=timeout)


async def run_cli_async(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return await asyncio.wait_for(asyncio.to_thread(_run, env, args), timeout)
