"""Dashboard, AI spend and traffic over HTTP: refused server-side without the page's permission, money a role hides
never in an answer, and the AI spend equal to `salesop spend` to the cent (the CLI run as a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import update

from core import events, inbox
from core.inbox import InboundMessage, Sender
from core.models import (AIUsage, ChannelAccount, ChannelKind, Dialog, Outcome, Role, StaffMember,
                         UsagePurpose)
from core.services.tenants import create_tenant, role_by_code
from sandbox.telegram import TelegramSandbox
from webapp.server import build_app

from .browser import Ctx

NOW = datetime.now(UTC)
ROLES = ("owner", "manager", "analyst", "finance", "viewer")
# Costs with 12 decimals, as core.ai.spend stores them; some just past 7 and 30 days, one older.
USAGE = [(timedelta(hours=1), "gpt-4o-mini", UsagePurpose.SUGGEST, Decimal("0.000123456789")),
         (timedelta(days=2, hours=3), "gpt-4o-mini", UsagePurpose.INTENT, Decimal("0.004999999999")),
         (timedelta(days=6), "text-embedding-3-small", UsagePurpose.EMBED, Decimal("0.000000020000")),
         (timedelta(days=8), "gpt-4o", UsagePurpose.SUGGEST, Decimal("1.234567890123")),
         (timedelta(days=29, hours=20), "eleven_multilingual_v2", UsagePurpose.TTS, Decimal("0.330000000001")),
         (timedelta(days=31), "gpt-4o", UsagePurpose.SUGGEST, Decimal("9.999999999999"))]


@pytest.fixture
async def shop(db, settings):
    tg = TelegramSandbox()
    settings.telegram.bot_token = SecretStr(tg.bot_token)
    people = {role: tg.create_user(role)["id"] for role in ROLES}
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        for role in ROLES:
            session.add(StaffMember(tenant_id=tenant.id, role_id=(await role_by_code(session, tenant.id, role)).id,
                                    telegram_user_id=people[role], name=role.title()))
        vk = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="77", title="VK shop")
        session.add(vk)
        await session.flush()
        dialogs = []
        for i, (name, traffic) in enumerate((("Anna", inbox.TrafficInfo(source="vk_ads", campaign="spring",
                                                                       ref="spring1")),
                                            ("Boris", None), ("Vera", inbox.TrafficInfo(source="vk_ads",
                                                                                      campaign="spring")))):
            got = await inbox.receive(session, InboundMessage(
                channel_id=vk.id, external_chat_id=str(500 + i), external_id="1", text="Цена?",
                sent_at=NOW - timedelta(hours=5 - i), sender=Sender(str(500 + i), name), traffic=traffic))
            dialogs.append(got.dialog_id)
        # what workspace.mark_won writes (without the topic card this test has no group for)
        await session.execute(update(Dialog).where(Dialog.id == dialogs[0]).values(
            outcome=Outcome.WON, outcome_amount=Decimal("1500.50"), outcome_currency="RUB", outcome_at=NOW))
        events.record(session, "dialog_won", tenant_id=tenant.id, dialog_id=dialogs[0], amount="1500.50")
        for ago, model, purpose, cost in USAGE:
            session.add(AIUsage(tenant_id=tenant.id, dialog_id=dialogs[0] if purpose == UsagePurpose.SUGGEST else None,
                                purpose=purpose, provider="openai", model=model, prompt_tokens=100, cost_usd=cost,
                                created_at=NOW - ago))
    client = TestClient(TestServer(build_app(Ctx(settings, db), telegram_sdk="/sdk.js")))
    await client.start_server()
    yield {"tg": tg, "people": people, "client": client, "tenant": tenant.id, "dialogs": dialogs, "db": db,
           "settings": settings}
    await client.close()


def auth(shop, who) -> dict:
    return {"Authorization": "tma " + shop["tg"].init_data(shop["people"][who])}


async def get(shop, who, path) -> tuple[int, dict]:
    response = await shop["client"].get(path, headers=auth(shop, who))
    return response.status, await response.json()


@pytest.mark.parametrize("path, allowed", [
    ("/api/dashboard", {"owner", "analyst", "finance", "viewer"}),
    ("/view/dashboard", {"owner", "analyst", "finance", "viewer"}),
    ("/api/spend?period=30", {"owner", "finance"}),
    ("/view/spend", {"owner", "finance"}),
    ("/api/traffic", {"owner", "analyst"}),
    ("/api/traffic/campaigns", {"owner", "analyst"}),
    ("/view/traffic", {"owner", "analyst"}),
])
async def test_each_page_and_call_is_refused_without_its_permission(shop, path, allowed):
    for who in ROLES:
        status, body = await get(shop, who, path)
        assert status == (200 if who in allowed else 403), (who, path, body)
        if status == 403:
            assert body["error"] and "dialogs" not in json.dumps(body) and "charts" not in body
    made = await shop["client"].post("/api/traffic/campaigns", json={"name": "x"}, headers=auth(shop, "manager"))
    assert made.status == 403


async def test_a_manager_sees_no_report_page_in_the_navigation(shop):
    reports = ["dashboard", "spend", "traffic"]
    _, view = await get(shop, "manager", "/view/dialogs")
    assert "dialogs" in [n["name"] for n in view["nav"]]
    assert not set(reports) & {n["name"] for n in view["nav"]}
    _, owner = await get(shop, "owner", "/view/dialogs")
    assert [n["name"] for n in owner["nav"] if n["name"] in reports] == reports
    _, analyst = await get(shop, "analyst", "/view/dashboard")
    assert [n["name"] for n in analyst["nav"] if n["name"] in reports] == ["dashboard", "traffic"]


async def test_the_dashboard_counts_the_period_and_hides_what_the_role_hides(shop):
    status, data = await get(shop, "owner", "/api/dashboard?period=7")
    assert status == 200
    tiles = {t["id"]: t["value"] for t in data["tiles"]}
    assert tiles["new"] == 3 and tiles["won"] == 1 and tiles["revenue"] == "1500.50" and tiles["conversion"] == 100.0
    assert tiles["spend"] == "0.01"  # the last 7 × 24 hours: 0.000123456789 + 0.004999999999 + 0.00000002
    charts = {c["id"]: c for c in data["charts"]}
    assert sum(r["new"] for r in charts["new_by_day"]["rows"]) == 3
    assert charts["outcomes_channel"]["rows"] == [
        {"name": "VK shop", "won": 1, "lost": 0, "conversion": 100.0, "revenue": "1500.50"}]
    assert {c["key"] for c in charts["outcomes_channel"]["columns"]} >= {"revenue"}

    # The viewer role hides the AI cost: no spend tile. A role told to hide deal amounts gets no revenue anywhere.
    _, viewer = await get(shop, "viewer", "/api/dashboard?period=7")
    assert "spend" not in {t["id"] for t in viewer["tiles"]}
    async with shop["db"].unit_of_work() as session:
        await session.execute(update(Role).where(Role.tenant_id == shop["tenant"], Role.code == "viewer")
                              .values(hidden_fields=["deal_amount", "ai_cost"]))
    _, hidden = await get(shop, "viewer", "/api/dashboard?period=7")
    text = json.dumps(hidden)
    assert "revenue" not in text and "1500.5" not in text
    _, traffic = await get(shop, "owner", "/api/traffic?period=7")
    assert "1500.50" in json.dumps(traffic)

    # filters: a channel of this tenant narrows, a foreign id is refused; a custom period in whole days
    vk_only = await get(shop, "owner", f"/api/dashboard?period=30&channel={charts_channel_id(data)}")
    assert vk_only[0] == 200
    assert (await get(shop, "owner", "/api/dashboard?period=30&channel=999999"))[0] == 400
    assert (await get(shop, "owner", "/api/dashboard?period=custom&from=2026-02-01"))[0] == 400
    first, last = (NOW - timedelta(days=10)).date().isoformat(), (NOW + timedelta(days=1)).date().isoformat()
    status, custom = await get(shop, "owner", f"/api/dashboard?period=custom&from={first}&to={last}")
    assert status == 200 and custom["period"]["from"] == first
    assert {t["id"]: t["value"] for t in custom["tiles"]}["new"] == 3
    assert (await get(shop, "owner", f"/api/dashboard?period=custom&from=2020-01-01&to={last}"))[0] == 400


def charts_channel_id(data) -> int:
    return data["choices"]["channels"][0]["id"]


@pytest.mark.parametrize("days", [7, 30])
async def test_ai_spend_equals_salesop_spend_to_the_cent(shop, tmp_path, days):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    env.update(SALESOP_DATA_DIR=str(tmp_path / "var"), SALESOP_DATABASE_URL=shop["settings"].db.database_url
               .get_secret_value(), SALESOP_MASTER_KEY=shop["settings"].security.master_key.get_secret_value())
    cli = subprocess.run([sys.executable, "-m", "salesop.cli", "spend", "--tenant", "shop", "--days", str(days),
                          "--by", "model", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)
    status, page = await get(shop, "finance", f"/api/spend?period={days}")
    assert status == 200
    expected = sum((c for ago, *_, c in USAGE if ago < timedelta(days=days)), Decimal(0))
    assert Decimal(printed["total"]["cost_usd"]) == Decimal(page["total_usd"]) == expected
    assert page["total_cents"] == str(expected.quantize(Decimal("0.01")))
    assert page["calls"] == printed["total"]["calls"]
    charts = {c["id"]: c for c in page["charts"]}
    by_model = {r["model"]: Decimal(r["cost_usd"]) for r in charts["by_model"]["rows"]}
    assert by_model == {r["model"]: Decimal(r["cost_usd"]).quantize(Decimal("0.000001")) for r in printed["rows"]}
    for chart in ("by_day", "by_purpose", "by_dialog"):  # each split adds up to the total (to the micro-dollar)
        assert abs(sum(Decimal(r["cost_usd"]) for r in charts[chart]["rows"]) - expected) < Decimal("0.00001")
    assert any(r["dialog_id"] == shop["dialogs"][0] and "Anna" in r["dialog"] for r in charts["by_dialog"]["rows"])


async def test_the_traffic_report_by_first_touch(shop):
    status, data = await get(shop, "analyst", "/api/traffic?period=7&by=source,campaign")
    assert status == 200
    rows = {r["touch"]: r for r in data["charts"][0]["rows"]}
    spring = rows["vk_ads / spring"]
    assert (spring["dialogs"], spring["won"], spring["conversion"], spring["revenue"]) == (2, 1, 50.0, "1500.50")
    assert [r["dialogs"] for t, r in rows.items() if t != "vk_ads / spring"] == [1]  # Boris came on his own
    assert (await get(shop, "analyst", "/api/traffic?touch=middle"))[0] == 400
    assert (await get(shop, "analyst", "/api/traffic?by=password"))[0] == 400
