"""Lanes and budgets: which commands a round claims.

Commands of one dialog to one destination form a lane and run strictly one after another, in id order; only a
lane's head is claimed, and only when its destination has a token of its budget (core.ratelimit; a customer's
channel has its kind's, core.channels). Behind a head of a kind flagged `coalescing`, the commands its kind
admits ride along in the same call."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import aliased

from .. import outbox
from ..commands import channel_id_of
from ..models import CommandState, OutboxCommand
from ..ratelimit import Budget, destination_budget
from .base import OPEN_STATES, Batch, DispatcherState

PER_DESTINATION = 5  # lane heads per destination looked at in one claim round
# What claiming needs of a command (plain rows: no ORM objects for the many rows a round looks at).
CLAIM_COLUMNS = (OutboxCommand.id, OutboxCommand.kind, OutboxCommand.destination, OutboxCommand.dialog_id,
                 OutboxCommand.payload)


class Lanes(DispatcherState):
    claim_limit: int

    async def _anything_due(self, horizon: float) -> bool:
        now = self.clock.now()
        due_by = now + timedelta(seconds=horizon)
        # A command behind one in its lane that is not due (e.g. parked until its manager group is fixed) waits too.
        earlier = aliased(OutboxCommand)
        lane_waits = exists().where(
            earlier.dialog_id == OutboxCommand.dialog_id, earlier.destination == OutboxCommand.destination,
            earlier.id < OutboxCommand.id, earlier.state.in_(outbox.RUNNABLE), earlier.not_before > due_by,
        )
        async with self.db.unit_of_work() as session:
            found = (await session.execute(
                select(OutboxCommand.id).where(
                    (OutboxCommand.state.in_(outbox.RUNNABLE) & (OutboxCommand.not_before <= due_by) & ~lane_waits)
                    | (OutboxCommand.state == CommandState.IN_FLIGHT)
                ).limit(1)
            )).first()
        return found is not None


    async def _budget(self, session, destination: str) -> Budget:
        channel_id = channel_id_of(destination)
        if channel_id is None:
            return destination_budget(destination)
        return destination_budget(destination, await self._channel(session, channel_id))

    async def _claim(self, limit: int) -> list[Batch]:
        now = self.clock.now()
        mono = time.monotonic()
        self._cooling = {d: due for d, due in self._cooling.items() if due > mono}
        earlier = aliased(OutboxCommand)
        c = OutboxCommand
        blocked_lane = exists().where(
            earlier.dialog_id == c.dialog_id, earlier.destination == c.destination, earlier.id < c.id,
            earlier.state.in_(OPEN_STATES),
        )
        heads = (
            select(c.id, func.row_number().over(partition_by=c.destination, order_by=c.id).label("rank"))
            .where(c.state.in_(outbox.RUNNABLE), c.not_before <= now, ~blocked_lane)
        )
        if self._cooling:
            heads = heads.where(c.destination.not_in(list(self._cooling)))
        heads = heads.subquery()
        # A few lane heads per destination are enough for one round (a budget rarely has more tokens at once), so a
        # group with hundreds of waiting dialogs does not cost hundreds of rows per round.
        query = (
            select(*CLAIM_COLUMNS)
            .where(c.id.in_(select(heads.c.id).where(heads.c.rank <= PER_DESTINATION)))
            .order_by(c.id)
            .limit(self.claim_limit)
            .with_for_update(skip_locked=True, of=OutboxCommand)
        )
        batches: list[Batch] = []
        async with self.db.unit_of_work() as session:
            rows = (await session.execute(query)).all()
            denied: set[str] = set()
            for head in rows:
                if len(batches) >= limit:
                    break
                if head.destination in denied:
                    continue
                budget = await self._budget(session, head.destination)
                took = False
                if self.executor.counts_as_message(head.kind):
                    wait = await self.limiter.try_acquire(head.destination, budget)
                    if wait > 0:
                        denied.add(head.destination)
                        self._cooling[head.destination] = mono + wait
                        continue
                    took = True
                batches.append(Batch([head, *await self._followers(session, head, now)], budget, took))
            if batches:
                await session.execute(
                    update(OutboxCommand)
                    .where(OutboxCommand.id.in_([i for batch in batches for i in batch.ids]))
                    .values(state=CommandState.IN_FLIGHT, attempts=OutboxCommand.attempts + 1, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
        return batches

    async def _followers(self, session, head, now) -> list:
        """Commands right behind the head in its lane that can go out in the same call."""
        if head.dialog_id is None or head.kind not in self._coalescing:
            return []
        behind = (await session.execute(
            select(*CLAIM_COLUMNS, OutboxCommand.state, OutboxCommand.not_before)
            .where(OutboxCommand.dialog_id == head.dialog_id, OutboxCommand.destination == head.destination,
                   OutboxCommand.id > head.id, OutboxCommand.state.in_(OPEN_STATES))
            .order_by(OutboxCommand.id)
            .limit(60)
            .with_for_update(skip_locked=True, of=OutboxCommand)
        )).all()
        batch = [head]
        for command in behind:
            if command.state not in outbox.RUNNABLE or command.not_before > now:
                break
            if not self.executor.coalesces(batch, command):
                break
            batch.append(command)
        return batch[1:]
