"""Outcomes, retries and failure states: recording what a call did, durably (retried through database outages up to
RECORD_PATIENCE — the call is never made again because its record failed); "retry after" answers requeue without
using an attempt and close the destination that long; refusals meaning the channel runs in another process
(ELSEWHERE_CODES) go back to the queue at once; a cause people can fix holds the commands (Executor.hold); 5xx and
network errors back off; permanent errors fail the commands and are shown (the kind's record_failure)."""

from __future__ import annotations

import asyncio
import logging
import random
import time

from sqlalchemy import text

from .. import outbox
from ..db import is_retryable, sqlstate
from ..models import CommandState
from ..ports import Delivery, DeliveryError
from .base import Batch, DispatcherState

log = logging.getLogger("core.dispatcher")

# Recording a call's outcome (or its failure) is retried this long (real seconds) through a database outage, with
# backoff from RECORD_FIRST_DELAY up to RECORD_MAX_DELAY; the process's heartbeat keeps the lease meanwhile.
RECORD_PATIENCE = 600.0
# A record waits this long for a row lock before it gives up and tries again (a lock held by a transaction that is
# itself waiting for this process would otherwise hold the record, and with it the duplicate window, open for good).
RECORD_LOCK_TIMEOUT = "5s"
RECORD_FIRST_DELAY = 0.1
RECORD_MAX_DELAY = 2.0
# Refusals meaning "the channel's client runs in another process" (a Telegram account's Telethon session lives in the
# replica holding its lease, core.leases; a process without a bot token cannot send for Telegram Business): no rate
# limit, nothing wrong with the command — it is left to the holder at once, and only this process stays away.
ELSEWHERE_CODES = frozenset({"not_connected", "no_client"})


class Outcomes(DispatcherState):
    async def _durably(self, work, what: str) -> None:
        """Run a unit of work that records what a call did until it commits: through deadlocks, a lost connection,
        PostgreSQL restarting (backoff up to RECORD_MAX_DELAY, for RECORD_PATIENCE). The call is never made again
        because its record failed; the heartbeat keeps the commands' lease while this waits."""
        deadline = time.monotonic() + RECORD_PATIENCE
        delay = RECORD_FIRST_DELAY
        failures = 0
        while True:
            try:
                await work()
                if failures:
                    log.warning("%s recorded after %d failed tries", what, failures)
                return
            except Exception as exc:
                failures += 1
                self.stats.record_retries += 1
                if time.monotonic() + delay > deadline:
                    log.error("%s could not be recorded for %.0f s: left in flight, it will be taken again",
                              what, RECORD_PATIENCE, exc_info=True)
                    raise
                if failures == 1:
                    log.warning("%s not recorded (%s: %s): trying again, the call is not repeated", what,
                                type(exc).__name__, exc)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # jitter: the processes do not retry in step
                delay = min(RECORD_MAX_DELAY, delay * 2)

    async def _complete(self, batch: Batch, delivery: Delivery, *, skipped: bool = False) -> None:
        async def record() -> None:
            now = self.clock.now()
            async with self.db.unit_of_work() as session:
                await session.execute(text(f"SET LOCAL lock_timeout = '{RECORD_LOCK_TIMEOUT}'"))
                commands = await self._reload(session, batch, lock=True)  # one record at a time (recoverers)
                fresh = [c for c in commands if await outbox.complete(session, c, delivery, now=now)]
                if not skipped and fresh:
                    try:
                        async with session.begin_nested():
                            await self.executor.record(session, fresh, delivery, now)
                    except Exception as exc:
                        if _connection_lost(exc):
                            raise  # the database went away: the whole record is tried again
                        # The call happened: the command must end as done even if the bookkeeping failed.
                        log.exception("recording the result of commands %s failed", batch.ids)

        await self._durably(record, f"the result of commands {batch.ids}")
        if skipped:
            self.stats.skipped += len(batch.commands)
        else:
            self.stats.executed += 1
            self.stats.commands += len(batch.commands)

    async def _failed(self, batch: Batch, error: DeliveryError, *, unanswered: bool = False) -> None:
        retrying = held = False
        elsewhere = error.code in ELSEWHERE_CODES and error.retry_after is not None and not error.permanent

        async def record() -> None:
            nonlocal retrying, held
            now = self.clock.now()
            async with self.db.unit_of_work() as session:
                commands = await self._reload(session, batch)
                # A cause people can fix (the bot lacks rights in a manager group, was removed): the commands wait
                # or move, marked in this same unit of work — never failed for good (WorkspaceCommands.hold).
                held = bool(commands) and error.retry_after is None and \
                    await self.executor.hold(session, commands, error, now=now)
                if held:
                    return
                commands = [c for c in commands if c.state == CommandState.IN_FLIGHT]  # not taken back meanwhile
                for command in commands:
                    retrying = await outbox.fail(session, command, error.reason, now=now,
                                                 retry_after=0.0 if elsewhere else error.retry_after,
                                                 permanent=error.permanent, unanswered=unanswered)
                if not commands:
                    return
                try:
                    async with session.begin_nested():
                        await self.executor.record_failure(session, commands, error, retrying=retrying)
                except Exception as exc:
                    if _connection_lost(exc):
                        raise
                    log.exception("recording the failure of commands %s failed", batch.ids)

        await self._durably(record, f"the failure of commands {batch.ids}")
        if held:
            self.stats.held += 1
            log.info("commands %s wait for their manager group: %s", batch.ids, error.reason)
            return
        if elsewhere:
            # Queued again for now: the process holding the channel takes it at its next look. Not a rate limit, so
            # the shared budget is left open (a block would hold the holder back too) and the token goes back.
            self.stats.elsewhere += 1
            self._cooling[batch.destination] = time.monotonic() + error.retry_after
            if batch.took_token:
                await self.limiter.refund(batch.destination, batch.budget)
            return
        if error.retry_after is not None:
            self.stats.rate_limited += 1
            # The far side is closed for exactly this long for everything going there, not just this command.
            await self.limiter.block(batch.destination, batch.budget, error.retry_after)
            self._cooling[batch.destination] = time.monotonic() + error.retry_after
        if retrying:
            self.stats.retried += 1
        else:
            self.stats.failed += 1
            log.warning("commands %s failed for good: %s", batch.ids, error.reason)


def _connection_lost(exc: BaseException) -> bool:
    """Whether an error inside a savepoint means the transaction itself is gone (the connection broke, the server
    went away, a deadlock aborted it), as opposed to a bug in one bookkeeping step."""
    if is_retryable(exc) or sqlstate(exc) == "55P03" or getattr(exc, "connection_invalidated", False):
        return True  # (55P03: lock_not_available, RECORD_LOCK_TIMEOUT ran out)
    names = {type(e).__name__ for e in _chain(exc)}
    return bool(names & {"ConnectionDoesNotExistError", "ConnectionResetError", "ConnectionRefusedError",
                         "InterfaceError", "CannotConnectNowError", "AdminShutdownError", "OSError",
                         "PendingRollbackError"})


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__
