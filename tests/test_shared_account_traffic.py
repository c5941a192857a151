"""Traffic and the dialog list for a Telegram account connected both ways (userbot + Telegram Business, one world:
core.inbox.home_of). A message arriving through both ways is stored once — through whichever came first — so each
way must read its UTM tags (the bot from text_link entities as the userbot from MessageEntityTextUrl), and the touch
is recorded once, under the home channel's kind: the traffic report counts the dialog once. The dialog list's channel
filter finds the account's dialogs by either of its channels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiogram.types import Message as BotMessage
from sqlalchemy import select

from bot.handlers.business import inbound as business_inbound
from core import inbox
from core.inbox import InboundMessage, Sender, TrafficInfo
from core.models import ChannelAccount, ChannelKind, ChannelStatus, Customer, TrafficTouch
from core.services import dialog_search, traffic
from core.services.analytics import Period
from core.services.tenants import create_tenant
from sandbox.mtproto import MTProtoSandbox
from sandbox.telegram import TelegramSandbox

ACCOUNT = "5000000001"
AD = "https://shop.example/?utm_source=telegram_ads&utm_campaign=spring"


@pytest.fixture
async def shop(db):
    """The account connected through Business first (the home), then as a userbot; another account apart."""
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


def _msg(channel_id: int, customer: str, name: str, external_id: int, text: str, utm: bool) -> InboundMessage:
    tags = TrafficInfo(source="telegram_ads", campaign="spring", raw={"utm_source": "telegram_ads"}) if utm else None
    return InboundMessage(channel_id=channel_id, external_chat_id=customer, external_id=str(external_id),
                          sender=Sender(customer, name), sent_at=datetime.now(UTC), text=text, traffic=tags)


async def _receive(db, msg: InboundMessage) -> inbox.Received:
    async with db.unit_of_work() as session:
        return await inbox.receive(session, msg)


async def _listed(db, tenant_id: int, channel_id: int) -> list[int]:
    async with db.unit_of_work() as session:
        page = await dialog_search.search(session, tenant_id, dialog_search.Filters(channel_id=channel_id))
    return sorted(page.dialog_ids)


async def test_a_shared_dialog_is_one_touch_under_the_home_kind_and_found_by_either_channel(db, shop):
    tenant_id, biz, userbot, other = shop
    # Anna's first message, with an ad's link, reaches the userbot first, then the bot: one message, one touch.
    anna = await _receive(db, _msg(userbot, "6000000001", "Анна", 10, "Здравствуйте (по ссылке)", utm=True))
    again = await _receive(db, _msg(biz, "6000000001", "Анна", 10, "Здравствуйте (по ссылке)", utm=True))
    assert anna.created and not again.created
    # Boris writes through the bot first (then the userbot); Vera writes to the other account.
    boris = await _receive(db, _msg(biz, "6000000002", "Борис", 11, "Добрый день (по ссылке)", utm=True))
    await _receive(db, _msg(userbot, "6000000002", "Борис", 11, "Добрый день (по ссылке)", utm=True))
    vera = await _receive(db, _msg(other, "6000000003", "Вера", 1, "Привет", utm=False))
    async with db.unit_of_work() as session:
        touches = (await session.execute(select(Customer.display_name, TrafficTouch.channel_kind).join(
            Customer, Customer.id == TrafficTouch.customer_id).order_by(TrafficTouch.id))).all()
    assert touches == [("Анна", ChannelKind.TELEGRAM_BUSINESS), ("Борис", ChannelKind.TELEGRAM_BUSINESS)]

    # The report by channel counts each dialog once: the account's under its home kind, whichever way it came.
    now = datetime.now(UTC)
    async with db.unit_of_work() as session:
        rows = await traffic.report(session, tenant_id, Period(now - timedelta(days=1), now + timedelta(hours=1),
                                                               "UTC"), by=("channel", "source"))
    assert sorted((r.keys["channel"], r.keys["source"], r.dialogs) for r in rows if r.keys["channel"]) == [
        ("telegram_business", "telegram_ads", 2)]
    assert sum(r.dialogs for r in rows) == 3

    # The dialog list's channel filter: either channel of the account finds its dialogs; the other account's apart.
    shared = sorted([anna.dialog_id, boris.dialog_id])
    assert await _listed(db, tenant_id, biz) == shared
    assert await _listed(db, tenant_id, userbot) == shared
    assert await _listed(db, tenant_id, other) == [vera.dialog_id]


@pytest.fixture
async def linked():
    tg, mtproto = TelegramSandbox(), MTProtoSandbox()
    await mtproto.start()
    tg.business.link(mtproto)
    yield tg, mtproto
    await mtproto.stop()


async def test_the_bot_reads_utm_tags_behind_text_as_the_userbot_does(linked):
    """A customer's message with a link behind text, over MTProto, reaches the bot as a business_message whose
    text_link entity carries the link; the bot's ingest reads its UTM tags."""
    tg, mtproto = linked
    account = mtproto.create_account("+79990005566", "Ольга", "Магазин")
    customer = mtproto.create_customer("Анна", None)
    tg.business.connect(account.user.id)
    await mtproto.customer_writes(account.user.id, customer.id, "Нашла вас по ссылке", links=[("по ссылке", AD)])
    [update] = [u["business_message"] for u in tg._updates if "business_message" in u]
    assert update["entities"] == [{"type": "text_link", "offset": 10, "length": 9, "url": AD}]

    channel = ChannelAccount(id=1, tenant_id=1, kind=ChannelKind.TELEGRAM_BUSINESS, external_id=str(account.user.id))
    msg, _ = business_inbound(channel, BotMessage.model_validate(update))
    assert msg.traffic is not None
    assert (msg.traffic.source, msg.traffic.campaign) == ("telegram_ads", "spring")
    # plain links in the text count too; the shop's own message is no customer's touch
    tg.business.write(customer.id, account.user.id, customer.id, f"и ещё {AD.replace('spring', 'autumn')}")
    own = tg.business.write(account.user.id, account.user.id, customer.id, f"Наш сайт: {AD}")
    updates = [u["business_message"] for u in tg._updates if "business_message" in u]
    assert business_inbound(channel, BotMessage.model_validate(updates[1]))[0].traffic.campaign == "autumn"
    assert business_inbound(channel, BotMessage.model_validate(own))[0].traffic is None
