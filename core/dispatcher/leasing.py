"""Leases: a claimed command is this process's while it renews the lease (a heartbeat every quarter lease); a dead
process's commands run out and are taken again — recorded from the answer it kept (DELIVERED), else queued again and,
when marked "about to send", counted as a possible duplicate (unconfirmed_sends)."""

from __future__ import annotations

import json
import logging
import time

from sqlalchemy import case, select, update

from .. import events
from ..models import CommandState, OutboxCommand
from ..ports import Delivery
from .base import DELIVERED, Batch, DispatcherState

log = logging.getLogger("core.dispatcher")

STUCK_AFTER = 60.0  # real seconds in one stage of a send after which a WARNING says where it is
LEASE_LOST = "lease expired: worker lost"
LEASE_LOST_SENDING = "lease expired: worker lost after its call may have gone out"


class Leasing(DispatcherState):
    _healthy_since: float | None  # monotonic time since the database answered every cycle
    _last_lease_check: float
    _last_heartbeat: float
    _stuck_told: set[tuple[int, str]]

    async def _heartbeat(self) -> None:
        """Renew the lease of the commands this process is executing (a slow call, a pacing wait or a record retried
        through a database outage must not look like a dead process to the others)."""
        mono = time.monotonic()
        if not self._executing or mono - self._last_heartbeat < self.lease.total_seconds() / 4:
            return
        self._last_heartbeat = mono
        for head, (stage, since) in list(self._stages.items()):
            if mono - since > STUCK_AFTER and (head, stage) not in self._stuck_told:
                self._stuck_told.add((head, stage))
                log.warning("commands from %s: %s for %.0f s", head, stage, mono - since)
        c = OutboxCommand
        async with self.db.unit_of_work() as session:
            # Rows another transaction holds are skipped, never waited for: those are records about to end the
            # command (or its claim), and a heartbeat waiting in a chain of locks would hold up every claim.
            mine = select(c.id).where(c.id.in_(sorted(self._executing)), c.state == CommandState.IN_FLIGHT) \
                .with_for_update(skip_locked=True)
            await session.execute(
                update(c).where(c.id.in_(mine.scalar_subquery())).values(updated_at=self.clock.now())
                .execution_options(synchronize_session=False)
            )

    async def _recover_leases(self) -> None:
        mono = time.monotonic()
        lease = self.lease.total_seconds()
        # After a database outage every holder's lease looks expired; each holder renews it within a quarter lease
        # of the database's return, so nobody takes others' commands before a whole lease of its own health.
        if self._healthy_since is None or mono - self._healthy_since < lease:
            return
        if mono - self._last_lease_check >= lease / 4:
            self._last_lease_check = mono
            await self.recover_leases()

    async def recover_leases(self) -> list[int]:
        """Commands claimed by a process that died: those whose answer it had kept (DELIVERED) are recorded from it;
        the others go back to the queue (attempts kept). Those marked "about to send" may have arrived: they are
        counted (unconfirmed_sends, an event) and sent again. Returns the ids of those."""
        now = self.clock.now()
        c = OutboxCommand
        expired = [c.state == CommandState.IN_FLIGHT, c.updated_at < now - self.lease,
                   c.id.not_in(sorted(self._executing)) if self._executing else True]
        async with self.db.unit_of_work() as session:
            answered = (await session.execute(
                select(c.id, c.destination, c.result).where(*expired, c.result.has_key(DELIVERED)).order_by(c.id)
            )).all()
        batches: dict[tuple, list] = {}
        for row in answered:  # the commands of one call share its answer
            batches.setdefault((row.destination, json.dumps(row.result, sort_keys=True)), []).append(row)
        for rows in batches.values():
            result = {k: v for k, v in rows[0].result.items() if k != DELIVERED}
            delivery = Delivery(external_id=result.pop("external_id", None), extra=result)
            await self._complete(Batch(rows, None, False), delivery)
            log.warning("commands %s were sent by a process that died before recording them: recorded now",
                        [row.id for row in rows])
        sending = c.sending_since.is_not(None)
        async with self.db.unit_of_work() as session:
            rows = (await session.execute(
                update(c)
                .where(*expired, ~c.result.has_key(DELIVERED))
                .values(state=CommandState.QUEUED, not_before=now, sending_since=None,
                        unconfirmed_sends=c.unconfirmed_sends + case((sending, 1), else_=0),
                        last_error=case((sending, LEASE_LOST_SENDING), else_=LEASE_LOST))
                .returning(c.id, c.kind, c.tenant_id, c.dialog_id, c.last_error)
                .execution_options(synchronize_session=False)
            )).all()
            unconfirmed = [row for row in rows if row.last_error == LEASE_LOST_SENDING]
            for row in unconfirmed:
                events.record(session, "command_unconfirmed", tenant_id=row.tenant_id, dialog_id=row.dialog_id,
                              command_id=row.id, command_kind=row.kind)
        self.stats.recovered += len(rows)
        self.stats.unconfirmed += len(unconfirmed)
        if unconfirmed:
            log.warning("commands %s were being sent by a process that died: sent again, possibly twice",
                        [row.id for row in unconfirmed])
        return [row.id for row in unconfirmed]
