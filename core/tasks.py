"""Background tasks on taskiq: the in-process broker by default, Redis Streams (acknowledged, redelivered when a
worker dies) when SALESOP_REDIS_URL is set. Handlers are plain async functions bound to the process's runtime at
start-up, so no settings or connections exist at import time."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from taskiq import AsyncBroker, InMemoryBroker

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Any]]


def build_broker(redis_url: str | None) -> AsyncBroker:
    if redis_url:
        from taskiq_redis import RedisStreamBroker

        return RedisStreamBroker(url=redis_url, queue_name="salesop:tasks", consumer_group_name="salesop-workers")
    return InMemoryBroker(await_inplace=False)


class TaskiqQueue:
    """core.ports.TaskQueue over a taskiq broker."""

    def __init__(self, broker: AsyncBroker):
        self.broker = broker

    def register(self, name: str, handler: Handler) -> None:
        async def run(**kwargs: Any) -> Any:
            try:
                return await handler(**kwargs)
            except Exception:
                # Logged here with the task name; taskiq's redelivery/ack policy decides what happens next.
                log.exception("task %s failed (%s)", name, kwargs)
                raise

        self.broker.register_task(run, task_name=name)

    async def enqueue(self, name: str, **kwargs: Any) -> None:
        task = self.broker.find_task(name)
        if task is None:
            # Nothing in this deployment handles it (e.g. no AI configured for drafts): nothing to do.
            log.debug("no handler for task %s", name)
            return
        await task.kiq(**kwargs)

    @property
    def in_process(self) -> bool:
        return isinstance(self.broker, InMemoryBroker)

    async def receive(self, stop) -> None:
        """Consume tasks from the shared broker until `stop` is set (the `salesop worker` loop)."""
        import asyncio

        from taskiq.api import run_receiver_task

        receiver = asyncio.create_task(run_receiver_task(self.broker, max_async_tasks=50))
        await stop.wait()
        receiver.cancel()
        await asyncio.gather(receiver, return_exceptions=True)

    async def startup(self) -> None:
        await self.broker.startup()

    async def shutdown(self) -> None:
        await self.broker.shutdown()
