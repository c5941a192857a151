"""A VK community's long-poll position (the ts, with the last event's time) is written only by the holder of the
channel's lease (core.leases.Fence, checked in the write's own statement): a process that lost the lease — another
replica took the channel over and stores its own position now — goes on polling until its next renewal tells it,
and must not move the new holder's ts backwards meanwhile. The refused write is logged and reported. Against the
VK stand-in."""

from __future__ import annotations

import asyncio
import logging

from core.leases import LeaseTimings, Leases, channel_lease
from core.models import ChannelAccount
from core.services import channels as channel_service
from tests.waiting import wait_for
from userbots.vk.realtime import VKChannelRealtime

from .conftest import GROUP
from .test_vk_realtime import messages_of, wait_until_listening

REALTIME_LOG = "core.services.channels"  # write_under_lease: where a refused write is logged


async def _stored_state(db, channel_id: int) -> dict:
    async with db.unit_of_work() as session:
        return dict((await session.get(ChannelAccount, channel_id)).update_state or {})


async def test_a_holder_that_lost_the_lease_does_not_move_the_new_holders_ts_backwards(db, vk, vk_settings, shop,
                                                                                       tasks, caplog):
    name = channel_lease(shop.channel_id)
    first, second = Leases(db, LeaseTimings()), Leases(db, LeaseTimings())
    assert await first.acquire(name) is not None
    async with db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, shop.channel_id)
    refused = []
    realtime = VKChannelRealtime(db, tasks.queue, vk_settings, channel, vk.token, fence=first.fence(name),
                                 fenced_out=refused.append)
    caplog.set_level(logging.WARNING, logger=REALTIME_LOG)
    stop = asyncio.Event()
    task = asyncio.create_task(realtime.run(stop))
    try:
        await wait_until_listening(vk)
        customer = 500_000_090
        await vk.sandbox.user_writes(GROUP, customer, "Пока канал у первого")

        async def first_position_stored():
            return len(await messages_of(db, customer)) == 1 and \
                (await _stored_state(db, shop.channel_id)).get("ts") == realtime.state.get("ts")

        await wait_for(first_position_stored, "the first holder's message and ts stored")
        ts_of_the_first = int(realtime.state["ts"])

        # The second holder takes the channel over (the first's renewals did not get through in time) and stores
        # its position, further on than anything the first has seen — while the first still polls, not having
        # noticed yet.
        assert await second.acquire(name, force=True) is not None
        taken_over = {**await _stored_state(db, shop.channel_id), "ts": str(ts_of_the_first + 1_000)}
        async with db.unit_of_work() as session:
            await channel_service.save_update_state(session, shop.channel_id, taken_over)

        # An event reaches the first before it notices: it stores the message (the inbox's keys make the new
        # holder's copy of it a no-op) but not its older ts.
        await vk.sandbox.user_writes(GROUP, customer, "Канал уже у второго")

        async def second_message_stored():
            return len(await messages_of(db, customer)) == 2 and refused

        await wait_for(second_message_stored, "the first holder's refused write after the second message")
        assert int(realtime.state["ts"]) > ts_of_the_first  # it did try to store a ts of its own
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)

    assert await _stored_state(db, shop.channel_id) == taken_over
    assert set(refused) == {first.fence(name)}
    assert any(r.levelno == logging.WARNING and r.name == REALTIME_LOG and "not saved" in r.getMessage()
               for r in caplog.records)
    await second.release_all()
