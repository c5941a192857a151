"""Staff and roles in the Mini App API over real HTTP (initData signed by the Telegram sandbox): who may open them,
the role editor's rules, and what a change does at once — to the Mini App's answers and to the cards in the managers'
topics (driven through the sandbox Bot API desk: the real bot, outbox and dispatcher)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import select

from core import inbox
from core.inbox import InboundMessage, Sender
from core.models import ChannelAccount, ChannelKind, Customer, Dialog, Event, ManagerGroup, StaffMember
from core.services import roles as roles_service
from core.services import staff
from core.services.tenants import create_tenant
from sandbox.runner import serve
from sandbox.telegram import TelegramSandbox
from tests.bot.desk import build_desk, close_desk
from webapp.server import build_app

from .browser import Ctx


@pytest.fixture
async def shop(db, settings):
    tg = TelegramSandbox()
    settings.telegram.bot_token = SecretStr(tg.bot_token)
    runner, settings.telegram.telegram_api_url = await serve(tg.app)  # getMe names the bot for invitation links
    users = {name: tg.create_user(name, language_code=lang) for name, lang in
             (("Olga", "en"), ("Ivan", "en"), ("Pyotr", "ru"), ("Adam", "en"))}
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        await session.flush()
        for name, role in (("Olga", "owner"), ("Ivan", "manager"), ("Pyotr", "manager"), ("Adam", "admin")):
            made = await staff.create_invitation(session, tenant.id, role, actor=None, via="cli")
            await staff.claim_invitation(session, made.token, telegram_user_id=users[name]["id"], first_name=name,
                                         language_code=users[name]["language_code"])
        session.add(ManagerGroup(tenant_id=tenant.id, chat_id=-100500, title="Managers", is_forum=True))
        channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="1", title="VK")
        session.add(channel)
        await session.flush()
        got = await inbox.receive(session, InboundMessage(
            channel_id=channel.id, external_chat_id="501", external_id="1", text="Цена?",
            sent_at=datetime.now(UTC),
            sender=Sender("501", "Анна", "Петрова", phone="+79990001122", profile_url="https://vk.com/id501")))
    client = TestClient(TestServer(build_app(Ctx(settings, db))))
    await client.start_server()
    yield {"tg": tg, "client": client, "db": db, "tenant": tenant.id, "users": users, "dialog": got.dialog_id}
    await client.close()
    await runner.cleanup()


def auth(shop, who):
    return {"Authorization": "tma " + shop["tg"].init_data(shop["users"][who]["id"])}


async def _staff_id(shop, who) -> int:
    async with shop["db"].unit_of_work() as session:
        return await staff.staff_id_of(session, shop["tenant"], shop["users"][who]["id"])


async def test_a_manager_cannot_open_staff_or_roles(shop):
    client = shop["client"]
    target = await _staff_id(shop, "Pyotr")
    for method, path, body in (("GET", "/api/staff", None), ("GET", "/api/roles", None),
                               ("GET", "/view/staff", None), ("GET", "/view/roles", None),
                               ("POST", "/api/roles/manager", {"hidden_fields": []}),
                               ("POST", "/api/staff/invitations", {"role": "manager"}),
                               ("POST", f"/api/staff/{target}/role", {"role": "admin"}),
                               ("POST", f"/api/staff/{target}/remove", {})):
        response = await client.request(method, path, json=body, headers=auth(shop, "Ivan"))
        assert response.status == 403, (path, response.status)
        assert "Pyotr" not in await response.text()
    async with shop["db"].unit_of_work() as session:
        pyotr = await session.get(StaffMember, target)
        assert pyotr.is_active and pyotr.role.code == "manager"  # nothing changed
    # the navigation a manager gets names neither page
    nav = (await (await client.get("/view/dialogs", headers=auth(shop, "Ivan"))).json())["nav"]
    assert {i["name"] for i in nav}.isdisjoint({"staff", "roles"})
    nav = (await (await client.get("/view/dialogs", headers=auth(shop, "Olga"))).json())["nav"]
    assert {"staff", "roles"} <= {i["name"] for i in nav}


async def test_the_staff_page_lists_people_invites_and_changes_roles(shop):
    client = shop["client"]
    data = await (await client.get("/api/staff", headers=auth(shop, "Olga"))).json()
    people = {p["name"]: p for p in data["staff"]}
    assert set(people) == {"Olga", "Ivan", "Pyotr", "Adam"}
    assert people["Ivan"]["role"] == "manager" and people["Olga"]["is_me"]
    assert people["Ivan"]["groups"] == [{"id": people["Ivan"]["groups"][0]["id"], "title": "Managers"}]
    assert people["Ivan"]["last_active_at"]  # joining is an action of theirs
    made = await (await client.post("/api/staff/invitations", json={"role": "viewer", "days": 1},
                                    headers=auth(shop, "Olga"))).json()
    assert made["role"] == "viewer" and made["link"].startswith("https://t.me/")
    assert made["link"].endswith("?start=" + made["token"])
    data = await (await client.get("/api/staff", headers=auth(shop, "Olga"))).json()
    assert [i["role"] for i in data["invitations"]] == ["viewer"]
    assert data["invitations"][0]["created_by"] == "Olga"
    # the link works like one made in the bot: the person joins with that role
    newcomer = shop["tg"].create_user("Nina")
    async with shop["db"].unit_of_work() as session:
        joined = await staff.claim_invitation(session, made["token"], telegram_user_id=newcomer["id"],
                                              first_name="Nina")
    assert joined.role_code == "viewer"

    ivan = people["Ivan"]["id"]
    response = await client.post(f"/api/staff/{ivan}/role", json={"role": "analyst"}, headers=auth(shop, "Olga"))
    assert response.status == 200 and (await response.json())["staff"]["role"] == "analyst"
    # at once: Ivan's next request is an analyst's (no dialogs any more)
    assert (await client.get("/api/dialogs", headers=auth(shop, "Ivan"))).status == 403
    # an admin cannot make an owner; the refusal is in the admin's language
    response = await client.post(f"/api/staff/{ivan}/role", json={"role": "owner"}, headers=auth(shop, "Adam"))
    assert response.status == 400
    assert (await response.json())["error"] == "Only an owner can make, change or remove an owner."


async def test_removing_a_person_in_the_mini_app_ends_their_access_at_once(shop):
    client = shop["client"]
    ivan = await _staff_id(shop, "Ivan")
    signed_before = auth(shop, "Ivan")  # initData still valid after the removal
    assert (await client.get(f"/api/dialogs/{shop['dialog']}", headers=signed_before)).status == 200
    response = await client.post(f"/api/staff/{ivan}/remove", json={}, headers=auth(shop, "Olga"))
    assert response.status == 200
    assert (await response.json())["groups"] == 1
    for path in ("/api/me", "/api/dialogs", f"/api/dialogs/{shop['dialog']}", "/view/dialogs"):
        assert (await client.get(path, headers=signed_before)).status == 403, path
    async with shop["db"].unit_of_work() as session:
        removal = (await session.execute(select(Event).where(Event.kind == "staff_removed"))).scalar_one()
        assert removal.payload["via"] == "miniapp" and removal.payload["staff_id"] == ivan
        assert removal.actor_staff_id == await staff.staff_id_of(session, shop["tenant"], shop["users"]["Olga"]["id"])
    data = await (await client.get("/api/staff", headers=auth(shop, "Olga"))).json()
    assert {p["name"]: p["active"] for p in data["staff"]}["Ivan"] is False
    # removing oneself is refused
    me = await _staff_id(shop, "Olga")
    assert (await client.post(f"/api/staff/{me}/remove", json={}, headers=auth(shop, "Olga"))).status == 400


async def test_the_role_editor_keeps_its_rules(shop):
    client = shop["client"]
    olga, adam = auth(shop, "Olga"), auth(shop, "Adam")

    async def post(who, code, body):
        response = await client.post(f"/api/roles/{code}", json=body, headers=who)
        return response.status, await response.json()

    status, body = await post(olga, "owner", {"permissions": ["view_conversations"]})
    assert status == 400 and "always grants" in body["error"]
    status, body = await post(adam, "owner", {"hidden_fields": ["phone"]})
    assert status == 400 and body["error"] == "Only an owner can change the owner role."
    # an admin cannot grant what they lack (admins have every permission but deleting customer data)
    status, body = await post(adam, "manager", {"permissions": ["view_conversations", "delete_customer_data"]})
    assert status == 400 and "delete_customer_data" in body["error"]
    # nor take MANAGE_USERS from their own role
    admin_permissions = [p for p in roles_service.PERMISSIONS if p not in ("delete_customer_data", "manage_users")]
    status, body = await post(adam, "admin", {"permissions": admin_permissions})
    assert status == 400 and "own role" in body["error"]
    status, body = await post(olga, "manager", {"hidden_fields": ["nonsense"]})
    assert status == 400 and "nonsense" in body["error"]
    status, _ = await post(olga, "nobody", {"hidden_fields": []})
    assert status == 400
    # the owner may take MANAGE_USERS from admins (the owner role keeps it)
    status, body = await post(olga, "admin", {"permissions": admin_permissions})
    assert status == 200 and "manage_users" not in body["role"]["permissions"]
    assert (await client.get("/api/roles", headers=adam)).status == 403
    async with shop["db"].unit_of_work() as session:
        events = (await session.execute(select(Event).where(Event.kind == "role_changed"))).scalars().all()
    assert len(events) == 1 and events[0].payload["revoked"] == ["manage_users"]
    assert events[0].payload["role"] == "admin" and events[0].payload["via"] == "miniapp"


async def test_hidden_fields_never_leave_the_server_and_cannot_be_searched(shop):
    client = shop["client"]
    ivan = auth(shop, "Ivan")
    row = (await (await client.get("/api/dialogs", headers=ivan)).json())["dialogs"][0]
    assert row["customer"]["phone"] == "+79990001122"
    assert "profile_link" not in row["customer"] and "email" not in row["customer"]
    page = await (await client.get(f"/api/dialogs/{shop['dialog']}", headers=ivan)).json()
    assert "profile_link" not in page["dialog"]["customer"] and "ai_cost_usd" not in page["dialog"]
    assert "ai_cost_usd" in (await (await client.get(f"/api/dialogs/{shop['dialog']}",
                                                     headers=auth(shop, "Olga"))).json())["dialog"]
    # found by phone while the phone is visible…
    assert [d["id"] for d in (await (await client.get("/api/dialogs?q=0001122", headers=ivan)).json())["dialogs"]] \
        == [shop["dialog"]]
    response = await client.post("/api/roles/manager", headers=auth(shop, "Olga"), json={
        "hidden_fields": ["phone", "profile_link", "traffic_source", "ai_cost", "email"]})
    assert response.status == 200
    # …and once hidden: absent from every answer, and searching for it finds nothing
    for body in ((await (await client.get("/api/dialogs", headers=ivan)).json())["dialogs"][0],
                 (await (await client.get(f"/api/dialogs/{shop['dialog']}", headers=ivan)).json())["dialog"]):
        assert "phone" not in body["customer"]
    text = await (await client.get(f"/api/dialogs/{shop['dialog']}", headers=ivan)).text()
    assert "0001122" not in text
    assert (await (await client.get("/api/dialogs?q=0001122", headers=ivan)).json())["dialogs"] == []
    assert len((await (await client.get("/api/dialogs?q=0001122", headers=auth(shop, "Olga"))).json())["dialogs"]) == 1
    assert (await (await client.get("/view/dialogs", headers=ivan)).json())["member"]["hidden_fields"] == [
        "ai_cost", "email", "phone", "profile_link", "traffic_source"]


# ------------------------------------------------------------------------------ the card in the managers' topic


@pytest.fixture
async def desk(settings):
    desk, resources = await build_desk(database_url=settings.db.database_url.get_secret_value(),
                                       master_key=settings.security.master_key.get_secret_value(),
                                       data_dir=settings.data_dir)
    yield desk
    await close_desk(resources)


async def test_an_owner_hides_the_phone_and_the_managers_card_and_mini_app_follow(desk):
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Сколько стоит чайник?")
    async with desk.db.unit_of_work() as session:
        dialog = await session.get(Dialog, received.dialog_id)
        (await session.get(Customer, dialog.customer_id)).phone = "+79995554433"
    await desk.settle()
    topic = await desk.topic(received.dialog_id)

    def card_text() -> str:
        card = next(m for m in desk.thread(topic.thread_id) if m["message_id"] == topic.pinned_message_id)
        return card["text"]

    # the card was posted before the phone was known: refresh it the way any change to the dialog does
    async with desk.db.unit_of_work() as session:
        await roles_service.refresh_cards(session, desk.tenant_id)
    await desk.settle()
    assert "+79995554433" in card_text()

    client = TestClient(TestServer(build_app(Ctx(desk.ctx.settings, desk.ctx.db))))
    await client.start_server()
    try:
        owner = {"Authorization": "tma " + desk.sb.init_data(desk.owner["id"])}
        manager = {"Authorization": "tma " + desk.sb.init_data(desk.manager["id"])}
        page = await (await client.get(f"/api/dialogs/{received.dialog_id}", headers=manager)).json()
        assert page["dialog"]["customer"]["phone"] == "+79995554433"
        roles = {r["code"]: r for r in (await (await client.get("/api/roles", headers=owner)).json())["roles"]}
        hidden = roles["manager"]["hidden_fields"] + ["phone"]
        response = await client.post("/api/roles/manager", json={"hidden_fields": hidden}, headers=owner)
        assert response.status == 200 and "phone" in (await response.json())["role"]["hidden_fields"]
        # the Mini App at once
        page = await (await client.get(f"/api/dialogs/{received.dialog_id}", headers=manager)).json()
        assert "phone" not in page["dialog"]["customer"]
        # the card in the topic once the outbox ran its edit
        await desk.settle()
        assert "+79995554433" not in card_text() and "Анна" in card_text()
        # and back
        response = await client.post("/api/roles/manager", json={"hidden_fields": roles["manager"]["hidden_fields"]},
                                     headers=owner)
        assert response.status == 200
        await desk.settle()
        assert "+79995554433" in card_text()
        page = await (await client.get(f"/api/dialogs/{received.dialog_id}", headers=manager)).json()
        assert page["dialog"]["customer"]["phone"] == "+79995554433"
    finally:
        await client.close()
