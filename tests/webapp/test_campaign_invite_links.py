"""Telegram attribution as it really works, end to end on the sandbox Bot API, the real aiogram bot and the Mini App
API: a campaign's invite link to a channel made from the traffic page (createChatInviteLink), people joining through
it (chat_member with the link) or asking to (chat_join_request, approved by the bot), the join becoming the touch of
the customer that person is or becomes (matched by Telegram user id), revoking; and a campaign code in a customer's
first message found by the tenant's pattern."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from core.models import CampaignJoin, Customer, CustomerIdentity, TrafficTouch
from core.services import tenant_settings
from core.settings import Settings
from sandbox.telegram.state import LinkRefused
from tests.bot.desk import build_desk, close_desk
from webapp.server import build_app

from .browser import Ctx

ADMIN = {"can_invite_users": True, "can_post_messages": True}


@pytest.fixture
async def desk(settings: Settings):
    desk, resources = await build_desk(database_url=settings.db.database_url.get_secret_value(),
                                       master_key=settings.security.master_key.get_secret_value(),
                                       data_dir=settings.data_dir)
    # The bot asks for the updates its handlers use, as bot.component does: chat_member is sent only when asked.
    await desk.bot.get_updates(offset=desk.offset, timeout=0, allowed_updates=desk.dp.resolve_used_update_types())
    yield desk
    await close_desk(resources)


@pytest.fixture
async def app(desk):
    client = TestClient(TestServer(build_app(Ctx(desk.ctx.settings, desk.ctx.db), telegram_sdk="/sdk.js")))
    await client.start_server()
    yield client
    await client.close()


async def _customer_of(desk, user: dict) -> Customer:
    async with desk.db.unit_of_work() as session:
        identity = (await session.execute(select(CustomerIdentity).where(
            CustomerIdentity.external_user_id == str(user["id"])))).scalar_one()
        return await session.get(Customer, identity.customer_id)


async def _touch(desk, touch_id: int) -> TrafficTouch:
    async with desk.db.unit_of_work() as session:
        return await session.get(TrafficTouch, touch_id)


async def test_a_channel_invite_link_counts_joins_and_the_dialogs_of_who_joined(desk, app):
    owner = {"Authorization": "tma " + desk.sb.init_data(desk.owner["id"])}
    made = await app.post("/api/traffic/campaigns", json={"name": "Весна в канале", "source": "tg_channel"},
                          headers=owner)
    code = (await made.json())["created"]
    channel = desk.sb.create_channel("Новости магазина", bot_rights=ADMIN, owner_id=desk.owner["id"])["id"]
    foreign = desk.sb.create_channel("Чужой канал", bot_rights=ADMIN)["id"]
    no_bot = desk.sb.create_channel("Без бота", owner_id=desk.owner["id"])["id"]

    # Only a chat the asker administers, where the bot may invite, gets a link.
    refused = await app.post(f"/api/traffic/campaigns/{code}/invite-links", json={"chat": str(foreign)}, headers=owner)
    assert refused.status == 403 and "администратор" in (await refused.json())["error"]
    refused = await app.post(f"/api/traffic/campaigns/{code}/invite-links", json={"chat": no_bot}, headers=owner)
    assert refused.status == 400 and "Бот не видит" in (await refused.json())["error"]
    refused = await app.post(f"/api/traffic/campaigns/{code}/invite-links", json={"chat": "канал"}, headers=owner)
    assert refused.status == 400 and "не чат" in (await refused.json())["error"]
    missing = await app.post("/api/traffic/campaigns/c1_nope_000000/invite-links", json={"chat": channel},
                             headers=owner)
    assert missing.status == 404

    made = await app.post(f"/api/traffic/campaigns/{code}/invite-links", json={"chat": str(channel)}, headers=owner)
    assert made.status == 201, await made.text()
    body = await made.json()
    url = body["created"]
    [link] = body["campaigns"][0]["invite_links"]
    assert (link["url"], link["name"], link["chat_title"], link["joins"]) == (url, "Весна в канале", "Новости магазина", 0)
    assert body["chats"] == [{"id": channel, "title": "Новости магазина", "type": "channel"}]
    [in_telegram] = desk.sb.chat(channel)["invite_links"]
    assert (in_telegram["invite_link"], in_telegram["name"]) == (url, "Весна в канале")

    # Anna joins the channel through the link; she is no customer yet: the join waits for her.
    anna = desk.customer("Анна", "Петрова")
    assert desk.sb.join_by_link(anna["id"], url)["outcome"] == "joined"
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        [join] = (await session.execute(select(CampaignJoin))).scalars().all()
        assert (await session.execute(select(TrafficTouch))).scalars().all() == []
    assert (join.telegram_user_id, join.state, join.first_name) == (anna["id"], "joined", "Анна")

    # Boris wrote to the shop before; then he joins: his touch is recorded at once and is his last.
    boris = desk.customer("Борис", None)
    await desk.customer_writes(boris, "Добрый день")
    desk.sb.join_by_link(boris["id"], url)
    await desk.settle()
    boris_customer = await _customer_of(desk, boris)
    last = await _touch(desk, boris_customer.last_touch_id)
    assert (last.campaign, last.source, last.medium, last.ref) == ("Весна в канале", "tg_channel", "invite_link", code)

    # Anna writes to the shop's Telegram account: her customer gets the join as the first touch, and her dialog counts
    # for the campaign in the report.
    await desk.customer_writes(anna, "Здравствуйте, сколько стоит чайник?")
    anna_customer = await _customer_of(desk, anna)
    first = await _touch(desk, anna_customer.first_touch_id)
    assert (first.campaign, first.medium, first.raw["invite_link"]) == ("Весна в канале", "invite_link", url)
    assert first.touched_at == join.joined_at
    report = await (await app.get("/api/traffic?period=7", headers=owner)).json()
    rows = {r["touch"]: r for r in report["charts"][0]["rows"]}
    # Boris had no touch before: the join is his first known one too (as a UTM link in a later message would be).
    assert rows["tg_channel / Весна в канале"]["dialogs"] == 2
    last_report = await (await app.get("/api/traffic?period=7&touch=last", headers=owner)).json()
    assert {r["touch"]: r["dialogs"] for r in last_report["charts"][0]["rows"]}["tg_channel / Весна в канале"] == 2
    listed = await (await app.get("/api/traffic/campaigns", headers=owner)).json()
    assert listed["campaigns"][0]["invite_links"][0]["joins"] == 2
    assert listed["campaigns"][0]["customers"] == 2

    # The shop's own people trying the link are not counted.
    desk.sb.join_by_link(desk.manager["id"], url)
    await desk.settle()
    listed = await (await app.get("/api/traffic/campaigns", headers=owner)).json()
    assert listed["campaigns"][0]["invite_links"][0]["joins"] == 2

    # A redelivered join changes nothing (same person, same link).
    async with desk.db.unit_of_work() as session:
        before = len((await session.execute(select(TrafficTouch))).scalars().all())
    desk.sb.set_member(channel, anna["id"], "left")
    desk.sb.join_by_link(anna["id"], url)
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        assert len((await session.execute(select(TrafficTouch))).scalars().all()) == before

    # Revoked from the page: Telegram revokes it, nobody joins through it any more, the joins stay counted.
    revoked = await app.post(f"/api/traffic/invite-links/{link['id']}/revoke", json={}, headers=owner)
    assert revoked.status == 200
    assert (await revoked.json())["campaigns"][0]["invite_links"][0]["is_revoked"] is True
    assert desk.sb.chat(channel)["invite_links"][0]["is_revoked"] is True
    with pytest.raises(LinkRefused):
        desk.sb.join_by_link(desk.customer("Вика", None)["id"], url)

    # Managers neither see nor make links.
    manager = {"Authorization": "tma " + desk.sb.init_data(desk.manager["id"])}
    assert (await app.post(f"/api/traffic/campaigns/{code}/invite-links", json={"chat": channel},
                           headers=manager)).status == 403


async def test_join_requests_are_approved_by_the_bot_and_counted(desk, app):
    owner = {"Authorization": "tma " + desk.sb.init_data(desk.owner["id"])}
    code = (await (await app.post("/api/traffic/campaigns", json={"name": "Закрытый клуб"}, headers=owner)).json())["created"]
    group = desk.sb.create_forum_group("Клуб покупателей", bot_rights={"can_invite_users": True}, is_forum=False,
                                       owner_id=desk.owner["id"])["id"]
    made = await app.post(f"/api/traffic/campaigns/{code}/invite-links",
                          json={"chat": group, "creates_join_request": True}, headers=owner)
    assert made.status == 201, await made.text()
    url = (await made.json())["created"]
    vera = desk.customer("Вера", None)
    assert desk.sb.join_by_link(vera["id"], url)["outcome"] == "join_request_sent"
    await desk.settle()  # the request is recorded, approved after the commit; the approval's chat_member records the join
    await desk.settle()
    assert desk.sb.chat(group)["join_requests"] == []
    assert any(m["user"]["id"] == vera["id"] and m["status"] == "member" for m in desk.sb.chat(group)["members"])
    listed = await (await app.get("/api/traffic/campaigns", headers=owner)).json()
    [link] = listed["campaigns"][0]["invite_links"]
    assert (link["joins"], link["requests"], link["creates_join_request"]) == (1, 0, True)
    await desk.customer_writes(vera, "Привет! Хочу в клуб")
    first = await _touch(desk, (await _customer_of(desk, vera)).first_touch_id)
    assert (first.campaign, first.ref, first.medium) == ("Закрытый клуб", code, "invite_link")


async def test_a_campaign_code_in_the_first_message_is_a_touch(desk, app):
    owner = {"Authorization": "tma " + desk.sb.init_data(desk.owner["id"])}
    code = (await (await app.post("/api/traffic/campaigns", json={"name": "Осень", "source": "instagram"},
                                  headers=owner)).json())["created"]
    async with desk.db.unit_of_work() as session:
        with pytest.raises(tenant_settings.SettingsError, match="exactly one group"):
            await tenant_settings.update_from_text(session, desk.tenant_id, ["campaign_code_pattern=promo \\w+"])
        await tenant_settings.update_from_text(session, desk.tenant_id,
                                               [r"campaign_code_pattern=(?:промокод|promo)[:\s]*([\w-]+)"])
    anna, boris, vera = desk.customer("Анна", None), desk.customer("Борис", None), desk.customer("Вера", None)
    await desk.customer_writes(anna, "Здравствуйте! Промокод: SPRING24, хочу скидку")
    await desk.customer_writes(boris, f"promo {code}")  # a campaign's own code: it counts for that campaign
    await desk.customer_writes(vera, "Здравствуйте")
    await desk.customer_writes(vera, "промокод LATE")  # not the first message: nothing
    spring = await _touch(desk, (await _customer_of(desk, anna)).first_touch_id)
    assert (spring.campaign, spring.ref, spring.medium, spring.source) == ("SPRING24", "SPRING24", "message_code", None)
    autumn = await _touch(desk, (await _customer_of(desk, boris)).first_touch_id)
    assert (autumn.campaign, autumn.ref, autumn.source) == ("Осень", code, "instagram")
    assert (await _customer_of(desk, vera)).first_touch_id is None
    report = await (await app.get("/api/traffic?period=7&by=campaign", headers=owner)).json()
    rows = {r["touch"]: r["dialogs"] for r in report["charts"][0]["rows"]}
    assert (rows["SPRING24"], rows["Осень"]) == (1, 1)
