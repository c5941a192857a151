"""The dialog list and a dialog's page over real HTTP: search by name, phone, username and message text, filters,
keyset pages that neither skip nor repeat, the history in pages with edits, deletions, attachments and each AI draft's
fate, and the switches (AI mode, assignee, outcome, note, tags) going through the workspace's own functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import select

from core import inbox
from core.inbox import InboundAttachment, InboundMessage, Sender
from core.models import (
    AttachmentKind,
    ChannelAccount,
    ChannelKind,
    Customer,
    Decision,
    Dialog,
    DialogStatus,
    Escalation,
    Event,
    Message,
    MessageEdit,
    StaffMember,
    Suggestion,
    SuggestionState,
)
from core.services.tenants import create_tenant, role_by_code
from sandbox.telegram import TelegramSandbox
from webapp.server import build_app

from .browser import Ctx

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
async def shop(db, settings):
    tg = TelegramSandbox()
    settings.telegram.bot_token = SecretStr(tg.bot_token)
    users = {name: tg.create_user(name, language_code="en") for name in ("Olga", "Ivan", "Vera")}
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        staff = {}
        for name, role in (("Olga", "owner"), ("Ivan", "manager"), ("Vera", "viewer")):
            member = StaffMember(tenant_id=tenant.id, role_id=(await role_by_code(session, tenant.id, role)).id,
                                 telegram_user_id=users[name]["id"], name=name, locale="en")
            session.add(member)
            await session.flush()
            staff[name] = member.id
        vk = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="1", title="VK")
        tgc = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id="2", title="TG")
        session.add_all([vk, tgc])
        await session.flush()
        dialogs = []
        # 25 dialogs, one message each, a minute apart: dialog i is the i-th oldest
        for i in range(25):
            got = await inbox.receive(session, InboundMessage(
                channel_id=(vk if i % 2 else tgc).id, external_chat_id=f"c{i}", external_id="1",
                text=f"Вопрос номер {i}" + (" про чайники" if i in (3, 18) else ""), sent_at=T0 + timedelta(minutes=i),
                sender=Sender(f"c{i}", "Мария" if i == 7 else "Клиент", str(i), username=f"buyer{i}",
                              phone=f"+7999000{i:04d}")))
            dialogs.append(got.dialog_id)
        await session.execute(Dialog.__table__.update().where(Dialog.id == dialogs[5]).values(
            status=DialogStatus.ESCALATED, assignee_id=staff["Ivan"]))
        session.add(Escalation(tenant_id=tenant.id, dialog_id=dialogs[5], reason="manager", status="pending"))
        # a longer history in the newest dialog: edits, a deletion, an attachment and drafts
        rich = dialogs[24]
        for n in range(1, 131):
            got = await inbox.receive(session, InboundMessage(
                channel_id=tgc.id, external_chat_id="c24", external_id=str(n + 1), text=f"строка {n}",
                sent_at=T0 + timedelta(hours=1, minutes=n), sender=Sender("c24", "Клиент", "24"),
                attachments=[InboundAttachment(kind=AttachmentKind.PHOTO, file_name="photo.jpg")] if n == 130 else []))
        last = got.message_id
        message = await session.get(Message, last)
        session.add(MessageEdit(message_id=last, old_text="строка 130 (до правки)", new_text="строка 130",
                                edited_at=T0 + timedelta(hours=4)))
        message.edit_count = 1
        previous = (await session.execute(select(Message).where(Message.dialog_id == rich, Message.text == "строка 129")
                                          )).scalar_one()
        previous.deleted_at = T0 + timedelta(hours=5)
        session.add_all([
            Suggestion(tenant_id=tenant.id, dialog_id=rich, message_id=last, text="Черновик А", intent="price",
                       confidence=0.8, decision=Decision.NEED_APPROVAL, state=SuggestionState.EDITED,
                       final_text="Черновик А, исправленный", decided_by_id=staff["Ivan"], decided_at=T0),
            Suggestion(tenant_id=tenant.id, dialog_id=rich, message_id=last, text="Черновик Б", intent="delivery_time",
                       confidence=0.4, decision=Decision.NEED_APPROVAL, state=SuggestionState.REJECTED,
                       reject_reason="tone", decided_by_id=staff["Olga"], decided_at=T0),
        ])
    client = TestClient(TestServer(build_app(Ctx(settings, db))))
    await client.start_server()
    yield {"tg": tg, "client": client, "db": db, "users": users, "staff": staff, "dialogs": dialogs,
           "tenant": tenant.id}
    await client.close()


def auth(shop, who):
    return {"Authorization": "tma " + shop["tg"].init_data(shop["users"][who]["id"])}


async def ids(shop, query: str, who: str = "Ivan") -> list[int]:
    response = await shop["client"].get(f"/api/dialogs?{query}", headers=auth(shop, who))
    assert response.status == 200, await response.text()
    return [d["id"] for d in (await response.json())["dialogs"]]


async def test_keyset_pages_cover_every_dialog_once_in_order(shop):
    seen, cursor = [], ""
    while True:
        response = await shop["client"].get(f"/api/dialogs?limit=7{cursor}", headers=auth(shop, "Ivan"))
        page = await response.json()
        seen += [d["id"] for d in page["dialogs"]]
        if not page["next_cursor"]:
            break
        cursor = "&cursor=" + page["next_cursor"]
    assert seen == list(reversed(shop["dialogs"]))
    bad = await shop["client"].get("/api/dialogs?cursor=nonsense", headers=auth(shop, "Ivan"))
    assert bad.status == 400 and "out of date" in (await bad.json())["error"]


async def test_search_and_filters(shop):
    d = shop["dialogs"]
    assert await ids(shop, "q=Мария") == [d[7]]
    assert await ids(shop, "q=buyer12") == [d[12]]
    assert await ids(shop, "q=+7 999 000-00-19") == [d[19]]  # phone typed with spaces and dashes
    assert await ids(shop, "q=чайник") == [d[18], d[3]]  # message text, stemmed: "чайники"
    assert await ids(shop, "q=чайник&channel=" + str(await _channel(shop, d[3]))) == [d[3]]
    assert await ids(shop, "q=строка 77") == [d[24]]
    assert await ids(shop, "status=escalated") == [d[5]]
    assert await ids(shop, "escalated=1") == [d[5]]
    assert await ids(shop, f"manager={shop['staff']['Ivan']}") == [d[5]]
    assert len(await ids(shop, "manager=none")) == 24
    assert await ids(shop, "outcome=won") == []
    response = await shop["client"].get("/api/dialogs?q=ab", headers=auth(shop, "Ivan"))
    assert response.status == 400 and "at least 3 characters" in (await response.json())["error"]
    assert (await shop["client"].get("/api/dialogs?status=nope", headers=auth(shop, "Ivan"))).status == 400


async def _channel(shop, dialog_id: int) -> int:
    async with shop["db"].unit_of_work() as session:
        return (await session.get(Dialog, dialog_id)).channel_id


async def test_the_dialog_page_pages_back_and_shows_what_became_of_each_draft(shop):
    client, rich = shop["client"], shop["dialogs"][24]
    page = await (await client.get(f"/api/dialogs/{rich}", headers=auth(shop, "Ivan"))).json()
    assert len(page["messages"]) == 100 and page["has_more"]
    newest = page["messages"][-1]
    assert newest["text"] == "строка 130" and newest["edits"][0]["old"] == "строка 130 (до правки)"
    assert newest["attachments"][0]["kind"] == "photo"
    drafts = {d["text"]: d for d in newest["drafts"]}
    assert drafts["Черновик А"]["state"] == "edited" and drafts["Черновик А"]["final_text"] == "Черновик А, исправленный"
    assert drafts["Черновик А"]["by"] == "Ivan"
    # each draft's intent by its name in the reader's language (Ivan reads English), not its code
    assert drafts["Черновик Б"]["intent"] == "delivery_time" and drafts["Черновик Б"]["intent_label"] == "delivery time"
    assert drafts["Черновик Б"]["state"] == "rejected" and drafts["Черновик Б"]["reject_reason"] == "tone"
    assert page["messages"][-2]["deleted"] and page["messages"][-2]["text"] == "строка 129"
    older = await (await client.get(f"/api/dialogs/{rich}?before={page['before']}",
                                    headers=auth(shop, "Ivan"))).json()
    texts = [m["text"] for m in older["messages"] + page["messages"]]
    assert texts[0] == "Вопрос номер 24" and len(texts) == 131 == len(set(texts))
    assert not older["has_more"] and older["before"] is None


async def test_the_switches_act_through_the_workspace_with_the_member_as_actor(shop):
    client, dialog = shop["client"], shop["dialogs"][10]
    ivan, vera = auth(shop, "Ivan"), auth(shop, "Vera")

    async def post(who, action, body):
        response = await client.post(f"/api/dialogs/{dialog}/{action}", json=body, headers=who)
        return response.status, await response.json()

    status, body = await post(ivan, "ai_mode", {"mode": "off"})
    assert status == 200 and body["dialog"]["ai_mode"] == "off"
    status, body = await post(ivan, "assign", {"staff_id": shop["staff"]["Ivan"]})
    assert status == 200 and body["dialog"]["assignee"]["name"] == "Ivan"
    status, body = await post(ivan, "note", {"text": "перезвонить завтра"})
    assert status == 200 and "Ivan: перезвонить завтра" in body["dialog"]["customer"]["notes"]
    status, body = await post(ivan, "tags", {"tags": "vip, опт, vip"})
    assert status == 200 and body["dialog"]["customer"]["tags"] == ["vip", "опт"]
    status, body = await post(ivan, "outcome", {"outcome": "won", "amount": "1 500,50"})
    assert status == 200 and body["dialog"]["outcome"] == "won" and body["dialog"]["amount"] == "1500.50"
    status, body = await post(ivan, "outcome", {"outcome": "won", "amount": "много"})
    assert status == 400 and "number" in body["error"]
    # a viewer sees the dialog but changes nothing
    for action, payload in (("ai_mode", {"mode": "auto"}), ("note", {"text": "x"}), ("outcome", {"outcome": "lost"})):
        status, body = await post(vera, action, payload)
        assert status == 400 and body["error"] == "Your role does not allow this.", action
    async with shop["db"].unit_of_work() as session:
        kinds = {(e.kind, e.actor_staff_id) for e in (await session.execute(
            select(Event).where(Event.dialog_id == dialog))).scalars()}
        customer = await session.get(Customer, (await session.get(Dialog, dialog)).customer_id)
    me = shop["staff"]["Ivan"]
    assert {("ai_mode_changed", me), ("dialog_assigned", me), ("note_added", me), ("customer_tags_changed", me),
            ("dialog_won", me)} <= kinds
    assert customer.tags == ["vip", "опт"]
    assert (await client.post("/api/dialogs/999999/note", json={"text": "x"}, headers=ivan)).status == 404


async def test_common_terms_walk_the_dialogs_and_find_the_same(shop, monkeypatch):
    """With every term counted as common (the path 200,000 dialogs take for frequent words and names), search still
    finds exactly the same dialogs, in the same order, page after page."""
    from core.services import dialog_search

    d = shop["dialogs"]
    expected = {q: await ids(shop, f"q={q}") for q in ("чайник", "Мария", "Вопрос", "строка 77")}
    assert expected["Вопрос"] == list(reversed(d))
    monkeypatch.setattr(dialog_search, "TEXT_PROBE", 1)
    monkeypatch.setattr(dialog_search, "FIRST_BATCH", 2)
    for q, found in expected.items():
        assert await ids(shop, f"q={q}") == found, q
    seen, cursor = [], ""
    while True:
        page = await (await shop["client"].get(f"/api/dialogs?q=вопрос&limit=4{cursor}",
                                               headers=auth(shop, "Ivan"))).json()
        seen += [x["id"] for x in page["dialogs"]]
        if not page["next_cursor"]:
            break
        cursor = "&cursor=" + page["next_cursor"]
    assert seen == list(reversed(d))


async def test_a_term_estimated_common_but_rare_among_the_newest_is_read_from_the_index(shop, monkeypatch):
    from core.services import dialog_search

    d = shop["dialogs"]
    monkeypatch.setattr(dialog_search, "TEXT_PROBE", 1)
    monkeypatch.setattr(dialog_search, "FIRST_BATCH", 2)
    monkeypatch.setattr(dialog_search, "MAX_WALK", 4)  # gives up walking before the oldest dialog holding the word
    assert await ids(shop, "q=чайник") == [d[18], d[3]]
