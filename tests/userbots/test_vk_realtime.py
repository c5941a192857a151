"""Realtime VK through the stand-in's Bots Long Poll with the real vkbottle client: messages, replies from VK's own
interface, edits, allow/deny and attachments land in the database, and the manager-topic follow-ups are enqueued."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core import inbox
from core.models import (
    Attachment,
    ChannelAccount,
    ChannelKind,
    ChannelStatus,
    Customer,
    Dialog,
    DialogStatus,
    Direction,
    Message,
    MessageEdit,
    TrafficTouch,
)
from userbots.vk.realtime import VKChannelRealtime

from .conftest import GROUP


async def eventually(check, timeout: float = 30.0):
    """Poll `check` (async, returns truthy) until it holds; the long poll delivers asynchronously."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in {timeout}s: {check.__name__}")
        await asyncio.sleep(0.05)


async def start_realtime(db, tasks, vk_settings, shop, token):
    async with db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, shop.channel_id)
    realtime = VKChannelRealtime(db, tasks.queue, vk_settings, channel, token)
    stop = asyncio.Event()
    task = asyncio.create_task(realtime.run(stop))
    return realtime, stop, task


async def messages_of(db, peer: int) -> list[Message]:
    async with db.unit_of_work() as session:
        return list((await session.execute(
            select(Message).join(Dialog, Dialog.id == Message.dialog_id)
            .where(Dialog.external_chat_id == str(peer)).order_by(Message.sent_at, Message.id))).scalars())


async def wait_until_listening(vk):
    await eventually(lambda: _async(vk.sandbox.stats["longpoll_requests"] > 0))


async def _async(value):
    return value


async def test_messages_replies_edits_attachments_and_blocks_arrive_live(db, vk, vk_settings, shop, tasks):
    realtime, stop, task = await start_realtime(db, tasks, vk_settings, shop, vk.token)
    try:
        await wait_until_listening(vk)
        customer = 500_000_777
        first = await vk.sandbox.user_writes(GROUP, customer, "Здравствуйте! Есть куртка в размере M?",
                                             ref="spring_sale", ref_source="ads_vk_42")
        await vk.sandbox.user_writes(GROUP, customer, "Вот чек https://shop.example/pay?utm_source=vk&utm_campaign=winter",
                                     attachments=[{"type": "photo"}, {"type": "doc"}, {"type": "audio_message"},
                                                  {"type": "video"}, {"type": "sticker"}, {"type": "gift"}])
        await vk.sandbox.community_replies_in_vk(GROUP, customer, "Есть, отложить?")
        await eventually(lambda: _count_messages(db, customer, 3))

        await vk.sandbox.user_edits(GROUP, customer, first["id"], "Здравствуйте! Есть куртка в размере L?")
        await eventually(lambda: _edited(db))
        await vk.sandbox.user_denies(GROUP, customer)
        await eventually(lambda: _dialog_status(db, DialogStatus.INACTIVE))
        await vk.sandbox.user_allows(GROUP, customer)
        await eventually(lambda: _dialog_status(db, DialogStatus.ACTIVE))
    finally:
        stop.set()
        await task

    rows = await messages_of(db, customer)
    assert [m.direction for m in rows] == [Direction.IN, Direction.IN, Direction.OUT]
    assert rows[0].text == "Здравствуйте! Есть куртка в размере L?" and rows[0].edit_count == 1
    assert not any(m.is_imported for m in rows)
    async with db.unit_of_work() as session:
        atts = (await session.execute(select(Attachment).where(Attachment.message_id == rows[1].id)
                                      .order_by(Attachment.ordinal))).scalars().all()
        customer_row = (await session.execute(select(Customer))).scalar_one()
        first_touch = await session.get(TrafficTouch, customer_row.first_touch_id)
        last_touch = await session.get(TrafficTouch, customer_row.last_touch_id)
        channel = await session.get(ChannelAccount, shop.channel_id)
    assert [a.kind.value for a in atts] == ["photo", "document", "voice", "video", "sticker", "other"]
    assert atts[0].external_ref["url"].startswith(vk.url) and atts[1].file_name.endswith(".pdf")
    assert atts[2].duration and atts[3].duration
    assert atts[5].error and "gift" in atts[5].error and all(a.error is None for a in atts[:5])
    assert (first_touch.ref, first_touch.source) == ("spring_sale", "ads_vk_42")
    assert (last_touch.source, last_touch.campaign) == ("vk", "winter")
    assert customer_row.first_name  # users.get gave the customer a name
    assert channel.status == ChannelStatus.ACTIVE and channel.update_state.get("ts")

    # the manager-topic path: every live message is mirrored, customer messages get a draft, the edit is mirrored
    mirrored = {c["message_id"] for c in tasks.calls[inbox.MIRROR_MESSAGE]}
    assert mirrored == {m.id for m in rows}
    assert {c["message_id"] for c in tasks.calls[inbox.SUGGEST_REPLY]} == {rows[0].id, rows[1].id}
    assert [c["message_id"] for c in tasks.calls[inbox.MIRROR_EDIT]] == [rows[0].id]


async def _count_messages(db, peer, n):
    return len(await messages_of(db, peer)) >= n


async def _edited(db):
    async with db.unit_of_work() as session:
        return (await session.execute(select(func.count()).select_from(MessageEdit))).scalar_one() == 1


async def _dialog_status(db, status):
    async with db.unit_of_work() as session:
        return (await session.execute(select(Dialog.status))).scalar_one() == status


@pytest.mark.parametrize("failed", [1, 2, 3])
async def test_longpoll_failure_fills_the_gap_without_duplicates(db, vk, vk_settings, shop, tasks, failed):
    realtime, stop, task = await start_realtime(db, tasks, vk_settings, shop, vk.token)
    try:
        await wait_until_listening(vk)
        await vk.sandbox.user_writes(GROUP, 500_000_001, "до сбоя")
        await eventually(lambda: _count_messages(db, 500_000_001, 1))
        # Events are lost (failed 1 and 3 drop them) while the connection is broken: only history has them.
        vk.sandbox.expire_longpoll(GROUP, failed)
        await vk.sandbox.user_writes(GROUP, 500_000_002, "во время сбоя")
        await vk.sandbox.user_writes(GROUP, 500_000_001, "ещё одно")
        vk.sandbox.expire_longpoll(GROUP, failed)
        await eventually(lambda: _count_messages(db, 500_000_002, 1))
        await eventually(lambda: _count_messages(db, 500_000_001, 2))
        await vk.sandbox.user_writes(GROUP, 500_000_002, "после сбоя")
        await eventually(lambda: _count_messages(db, 500_000_002, 2))
    finally:
        stop.set()
        await task
    assert realtime.gap_fills >= 1
    async with db.unit_of_work() as session:
        texts = sorted((await session.execute(select(Message.text))).scalars())
        counts = dict((await session.execute(select(Dialog.external_chat_id, Dialog.message_count))).all())
    assert texts == sorted(["до сбоя", "во время сбоя", "ещё одно", "после сбоя"])
    assert counts == {"500000001": 2, "500000002": 2}
    assert len(tasks.calls[inbox.MIRROR_MESSAGE]) == 4  # every message once, however it arrived


async def test_restart_resumes_from_the_stored_ts(db, vk, vk_settings, shop, tasks):
    # stopped before it ever got an event: what arrives meanwhile still comes in after the restart
    realtime, stop, task = await start_realtime(db, tasks, vk_settings, shop, vk.token)
    await wait_until_listening(vk)
    stop.set()
    await task
    await vk.sandbox.user_writes(GROUP, 500_000_010, "первое")
    realtime, stop, task = await start_realtime(db, tasks, vk_settings, shop, vk.token)
    await eventually(lambda: _count_messages(db, 500_000_010, 1))
    stop.set()
    await task
    # stopped after events: the stored ts continues where it was
    await vk.sandbox.user_writes(GROUP, 500_000_010, "пока нас не было")
    realtime, stop, task = await start_realtime(db, tasks, vk_settings, shop, vk.token)
    try:
        await eventually(lambda: _count_messages(db, 500_000_010, 2))
    finally:
        stop.set()
        await task
    assert realtime.gap_fills == 0  # VK still had the events after our ts: no history needed
    assert [m.text for m in await messages_of(db, 500_000_010)] == ["первое", "пока нас не было"]


async def test_revoked_token_stops_the_channel_with_a_clear_state(db, vk, vk_settings, shop, tasks):
    vk.sandbox.revoke_token(vk.token)
    realtime, stop, task = await start_realtime(db, tasks, vk_settings, shop, vk.token)
    await asyncio.wait_for(task, 10)  # returns by itself: nothing to wait for until a person reconnects it
    async with db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, shop.channel_id)
    assert channel.status == ChannelStatus.REVOKED
    assert "VK отклонил токен" in channel.status_detail and "salesop channel add" in channel.status_detail


async def test_user_account_is_polled_for_new_messages(db, vk, vk_settings, secrets, tasks):
    """VK user accounts have no Bots Long Poll: their conversation list (sorted by activity) is polled; what the
    account owner writes from VK itself is stored as a business reply."""
    from .conftest import make_vk_channel

    account_id = 700_000_123
    token = vk.sandbox.add_user_token(account_id)
    shop = await make_vk_channel(db, secrets, token, kind=ChannelKind.VK_USER, external_id=str(account_id))
    realtime, stop, task = await start_realtime(db, tasks, vk_settings, shop, token)
    try:
        await eventually(lambda: _has_state(db, shop.channel_id))
        api = realtime.api
        sent = (await api.request("messages.send", {"peer_id": 500_000_900, "random_id": 1,
                                                     "message": "Добрый день! Ваш заказ готов"}))["response"]
        await eventually(lambda: _count_messages(db, 500_000_900, 1))
    finally:
        stop.set()
        await task
    [row] = await messages_of(db, 500_000_900)
    assert (row.external_id, row.direction, row.text) == (str(sent), Direction.OUT, "Добрый день! Ваш заказ готов")
    assert tasks.calls[inbox.MIRROR_MESSAGE] == [{"message_id": row.id}] and not tasks.calls[inbox.SUGGEST_REPLY]


async def _has_state(db, channel_id) -> bool:
    async with db.unit_of_work() as session:
        return bool((await session.get(ChannelAccount, channel_id)).update_state.get("last_event_at"))
