"""The inbox persists each live event once, whatever the replays and races."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from core import inbox
from core.inbox import InboundAttachment, InboundMessage, Sender, TrafficInfo
from core.models import (
    Attachment,
    AttachmentKind,
    ChannelAccount,
    ChannelKind,
    Customer,
    Dialog,
    DialogStatus,
    Direction,
    Message,
    MessageEdit,
    TrafficTouch,
)
from core.services.tenants import create_tenant

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


async def _channel(db) -> int:
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="77")
        session.add(channel)
        await session.flush()
        return channel.id


def _msg(channel_id, ext, text="Сколько стоит?", user="501", **kw):
    return InboundMessage(channel_id=channel_id, external_chat_id=user, external_id=ext,
                          sender=Sender(external_user_id=user, first_name="Анна", last_name="Петрова"),
                          sent_at=kw.pop("sent_at", T0), text=text, **kw)


async def _count(db, model) -> int:
    async with db.unit_of_work() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_replay_is_a_no_op(db):
    channel_id = await _channel(db)
    msg = _msg(channel_id, "1", attachments=(InboundAttachment(AttachmentKind.PHOTO, mime="image/jpeg"),))
    async with db.unit_of_work() as session:
        first = await inbox.receive(session, msg)
    async with db.unit_of_work() as session:
        again = await inbox.receive(session, msg)
    assert first.created and first.new_dialog and not again.created
    assert [name for name, _ in first.follow_ups] == [inbox.MIRROR_MESSAGE, inbox.SUGGEST_REPLY]
    assert again.follow_ups == []
    assert (await _count(db, Message), await _count(db, Attachment), await _count(db, Dialog)) == (1, 1, 1)
    async with db.unit_of_work() as session:
        dialog = (await session.execute(select(Dialog))).scalar_one()
        assert (dialog.unread_count, dialog.message_count) == (1, 1)


async def test_concurrent_first_messages_make_one_customer_and_dialog(db):
    channel_id = await _channel(db)

    async def one(ext):
        async with db.unit_of_work() as session:
            return await inbox.receive(session, _msg(channel_id, ext))

    results = await asyncio.gather(*(one(str(i)) for i in range(6)), return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert (await _count(db, Customer), await _count(db, Dialog), await _count(db, Message)) == (1, 1, 6)


async def test_business_reply_from_own_app_clears_unread(db):
    channel_id = await _channel(db)
    async with db.unit_of_work() as session:
        await inbox.receive(session, _msg(channel_id, "1"))
        out = await inbox.receive(session, _msg(channel_id, "2", text="Здравствуйте!", direction=Direction.OUT,
                                                sent_at=T0 + timedelta(minutes=1)))
    assert inbox.SUGGEST_REPLY not in [name for name, _ in out.follow_ups]
    async with db.unit_of_work() as session:
        dialog = (await session.execute(select(Dialog))).scalar_one()
        assert dialog.unread_count == 0 and dialog.last_reply_at == T0 + timedelta(minutes=1)


async def test_edit_keeps_old_text_and_block_makes_dialog_inactive(db):
    channel_id = await _channel(db)
    async with db.unit_of_work() as session:
        await inbox.receive(session, _msg(channel_id, "1", text="old"))
    async with db.unit_of_work() as session:
        assert await inbox.record_edit(session, channel_id, "501", "1", "new", T0) is not None
        assert await inbox.record_edit(session, channel_id, "501", "1", "new", T0) is None  # replay
    assert await _count(db, MessageEdit) == 1
    async with db.unit_of_work() as session:
        assert len(await inbox.set_blocked(session, channel_id, "501", True)) == 1
        dialog = (await session.execute(select(Dialog))).scalar_one()
        assert dialog.status == DialogStatus.INACTIVE
    async with db.unit_of_work() as session:
        await inbox.set_blocked(session, channel_id, "501", False)
        dialog = (await session.execute(select(Dialog))).scalar_one()
        assert dialog.status == DialogStatus.ACTIVE


async def test_traffic_first_and_last_touch(db):
    channel_id = await _channel(db)
    async with db.unit_of_work() as session:
        await inbox.receive(session, _msg(channel_id, "1", traffic=TrafficInfo(source="vk_ads", ref="spring")))
        await inbox.receive(session, _msg(channel_id, "2", traffic=TrafficInfo(source="blogger")))
    async with db.unit_of_work() as session:
        customer = (await session.execute(select(Customer))).scalar_one()
        first = await session.get(TrafficTouch, customer.first_touch_id)
        last = await session.get(TrafficTouch, customer.last_touch_id)
        assert (first.source, first.ref, last.source) == ("vk_ads", "spring", "blogger")
