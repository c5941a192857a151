"""Knowledge base, catalog, settings, escalations, audit log and help through the Mini App API over real HTTP,
authenticated with initData signed by the Telegram sandbox: who may open what, the CLI's validation and per-line
errors, the settings all-or-nothing refusal, the test question through the `salesop ask` pipeline."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import select

from core import inbox
from core.ai.ask import ask as core_ask
from core.ai.providers import build_providers
from core.crypto import SecretBox
from core.inbox import InboundMessage, Sender
from core.models import ChannelAccount, ChannelKind, Escalation, EscalationStatus, Event, StaffMember, Tenant
from core.services import tenant_settings
from core.services.tenants import create_tenant, role_by_code
from sandbox.elevenlabs import PREMADE_VOICES, ElevenLabsSandbox
from sandbox.runner import serve
from sandbox.telegram import TelegramSandbox
from salesop.commands.ask import ask as cli_ask
from webapp.api.settings import GROUPS
from webapp.server import build_app

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
XI_KEY = "xi-settings-test-0001"
QA_CSV = "вопрос;ответ\nСколько идёт доставка?;Доставка по Москве занимает 1-2 дня.\n;ответ без вопроса\nЕсть самовывоз?;Да, из пункта на Тверской.\n"
CATALOG_CSV = ("артикул;наименование;цена;остаток\nKT-1;Чайник Bosch;4 990;5\nKT-2;Чайник Tefal;-100;2\n"
               "KT-3;Кофемолка;1 500;много штук\nKT-4;Тостер;2 490;0\n")


class Ctx:
    def __init__(self, settings, db):
        self.settings, self.db, self.embedded = settings, db, False
        self.secrets = SecretBox([settings.security.master_key.get_secret_value()])


@pytest.fixture
async def world(db, settings):
    tg = TelegramSandbox()
    settings.telegram.bot_token = SecretStr(tg.bot_token)
    people = {name: tg.create_user(name)["id"] for name in ("owner", "manager", "tech")}
    async with db.unit_of_work() as session:
        shop = await create_tenant(session, slug="shop", name="Shop")
        staff = {}
        for name in people:
            member = StaffMember(tenant_id=shop.id, role_id=(await role_by_code(session, shop.id, name)).id,
                                 telegram_user_id=people[name], name=name.capitalize(), locale="en")
            session.add(member)
            staff[name] = member
        channel = ChannelAccount(tenant_id=shop.id, kind=ChannelKind.VK_COMMUNITY, external_id="1", title="VK")
        session.add(channel)
        await session.flush()
        got = await inbox.receive(session, InboundMessage(
            channel_id=channel.id, external_chat_id="501", external_id="1", sent_at=T0, text="Позовите менеджера",
            sender=Sender("501", "Анна", "Петрова")))
        escalation = Escalation(tenant_id=shop.id, dialog_id=got.dialog_id, reason="human_request",
                                summary="Просит менеджера", created_by_id=staff["manager"].id)
        session.add(escalation)
        await session.flush()
        ids = {"shop": shop.id, "dialog": got.dialog_id, "escalation": escalation.id,
               **{f"{k}_id": v.id for k, v in staff.items()}}
    client = TestClient(TestServer(build_app(Ctx(settings, db))))
    await client.start_server()
    yield {"tg": tg, "people": people, "client": client, **ids}
    await client.close()


def auth(world, who):
    return {"Authorization": "tma " + world["tg"].init_data(world["people"][who])}


def upload(name: str, text: str, encoding: str = "utf-8") -> dict:
    return {"name": name, "data": base64.b64encode(text.encode(encoding)).decode()}


@pytest.mark.parametrize("method, path", [
    ("GET", "/view/settings"), ("GET", "/api/settings"), ("PUT", "/api/settings"),
    ("GET", "/view/knowledge"), ("POST", "/api/knowledge"), ("POST", "/api/knowledge/upload"),
    ("POST", "/api/knowledge/ask"), ("GET", "/view/catalog"), ("POST", "/api/catalog/upload"),
    ("GET", "/view/audit"), ("GET", "/api/audit"),
])
async def test_a_manager_cannot_open_settings_knowledge_base_or_audit(world, method, path):
    resp = await world["client"].request(method, path, headers=auth(world, "manager"), json={"t_auto": 0.9})
    assert resp.status == 403, path
    assert "Manager" in (await resp.json())["error"] or "Менеджер" in (await resp.json())["error"]


async def test_tech_edits_the_knowledge_base_but_not_settings_or_audit(world):
    client = world["client"]
    assert (await client.get("/view/knowledge", headers=auth(world, "tech"))).status == 200
    assert (await client.get("/api/settings", headers=auth(world, "tech"))).status == 403
    assert (await client.get("/api/audit", headers=auth(world, "tech"))).status == 403
    # the manager sees and closes escalations, the tech person does not see them
    assert (await client.get("/api/escalations", headers=auth(world, "manager"))).status == 200
    assert (await client.get("/api/escalations", headers=auth(world, "tech"))).status == 403


async def test_a_refused_setting_is_400_with_its_one_line_error_and_nothing_changes(world, db):
    client = world["client"]
    resp = await client.put("/api/settings", headers=auth(world, "owner"),
                            json={"t_auto": 0.95, "working_hours": "mon-fri 9-21"})
    assert resp.status == 400
    body = await resp.json()
    assert body["key"] == "working_hours" and "\n" not in body["error"]
    assert body["error"] == tenant_settings.SettingsError(
        "working_hours", "value", accepts=("settings.accepts.hours", {}), value="mon-fri 9-21").text("en")
    resp = await client.put("/api/settings", headers=auth(world, "owner"), json={"t_escalate": 0.99})
    assert resp.status == 400 and (await resp.json())["key"] == "t_escalate"
    async with db.unit_of_work() as session:
        tenant = await session.get(Tenant, world["shop"])
        assert (tenant.t_auto, tenant.t_escalate) == (0.85, 0.4) or tenant.t_auto != 0.95
        assert tenant.t_auto != 0.95 and tenant.t_escalate != 0.99
        assert (await session.execute(select(Event).where(Event.kind == "settings_changed"))).first() is None


async def test_a_setting_changes_with_an_audit_entry_of_old_and_new(world, db):
    client = world["client"]
    resp = await client.put("/api/settings", headers=auth(world, "owner"),
                            json={"working_hours": "mon-fri 09:00-18:00", "autosend_allowed": True})
    assert resp.status == 200
    body = await resp.json()
    assert {c["key"] for c in body["changed"]} == {"working_hours", "autosend_allowed"}
    fields = {f["key"]: f for g in body["groups"] for f in g["fields"]}
    assert fields["working_hours"]["text"] == "mon-fri 09:00-18:00, sat-sun closed"
    async with db.unit_of_work() as session:
        event = (await session.execute(select(Event).where(Event.kind == "settings_changed"))).scalar_one()
    assert event.payload["via"] == "miniapp" and event.actor_staff_id == world["owner_id"]
    audit = await (await client.get("/api/audit?period=today", headers=auth(world, "owner"))).json()
    [entry] = [e for e in audit["items"] if e["kind"] == "settings_changed"]
    assert entry["actor"] == "Owner" and entry["label"] == "Settings changed"
    changes = {c["key"]: (c["old"], c["new"]) for c in entry["changes"]}
    assert changes["autosend_allowed"] == (False, True)
    assert changes["working_hours"][1] == {d: ["09:00", "18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    only_tech = await (await client.get(f"/api/audit?period=today&person={world['tech_id']}",
                                        headers=auth(world, "owner"))).json()
    assert only_tech["items"] == []


def test_every_setting_is_in_exactly_one_group():
    keys = [k for _, group in GROUPS for k in group]
    assert sorted(keys) == sorted(tenant_settings.KEYS) and len(keys) == len(set(keys))


async def test_voices_and_a_sample_through_the_elevenlabs_stand_in(world, settings, db):
    sandbox = ElevenLabsSandbox(api_keys={XI_KEY: []}, character_limit=10_000)
    runner, base = await serve(sandbox.app)
    try:
        settings.voice.elevenlabs_base_url = base
        client = world["client"]
        resp = await client.get("/api/settings/voices", headers=auth(world, "owner"))
        assert resp.status == 400 and "API key" in (await resp.json())["error"]
        resp = await client.put("/api/settings", headers=auth(world, "owner"), json={"elevenlabs_api_key": XI_KEY})
        assert resp.status == 200
        secret = {f["key"]: f for g in (await resp.json())["groups"] for f in g["fields"]}["elevenlabs_api_key"]
        assert XI_KEY not in str(secret) and secret["stored"] is True
        voices = (await (await client.get("/api/settings/voices", headers=auth(world, "owner"))).json())["voices"]
        assert {v["voice_id"] for v in voices} == set(PREMADE_VOICES)
        voice = next(iter(PREMADE_VOICES))
        resp = await client.post("/api/settings/voice-sample", headers=auth(world, "owner"), json={"voice_id": voice})
        assert resp.status == 200 and resp.content_type == "audio/ogg" and (await resp.read())[:4] == b"OggS"
        resp = await client.post("/api/settings/voice-sample", headers=auth(world, "owner"),
                                 json={"voice_id": "NoSuchVoice"})
        assert resp.status == 400 and "no such voice" in (await resp.json())["error"]
    finally:
        await runner.cleanup()


async def test_knowledge_base_upload_reports_bad_lines_as_the_cli_does(world):
    client = world["client"]
    resp = await client.post("/api/knowledge/upload", headers=auth(world, "tech"), json=upload("faq.csv", QA_CSV))
    assert resp.status == 200
    report = await resp.json()
    assert report["created"] == 1 and len(report["errors"]) == 1
    assert "faq.csv" in report["errors"][0] and "3" in report["errors"][0]
    assert report["summary"].startswith("knowledge base: 1 created")
    again = await (await client.post("/api/knowledge/upload", headers=auth(world, "tech"),
                                     json=upload("faq.csv", QA_CSV))).json()
    assert (again["created"], again["unchanged"]) == (0, 1)  # the same file updates its document, no copy
    resp = await client.post("/api/knowledge/upload", headers=auth(world, "tech"), json=upload("x.exe", "MZ"))
    assert resp.status == 400 and ".csv" in (await resp.json())["error"]
    docs = (await (await client.get("/api/knowledge?q=самовывоз", headers=auth(world, "tech"))).json())["documents"]
    assert [d["source"] for d in docs] == ["faq.csv"] and docs[0]["chunks"] == 2


async def test_documents_are_created_edited_searched_and_deleted(world, db):
    client = world["client"]
    resp = await client.post("/api/knowledge", headers=auth(world, "tech"), json={"title": "", "body": "x"})
    assert resp.status == 400 and (await resp.json())["error"] == "A document needs a title."
    resp = await client.post("/api/knowledge", headers=auth(world, "tech"), json={
        "title": "Гарантия", "type": "policy", "tags": "гарантия, сервис",
        "body": "## Срок\nГарантия на чайники 2 года.\n\n## Ремонт\nРемонт в сервисном центре."})
    assert resp.status == 201
    doc = (await resp.json())["document"]
    assert doc["tags"] == ["гарантия", "сервис"]
    resp = await client.put(f"/api/knowledge/{doc['id']}", headers=auth(world, "tech"),
                            json={**doc, "body": "Гарантия на чайники 3 года."})
    assert resp.status == 200
    found = (await (await client.get("/api/knowledge?q=3 года", headers=auth(world, "tech"))).json())["documents"]
    assert [d["id"] for d in found] == [doc["id"]] and found[0]["chunks"] == 1
    assert (await client.delete(f"/api/knowledge/{doc['id']}", headers=auth(world, "tech"))).status == 200
    assert (await client.get(f"/api/knowledge/{doc['id']}", headers=auth(world, "tech"))).status == 404
    async with db.unit_of_work() as session:
        kinds = list((await session.execute(select(Event.kind).where(Event.actor_staff_id == world["tech_id"])
                                            .order_by(Event.id))).scalars())
    assert kinds == ["kb_document_saved", "kb_document_saved", "kb_document_deleted"]


async def test_catalog_upload_keeps_good_rows_and_lists_bad_ones_by_line(world):
    client = world["client"]
    resp = await client.post("/api/catalog/upload", headers=auth(world, "tech"),
                             json=upload("catalog.csv", CATALOG_CSV, "cp1251"))
    assert resp.status == 200
    report = await resp.json()
    assert report["created"] == 2 and [e["line"] for e in report["errors"]] == [3, 4]
    assert report["errors"][0]["text"].startswith("line 3:")
    products = (await (await client.get("/api/catalog", headers=auth(world, "tech"))).json())["products"]
    assert [p["sku"] for p in products] == ["KT-1", "KT-4"] and products[0]["name"] == "Чайник Bosch"
    # the form is checked with the CSV's own rules and words
    resp = await client.post("/api/catalog", headers=auth(world, "tech"),
                             json={"sku": "KT-5", "name": "Миксер", "price": "-5"})
    assert resp.status == 400 and (await resp.json())["error"] == "the price is below zero"
    resp = await client.post("/api/catalog", headers=auth(world, "tech"),
                             json={"sku": "KT-1", "name": "Дубль", "price": "1"})
    assert resp.status == 400 and "KT-1" in (await resp.json())["error"]
    made = await client.post("/api/catalog", headers=auth(world, "tech"),
                             json={"sku": "KT-5", "name": "Миксер", "price": "3 200", "stock": "2"})
    assert made.status == 201
    pid = (await made.json())["product"]["id"]
    edited = await client.put(f"/api/catalog/{pid}", headers=auth(world, "tech"),
                              json={"sku": "KT-5", "name": "Миксер Philips", "price": "3100", "stock": ""})
    assert (await edited.json())["product"]["price"] == "3100.00"
    assert (await client.delete(f"/api/catalog/{pid}", headers=auth(world, "tech"))).status == 200
    assert (await (await client.get("/api/catalog?q=миксер", headers=auth(world, "tech"))).json())["products"] == []


async def test_a_test_question_answers_as_salesop_ask(world, db, settings):
    client = world["client"]
    await client.post("/api/catalog/upload", headers=auth(world, "tech"),
                      json=upload("catalog.csv", CATALOG_CSV))
    await client.post("/api/knowledge/upload", headers=auth(world, "tech"), json=upload("faq.csv", QA_CSV))
    question = "Сколько стоит чайник Bosch?"
    resp = await client.post("/api/knowledge/ask", headers=auth(world, "tech"), json={"question": question})
    assert resp.status == 200
    answer = await resp.json()
    assert answer["decision"] in ("auto_send", "need_approval", "escalate") and answer["decision_label"]
    assert {"kind": "product", "sku": "KT-1", "name": "Чайник Bosch"} in answer["sources"]
    assert "4" in answer["reply"] and 0 <= answer["confidence"] <= 1
    providers = build_providers(settings)
    same = await cli_ask(db, providers, settings, world["shop"], question)
    core = await core_ask(db, providers, settings, world["shop"], question)
    for got in (same.as_dict(), core.as_dict()):
        assert {k: got[k] for k in ("reply", "intent", "confidence", "decision", "sources")} == \
            {k: answer[k] for k in ("reply", "intent", "confidence", "decision", "sources")}
    resp = await client.post("/api/knowledge/ask", headers=auth(world, "tech"), json={"question": " "})
    assert resp.status == 400


async def test_escalations_are_handled_once_with_who_and_when(world, db):
    client = world["client"]
    listed = await (await client.get("/api/escalations", headers=auth(world, "manager"))).json()
    assert listed["counts"] == {"pending": 1, "handled": 0, "dismissed": 0}
    [item] = listed["items"]
    assert (item["customer"], item["created_by"], item["reason"]) == ("Анна Петрова", "Manager", "human_request")
    resp = await client.post(f"/api/escalations/{world['escalation']}/handle", headers=auth(world, "owner"))
    assert resp.status == 200
    assert (await resp.json())["counts"] == {"pending": 0, "handled": 1, "dismissed": 0}
    again = await client.post(f"/api/escalations/{world['escalation']}/dismiss", headers=auth(world, "manager"))
    assert again.status == 400 and "closed already" in (await again.json())["error"]
    handled = await (await client.get("/api/escalations?status=handled", headers=auth(world, "manager"))).json()
    assert handled["items"][0]["handled_by"] == "Owner" and handled["items"][0]["handled_at"]
    async with db.unit_of_work() as session:
        escalation = await session.get(Escalation, world["escalation"])
        assert escalation.status == EscalationStatus.HANDLED and escalation.handled_by_id == world["owner_id"]
        assert (await session.execute(select(Event.kind).where(Event.kind == "escalation_handled"))).scalar_one()


async def test_help_pages_in_the_readers_language(world):
    client = world["client"]
    index = await (await client.get("/view/help", headers=auth(world, "manager"))).json()
    assert index["title"] == "Help" and 'href="/help/start-manager"' in index["html"]
    page = await (await client.get("/view/help/commands", headers=auth(world, "manager"))).json()
    assert '<h2 id="voice">/voice</h2>' in page["html"]
    assert (await client.get("/view/help/no-such-page", headers=auth(world, "manager"))).status == 404
    assert (await client.get("/view/help/..%2Fsecrets", headers=auth(world, "manager"))).status == 404
