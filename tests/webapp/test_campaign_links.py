"""A campaign link made on the traffic page, followed by a customer: `/start <code>` in the bot records the touch on
the shop's Telegram channel, the customer is told where to write, and what they write later counts for the campaign
in the traffic report."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from core.models import Customer, CustomerIdentity, TrafficTouch
from core.settings import Settings
from tests.bot.desk import build_desk, close_desk
from webapp.server import build_app

from .browser import Ctx


@pytest.fixture
async def desk(settings: Settings):
    desk, resources = await build_desk(database_url=settings.db.database_url.get_secret_value(),
                                       master_key=settings.security.master_key.get_secret_value(),
                                       data_dir=settings.data_dir)
    yield desk
    await close_desk(resources)


async def test_a_campaign_link_brings_a_customer_whose_dialog_counts_for_the_campaign(desk):
    app = TestClient(TestServer(build_app(Ctx(desk.ctx.settings, desk.ctx.db), telegram_sdk="/sdk.js")))
    await app.start_server()
    try:
        owner = {"Authorization": "tma " + desk.sb.init_data(desk.owner["id"])}
        made = await app.post("/api/traffic/campaigns", json={"name": "Весна в канале", "source": "tg_channel"},
                              headers=owner)
        assert made.status == 201
        body = await made.json()
        [campaign] = body["campaigns"]
        code = body["created"]
        bot = desk.sb.bot_user["username"]
        assert campaign["name"] == "Весна в канале" and campaign["source"] == "tg_channel"
        assert {"kind": "telegram", "url": f"https://t.me/{bot}?start={code}"} in campaign["links"]
        again = await app.post("/api/traffic/campaigns", json={"name": "весна в канале"}, headers=owner)
        assert again.status == 400 and "есть" in (await again.json())["error"]

        # A customer opens the link: Telegram sends /start <code> to the bot.
        anna = desk.customer("Анна", "Петрова")
        await desk.sb.user_sends(anna["id"], anna["id"], f"/start {code}")
        await desk.settle()
        [reply] = [m for m in desk.sb.chat(anna["id"])["messages"] if m["by_bot"]]
        assert "Магазин" in reply["text"] and "Напишите нам" in reply["text"]
        async with desk.db.unit_of_work() as session:
            touch = (await session.execute(select(TrafficTouch))).scalar_one()
            identity = (await session.execute(select(CustomerIdentity).where(
                CustomerIdentity.external_user_id == str(anna["id"])))).scalar_one()
            customer = await session.get(Customer, identity.customer_id)
        assert (touch.campaign, touch.source, touch.medium, touch.ref) == ("Весна в канале", "tg_channel",
                                                                           "bot_link", code)
        assert identity.channel_id == desk.channel_id and customer.first_touch_id == touch.id

        # She writes to the shop's Telegram account: the same customer, so the dialog counts for the campaign.
        received = await desk.customer_writes(anna, "Здравствуйте, сколько стоит чайник?")
        await desk.settle()
        report = await (await app.get("/api/traffic?period=7", headers=owner)).json()
        rows = {r["touch"]: r for r in report["charts"][0]["rows"]}
        assert rows["tg_channel / Весна в канале"]["dialogs"] == 1
        listed = await (await app.get("/api/traffic/campaigns", headers=owner)).json()
        assert (listed["campaigns"][0]["customers"], listed["campaigns"][0]["dialogs"]) == (1, 1)
        assert received.dialog_id

        # A staff member trying their own link is greeted as staff, and no touch is made for them.
        await desk.sb.user_sends(desk.manager["id"], desk.manager["id"], f"/start {code}")
        await desk.settle()
        async with desk.db.unit_of_work() as session:
            assert len((await session.execute(select(TrafficTouch))).scalars().all()) == 1
        assert [m for m in desk.sb.chat(desk.manager["id"])["messages"] if m["by_bot"]]

        # Managers do not see the campaigns.
        manager = {"Authorization": "tma " + desk.sb.init_data(desk.manager["id"])}
        assert (await app.get("/api/traffic/campaigns", headers=manager)).status == 403
    finally:
        await app.close()
