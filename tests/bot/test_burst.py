"""A burst under Telegram's realistic limits (time-scaled): 300 customer messages across 60 dialogs into one manager
group. Nothing is lost, each dialog keeps its order, and no 429 reaches a manager or a customer. (How long the drain
takes against the budget is measured by bench/bench_outbox.py, not asserted here.)"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from core.dispatcher import running
from core.models import CommandState, OutboxCommand

from .desk import Desk

DIALOGS = 60
PER_DIALOG = 5
TIME_SCALE = 60.0  # one emulated minute of group budget per real second


async def test_burst_of_300_messages_across_60_dialogs(make_desk):
    desk: Desk = await make_desk(limits="realistic", time_scale=TIME_SCALE)
    customers = [desk.customer(f"Клиент{n:02d}", None) for n in range(DIALOGS)]
    async with running(desk.outbox):
        for round_ in range(1, PER_DIALOG + 1):
            # Everyone writes at once, round after round, while the dispatcher is already posting.
            await asyncio.gather(*(desk.customer_writes(c, f"{c['first_name']} пишет №{round_}") for c in customers))
    await desk.outbox.drain(timeout=120)

    async with desk.db.unit_of_work() as session:
        states = dict((await session.execute(
            select(OutboxCommand.state, func.count()).group_by(OutboxCommand.state)
        )).all())
    assert set(states) == {CommandState.DONE}, states  # nothing failed, nothing left behind
    topics = desk.live_topics()
    assert len(topics) == DIALOGS
    for topic in topics:
        name = topic["name"].split(" ", 1)[1].split(" · ")[0]
        text = "\n\n".join(m["text"] for m in desk.thread(topic["id"]) if not m["pinned"])
        expected = "\n\n".join(f"{name} пишет №{n}" for n in range(1, PER_DIALOG + 1))
        assert text == expected  # every message, in the order written, coalesced where a backlog formed
    # Every "429 retry after" (if the budget was ever overrun) was honoured and retried, never shown to anyone.
    assert desk.outbox.stats.failed == 0 and desk.outbox.stats.rate_limited == desk.sb.stats["too_many_requests"]
    assert not any("Не доставлено" in (m["text"] or "") for m in desk.group()["messages"])
    assert all(desk.customer_chat(c) == [] for c in customers)
