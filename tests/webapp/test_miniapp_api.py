"""The Mini App API over real HTTP, authenticated with initData signed by the Telegram sandbox."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from aiohttp.test_utils import TestClient, TestServer

from core import inbox
from core.inbox import InboundMessage, Sender, TrafficInfo
from core.models import ChannelAccount, ChannelKind, Customer, Dialog, StaffMember
from core.services.tenants import create_tenant, role_by_code
from sandbox.telegram import TelegramSandbox
from webapp.server import build_app

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


class Ctx:
    """The slice of AppContext the web app uses."""

    def __init__(self, settings, db):
        self.settings, self.db, self.embedded = settings, db, False


@pytest.fixture
async def world(db, settings):
    tg = TelegramSandbox()
    settings.telegram.bot_token = SecretStr(tg.bot_token)
    people = {name: tg.create_user(name)["id"] for name in ("owner", "manager", "stranger", "fired")}
    async with db.unit_of_work() as session:
        shop = await create_tenant(session, slug="shop", name="Shop")
        other = await create_tenant(session, slug="other", name="Other")
        for name, role in (("owner", "owner"), ("manager", "manager"), ("fired", "manager")):
            session.add(StaffMember(tenant_id=shop.id, role_id=(await role_by_code(session, shop.id, role)).id,
                                    telegram_user_id=people[name], name=name, is_active=name != "fired"))
        channel = ChannelAccount(tenant_id=shop.id, kind=ChannelKind.VK_COMMUNITY, external_id="1", title="VK shop")
        foreign = ChannelAccount(tenant_id=other.id, kind=ChannelKind.VK_COMMUNITY, external_id="2")
        session.add_all([channel, foreign])
        await session.flush()
        got = await inbox.receive(session, InboundMessage(
            channel_id=channel.id, external_chat_id="501", external_id="1", sent_at=T0, text="<b>Цена?</b>",
            sender=Sender("501", "Анна", "Петрова", phone="+79990001122", profile_url="https://vk.com/id501"),
            traffic=TrafficInfo(source="vk_ads", campaign="spring")))
        customer = await session.get(Customer, (await session.get(Dialog, got.dialog_id)).customer_id)
        customer.tags = ["vip"]
        # A dialog with no messages (e.g. a conversation VK lists but that holds nothing) is not a dialog.
        session.add(Dialog(tenant_id=shop.id, customer_id=customer.id, channel_id=channel.id, external_chat_id="x"))
        theirs = await inbox.receive(session, InboundMessage(
            channel_id=foreign.id, external_chat_id="9", external_id="1", sent_at=T0, text="hi", sender=Sender("9")))
    client = TestClient(TestServer(build_app(Ctx(settings, db))))
    await client.start_server()
    yield {"tg": tg, "people": people, "client": client, "shop": shop.id, "dialog": got.dialog_id,
           "foreign_dialog": theirs.dialog_id}
    await client.close()


def auth(world, who, **kw):
    return {"Authorization": "tma " + world["tg"].init_data(world["people"][who], **kw)}


async def test_manager_sees_tags_not_profile_link_or_traffic_source(world):
    client = world["client"]
    resp = await client.get(f"/api/dialogs?tenant={world['shop']}", headers=auth(world, "manager"))
    assert resp.status == 200
    dialogs = (await resp.json())["dialogs"]
    assert [d["id"] for d in dialogs] == [world["dialog"]]  # the zero-message dialog is not listed
    customer = dialogs[0]["customer"]
    assert customer["tags"] == ["vip"] and customer["phone"] == "+79990001122"
    assert "profile_link" not in customer and "traffic_source" not in customer

    history = await (await client.get(f"/api/dialogs/{world['dialog']}", headers=auth(world, "owner"))).json()
    assert history["dialog"]["customer"]["profile_link"] == "https://vk.com/id501"
    assert history["dialog"]["customer"]["traffic_source"] == {"source": "vk_ads", "campaign": "spring"}
    assert [m["text"] for m in history["messages"]] == ["<b>Цена?</b>"]


@pytest.mark.parametrize("who, path, status", [
    ("stranger", "/api/me", 403),
    ("fired", "/api/dialogs/{dialog}", 403),
    ("manager", "/api/dialogs/{foreign_dialog}", 403),
])
async def test_refusals(world, who, path, status):
    resp = await world["client"].get(path.format(**world), headers=auth(world, who))
    assert resp.status == status and "error" in await resp.json()


async def test_bad_or_expired_init_data_is_refused(world):
    client = world["client"]
    assert (await client.get("/api/me")).status == 401
    good = world["tg"].init_data(world["people"]["owner"])
    tampered = good.replace("auth_date=", "auth_date=1")
    assert (await client.get("/api/me", headers={"Authorization": "tma " + tampered})).status == 401
    stale = auth(world, "owner", auth_date=int(time.time()) - 2 * 86400)
    resp = await client.get("/api/me", headers=stale)
    assert resp.status == 401 and "expired" in (await resp.json())["error"]
    me = await (await client.get("/api/me", headers=auth(world, "owner"))).json()
    assert me["memberships"][0]["role"]["code"] == "owner"


async def test_page_is_served(world):
    resp = await world["client"].get("/dialogs/1")
    assert resp.status == 200 and "app.js" in await resp.text()
