"""Follow-ups whose whole effect is database rows (core.tasks.InTransaction): the durable queue runs them inside one
transaction that also deletes their row, several mirrors share one transaction, a re-ask while one runs rolls that
run back and the newer one wins, and failures are counted on the row until it is dead."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select
from taskiq import InMemoryBroker

from core import events, followups, inbox
from core.followups import Timings
from core.models import Event, FollowUp, FollowUpState, Message, OutboxCommand
from core.tasks import InTransaction, TaskiqQueue
from tests.bot.desk import build_desk, close_desk
from tests.waiting import wait_for

FAST = Timings(retry_delay=0.05, max_retry_delay=0.2, grace=0.5, lease=1.0, poll=0.05)


@pytest.fixture
async def desk(settings):
    desk, resources = await build_desk(database_url=settings.db.database_url.get_secret_value(),
                                       master_key=settings.security.master_key.get_secret_value(),
                                       data_dir=settings.data_dir)
    try:
        yield desk
    finally:
        await close_desk(resources)


def none_left(db, kind: str):
    """A probe for wait_for: no follow-up row of `kind` is left."""
    async def probe() -> bool:
        async with db.unit_of_work() as session:
            return not (await session.execute(select(func.count()).select_from(FollowUp)
                                              .where(FollowUp.kind == kind))).scalar_one()
    return probe


async def test_a_burst_of_mirrors_shares_transactions_and_posts_each_message_once(desk):
    queue = TaskiqQueue(InMemoryBroker(), db=desk.db, timings=FAST)
    for name, handler in desk.tasks.items():
        queue.register(name, handler)
    await queue.startup()
    statements: list[str] = []

    def note(conn, cursor, statement, *args):
        statements.append(statement)

    try:
        customers = [desk.customer(f"Клиент{n}", None) for n in range(12)]
        written = []
        for round_ in range(3):
            for customer in customers:
                async with desk.db.unit_of_work() as session:
                    written.append(await inbox.receive(
                        session, desk.inbound(customer, f"{customer['first_name']} №{round_}")))
        sqlalchemy_event.listen(desk.db.engine.sync_engine, "before_cursor_execute", note)
        for received in written:  # all at once: they queue up behind the first transaction
            for name, kwargs in received.follow_ups:
                await queue.enqueue(name, **kwargs)
        await queue.broker.wait_all()
        await wait_for(none_left(desk.db, inbox.MIRROR_MESSAGE), "every mirror done")
        sqlalchemy_event.remove(desk.db.engine.sync_engine, "before_cursor_execute", note)
        # fewer transactions than mirrors: several ran together, each deleting its rows as it committed
        deletes = sum(s.startswith("DELETE FROM follow_ups") for s in statements)
        assert 0 < deletes < len(written)
        # the inbox staged every follow-up in its transaction: enqueue wrote no row of its own
        assert not any(s.startswith("INSERT INTO follow_ups") for s in statements)
        await desk.settle()
        async with desk.db.unit_of_work() as session:
            mirrors = (await session.execute(select(func.count()).select_from(OutboxCommand)
                                             .where(OutboxCommand.kind == "mirror_message"))).scalar_one()
        assert mirrors == len(written)  # one post command per message, none twice
        posted = "\n".join(m["text"] or "" for t in desk.live_topics() for m in desk.thread(t["id"]))
        for customer in customers:
            for round_ in range(3):
                assert posted.count(f"{customer['first_name']} №{round_}") >= 1
        assert len(desk.live_topics()) == len(customers)
    finally:
        if sqlalchemy_event.contains(desk.db.engine.sync_engine, "before_cursor_execute", note):
            sqlalchemy_event.remove(desk.db.engine.sync_engine, "before_cursor_execute", note)
        await queue.shutdown()


async def test_asked_again_while_it_runs_the_older_run_rolls_back_and_the_newer_one_counts(desk):
    gate = asyncio.Event()
    seen: list[str] = []

    async def mirror_edit(session, message_id: int):
        text = (await session.get(Message, message_id)).text
        seen.append(text)
        events.record(session, "test_mirrored", tenant_id=desk.tenant_id, text=text)
        if len(seen) == 1:
            await gate.wait()  # inside the transaction: the customer edits again meanwhile

    customer = desk.customer()
    await desk.customer_writes(customer, "v1")
    queue = TaskiqQueue(InMemoryBroker(), db=desk.db, timings=FAST)
    queue.register(inbox.MIRROR_EDIT, InTransaction(desk.db, mirror_edit))
    await queue.startup()
    try:
        chat = str(customer["id"])
        async with desk.db.unit_of_work() as session:
            edited = await inbox.record_edit(session, desk.channel_id, chat, "1", "v2", datetime.now(UTC))
        for name, kwargs in edited.follow_ups:
            await queue.enqueue(name, **kwargs)
        await wait_for(lambda: seen == ["v2"], "the first run, waiting inside its transaction")
        async with desk.db.unit_of_work() as session:
            edited = await inbox.record_edit(session, desk.channel_id, chat, "1", "v3", datetime.now(UTC))
        for name, kwargs in edited.follow_ups:
            await queue.enqueue(name, **kwargs)
        await wait_for(lambda: seen == ["v2", "v3"], "the second run")
        gate.set()
        await queue.broker.wait_all()
        await wait_for(none_left(desk.db, inbox.MIRROR_EDIT), "the row gone")
        async with desk.db.unit_of_work() as session:
            kept = list((await session.execute(select(Event.payload).where(Event.kind == "test_mirrored"))).scalars())
        assert [p["text"] for p in kept] == ["v3"]  # the run that saw v2 rolled back with its row untouched
    finally:
        gate.set()
        await queue.shutdown()


async def test_a_failing_in_transaction_follow_up_is_retried_then_dead(desk):
    attempts: list[int] = []

    async def refresh(session, suggestion_ids: list[int]):
        attempts.append(len(attempts))
        events.record(session, "test_half_done", tenant_id=desk.tenant_id)
        raise RuntimeError("the card is gone")

    queue = TaskiqQueue(InMemoryBroker(), db=desk.db, timings=FAST)
    queue.register(inbox.REFRESH_CARDS, InTransaction(desk.db, refresh))
    await queue.startup()
    try:
        async with desk.db.unit_of_work() as session:
            await followups.stage(session, followups.REFRESH_CARDS, {"suggestion_ids": [7]}, tenant_id=desk.tenant_id)
        await queue.enqueue(inbox.REFRESH_CARDS, suggestion_ids=[7])

        async def dead():
            async with desk.db.unit_of_work() as session:
                row = (await session.execute(select(FollowUp))).scalar_one()
            return row if row.state == FollowUpState.DEAD else None

        row = await wait_for(dead, "the row dead")
        assert row.attempts == followups.REFRESH_CARDS.attempts == len(attempts)
        assert "the card is gone" in row.last_error
        async with desk.db.unit_of_work() as session:
            half = (await session.execute(select(func.count()).select_from(Event)
                                          .where(Event.kind == "test_half_done"))).scalar_one()
        assert half == 0  # every failed attempt rolled back whole
        assert queue.failures == len(attempts)
    finally:
        await queue.shutdown()
