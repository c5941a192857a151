"""One Telegram account connected both ways (a userbot channel and a Telegram Business channel with the same
external id, the account's user id) is one world in the inbox (core.inbox.home_of), and core.services.business.route
picks the way a reply goes. The end-to-end run through both sandboxes is tests/bot/test_business_userbot.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core import inbox
from core.inbox import InboundMessage, Sender
from core.models import (
    ChannelAccount,
    ChannelKind,
    ChannelStatus,
    Customer,
    CustomerIdentity,
    Dialog,
    Direction,
    Message,
    MessageEdit,
)
from core.services import business
from core.services.tenants import create_tenant

ACCOUNT = "5000000001"
CUSTOMER = "5000000002"


@pytest.fixture
async def shop(db):
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Магазин")
        await session.flush()
        biz = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_BUSINESS, external_id=ACCOUNT,
                             title="Магазин", status=ChannelStatus.ACTIVE,
                             settings={"connection_id": "c1", "rights": {"can_reply": True}})
        session.add(biz)
        await session.flush()
        userbot = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id=ACCOUNT,
                                 title="Магазин", status=ChannelStatus.ACTIVE)
        other = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id="5000000099",
                               title="Другой аккаунт", status=ChannelStatus.ACTIVE)
        session.add_all([userbot, other])
        await session.flush()
        return tenant.id, biz.id, userbot.id, other.id


def _msg(channel_id: int, external_id: int, text: str, *, at: datetime | None = None,
         direction: Direction = Direction.IN) -> InboundMessage:
    return InboundMessage(channel_id=channel_id, external_chat_id=CUSTOMER, external_id=str(external_id),
                          sender=Sender(CUSTOMER, "Анна"), sent_at=at or datetime.now(UTC), text=text,
                          direction=direction)


async def _receive(db, msg: InboundMessage) -> inbox.Received:
    async with db.unit_of_work() as session:
        return await inbox.receive(session, msg)


async def _count(db, model) -> int:
    async with db.unit_of_work() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_a_message_through_both_channels_is_stored_once_in_one_dialog(db, shop):
    _, biz, userbot, other = shop
    first = await _receive(db, _msg(biz, 10, "Здравствуйте"))  # business_message
    again = await _receive(db, _msg(userbot, 10, "Здравствуйте"))  # the same message over MTProto
    assert first.created and not again.created and again.dialog_id == first.dialog_id
    later = await _receive(db, _msg(userbot, 11, "Доставка есть?"))  # seen by the userbot first this time
    assert later.created and later.dialog_id == first.dialog_id and not later.new_dialog
    assert not (await _receive(db, _msg(biz, 11, "Доставка есть?"))).created
    async with db.unit_of_work() as session:
        dialog = await session.get(Dialog, first.dialog_id)
        assert dialog.channel_id == biz and dialog.message_count == 2  # the first registered channel is the home
        [identity] = (await session.execute(select(CustomerIdentity))).scalars()
        assert identity.channel_id == biz
    assert await _count(db, Customer) == 1 and await _count(db, Dialog) == 1

    # edits and deletions through either channel find the message
    async with db.unit_of_work() as session:
        assert await inbox.record_edit(session, userbot, CUSTOMER, "10", "Здравствуйте!", datetime.now(UTC))
        assert await inbox.record_edit(session, biz, CUSTOMER, "10", "Здравствуйте!", datetime.now(UTC)) is None
        assert await inbox.record_deletion(session, biz, CUSTOMER, "11", datetime.now(UTC))
    assert await _count(db, MessageEdit) == 1

    # another account of the tenant is a world of its own
    separate = await _receive(db, _msg(other, 10, "Здравствуйте"))
    assert separate.created and separate.dialog_id != first.dialog_id
    async with db.unit_of_work() as session:
        assert await inbox.home_channel_id(session, other) == other
        assert await inbox.home_channel_id(session, userbot) == biz


async def test_the_route_prefers_business_within_24_hours_and_the_userbot_after(db, shop):
    _, biz, userbot, _ = shop
    now = datetime.now(UTC)
    await _receive(db, _msg(userbot, 20, "Есть размер 42?", at=now - timedelta(hours=2)))
    async with db.unit_of_work() as session:
        route = await business.route(session, userbot, CUSTOMER, now=now)
        assert route.order == ((ChannelKind.TELEGRAM_BUSINESS, biz), (ChannelKind.TELEGRAM_ACCOUNT, userbot))
        assert route.both and route.why_not_business is None
        late = await business.route(session, biz, CUSTOMER, now=now + timedelta(hours=23))
        assert late.first == (ChannelKind.TELEGRAM_ACCOUNT, userbot) and late.why_not_business == "business_window"
        # no userbot running: the business connection is tried, and its refusal explains why
        (await session.get(ChannelAccount, userbot)).status = ChannelStatus.REVOKED  # its session was lost
        await session.flush()
        alone = await business.route(session, biz, CUSTOMER, now=now + timedelta(hours=23))
        assert alone.order == ((ChannelKind.TELEGRAM_BUSINESS, biz),) and alone.why_not_business == "business_window"
        (await session.get(ChannelAccount, userbot)).status = ChannelStatus.ACTIVE
        channel = await session.get(ChannelAccount, biz)
        channel.settings = {**channel.settings, "rights": {}}
        await session.flush()
        no_reply = await business.route(session, biz, CUSTOMER, now=now)
        assert no_reply.first == (ChannelKind.TELEGRAM_ACCOUNT, userbot)
        assert no_reply.why_not_business == business.Refusal.NO_REPLY
        channel.status = ChannelStatus.DISABLED
        await session.flush()
        off = await business.route(session, biz, CUSTOMER, now=now)
        assert off.first == (ChannelKind.TELEGRAM_ACCOUNT, userbot)
        assert off.why_not_business == business.Refusal.DISCONNECTED


async def test_a_userbot_alone_is_routed_to_itself(db, shop):
    _, _, _, other = shop
    async with db.unit_of_work() as session:
        route = await business.route(session, other, CUSTOMER)
    assert route.order == ((ChannelKind.TELEGRAM_ACCOUNT, other),) and not route.both


async def test_the_owners_own_message_through_both_is_one_manager_message(db, shop):
    _, biz, userbot, _ = shop
    await _receive(db, _msg(biz, 30, "Добрый день"))
    typed = await _receive(db, _msg(userbot, 31, "Да, есть", direction=Direction.OUT))
    assert typed.created
    assert not (await _receive(db, _msg(biz, 31, "Да, есть", direction=Direction.OUT))).created
    async with db.unit_of_work() as session:
        out = (await session.execute(select(Message).where(Message.direction == Direction.OUT))).scalars().all()
    assert [m.external_id for m in out] == ["31"]


async def test_migration_0017_moves_the_other_channels_dialogs_home(fresh_db_url):
    """Accounts connected both ways before 0017: the other channel's customers and dialogs move to the home unless
    the home already has that user or chat; the chain's step before 0017 builds the same schema as head."""
    import importlib.util
    from pathlib import Path

    from core import migrate
    from core.db import Database

    path = next(Path(migrate.__file__).parents[1].glob("migrations/versions/0017_*.py"))
    spec = importlib.util.spec_from_file_location("m0017", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    await migrate.upgrade(fresh_db_url, module.down_revision)
    db = Database(fresh_db_url, pool_size=2)
    try:
        async with db.unit_of_work() as session:
            tenant = await create_tenant(session, slug="shop", name="Магазин")
            await session.flush()
            home = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_BUSINESS, external_id=ACCOUNT,
                                  title="Магазин")
            session.add(home)
            await session.flush()
            userbot = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id=ACCOUNT,
                                     title="Магазин")
            session.add(userbot)
            await session.flush()
            ids = {}
            for name, channel in (("only_userbot", userbot), ("both_home", home), ("both_userbot", userbot)):
                chat = "111" if name == "only_userbot" else "222"
                customer = Customer(tenant_id=tenant.id, display_name=name)
                session.add(customer)
                await session.flush()
                session.add(CustomerIdentity(customer_id=customer.id, channel_id=channel.id, external_user_id=chat))
                dialog = Dialog(tenant_id=tenant.id, customer_id=customer.id, channel_id=channel.id,
                                external_chat_id=chat)
                session.add(dialog)
                await session.flush()
                ids[name] = dialog.id
            home_id, userbot_id = home.id, userbot.id
    finally:
        await db.dispose()
    await migrate.upgrade(fresh_db_url, "0017")
    db = Database(fresh_db_url, pool_size=2)
    try:
        async with db.unit_of_work() as session:
            where = {d.id: d.channel_id for d in (await session.execute(select(Dialog))).scalars()}
            identities = {(i.channel_id, i.external_user_id) for i in
                          (await session.execute(select(CustomerIdentity))).scalars()}
    finally:
        await db.dispose()
    assert where == {ids["only_userbot"]: home_id, ids["both_home"]: home_id, ids["both_userbot"]: userbot_id}
    assert identities == {(home_id, "111"), (home_id, "222"), (userbot_id, "222")}
