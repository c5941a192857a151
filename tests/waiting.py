"""Waiting in tests: for a condition, with a timeout — never for a fixed time.

    await wait_for(lambda: sb.sent_messages(customer), "the echo")
    await wait_for(has_rows, "the row written", timeout=60)  # a coroutine function works too

The condition is probed at once, then every `interval` seconds until it holds (its value is returned) or `timeout`
seconds passed (AssertionError naming what was awaited). A test that waits this way takes as long as the work does,
and only fails when the work really did not happen in time, however busy the machine is.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

TIMEOUT = 30.0
INTERVAL = 0.01


async def wait_for(condition: Callable[[], Any], what: str = "the condition", timeout: float = TIMEOUT,
                   interval: float = INTERVAL) -> Any:
    """The condition's first truthy value; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)


def wait_for_sync(condition: Callable[[], Any], what: str = "the condition", timeout: float = TIMEOUT,
                  interval: float = INTERVAL) -> Any:
    """`wait_for` for code outside an event loop (fixtures starting servers, subprocesses)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
