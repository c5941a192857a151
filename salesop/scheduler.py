"""The scheduler (exactly one per deployment, docker-compose's `scheduler` service): taskiq's scheduler loop sends
periodic tasks to the broker; workers execute them (in-process without Redis).

Components add periodic jobs in their install(): `add_periodic(ctx, task_name, every_seconds)`; the task itself is
registered on ctx.queue by whoever owns it, in every process (workers must know it).

Jobs of this module:
- purge_processed_updates (hourly): dedup keys older than a week;
- post_due_reports (every REPORT_TICK seconds of the product's clock): the morning and evening status reports that
  are due (core.services.reports.post_due). The first tick runs at start-up, so a slot missed while the product
  was down goes out as soon as it is back (once: the runs are idempotent per tenant, slot and local date).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import delete
from taskiq import ScheduledTask, ScheduleSource, TaskiqScheduler
from taskiq.cli.scheduler.run import SchedulerLoop

from core.db import retry_transaction
from core.dispatcher import notify
from core.i18n import t
from core.models import ProcessedUpdate
from core.services import reports

log = logging.getLogger(__name__)

PURGE_PROCESSED_UPDATES = "purge_processed_updates"
POST_DUE_REPORTS = "post_due_reports"
# Telegram keeps an update for 24 h and VK replays a long-poll window of minutes: a week of dedup keys is ample.
DEDUP_RETENTION = timedelta(days=7)
REPORT_TICK = 30  # seconds between looks for due reports (emulated seconds under a time-scaled sandbox)


def add_periodic(ctx, task_name: str, every_seconds: float) -> None:
    ctx.services.setdefault("periodic", []).append((task_name, every_seconds))


class PeriodicSource(ScheduleSource):
    """The jobs components added, as taskiq interval schedules (whole seconds, at least one)."""

    def __init__(self, jobs: list[tuple[str, float]]):
        self.jobs = jobs

    async def get_schedules(self) -> list[ScheduledTask]:
        return [ScheduledTask(task_name=name, labels={}, args=[], kwargs={}, schedule_id=f"periodic:{name}",
                              interval=max(1, int(round(every)))) for name, every in self.jobs]


class ComponentScheduler(TaskiqScheduler):
    """taskiq's scheduler on the process's own broker, which the runner starts and stops (salesop/runner.py)."""

    async def startup(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def install(ctx) -> None:
    async def purge_processed_updates() -> int:
        async with ctx.db.unit_of_work() as session:
            result = await session.execute(
                delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < ctx.clock.now() - DEDUP_RETENTION)
            )
            return result.rowcount

    ctx.queue.register(PURGE_PROCESSED_UPDATES, purge_processed_updates)
    add_periodic(ctx, PURGE_PROCESSED_UPDATES, 3600)
    ctx.queue.register(POST_DUE_REPORTS, lambda: post_due_reports(ctx))
    add_periodic(ctx, POST_DUE_REPORTS, REPORT_TICK / max(ctx.settings.time_scale, 1.0))


async def post_due_reports(ctx) -> int:
    """One look for due reports: each tenant in a unit of work of its own (one tenant's trouble never holds up the
    others' reports). Returns how many runs were made."""
    now = ctx.clock.now()
    async with ctx.db.unit_of_work() as session:
        tenant_ids = await reports.tenants_with_reports(session)
    made = 0
    for tenant_id in tenant_ids:
        async def once(tenant_id=tenant_id) -> int:
            async with ctx.db.unit_of_work() as session:
                runs = await reports.post_due(session, tenant_id, now=now)
                if runs:
                    await notify(session)  # a dispatcher in another process wakes at commit
            return len(runs)

        try:
            made += await retry_transaction(once, what=f"reports of tenant {tenant_id}")
        except Exception:
            log.exception("reports of tenant %s could not be made; the next tick tries again", tenant_id)
    if made and (dispatcher := ctx.services.get("outbox_dispatcher")) is not None:
        dispatcher.wake()
    ctx.services["report_ticks"] = ctx.services.get("report_ticks", 0) + 1
    return made


async def run(ctx, stop: asyncio.Event) -> None:
    from .runner import announce

    jobs = ctx.services.get("periodic", [])
    scheduler = ComponentScheduler(ctx.queue.broker, sources=[PeriodicSource(jobs)])
    loop = SchedulerLoop(scheduler, event_loop=asyncio.get_running_loop())
    announce("scheduler", t("cli.run.scheduler", ctx.settings.language, count=len(jobs)))
    runner = asyncio.create_task(loop.run(), name="taskiq-scheduler")
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait([runner, waiter], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    if runner.done() and not runner.cancelled() and runner.exception() is not None:
        raise runner.exception()
