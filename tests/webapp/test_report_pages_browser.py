"""The report pages in headless Chromium with real clicks: the owner opens the dashboard, switches the period, opens a
chart's table and downloads its CSV, goes to AI spend and traffic (creating a campaign link there) through the
navigation; a manager has no link to them and is refused when opening one. Screenshots at 390 px go to
docs/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import update

from core import events, inbox
from core.inbox import InboundMessage, Sender, TrafficInfo
from core.models import AIUsage, ChannelAccount, ChannelKind, Dialog, Outcome, StaffMember, UsagePurpose
from core.services.tenants import create_tenant, role_by_code
from sandbox.telegram import TelegramSandbox

from .browser import miniapp_browser

NOW = datetime.now(UTC)


async def _seed(db, tg: TelegramSandbox) -> dict:
    people = {"owner": tg.create_user("Ольга")["id"], "manager": tg.create_user("Иван")["id"]}
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Техносфера")
        for role, user_id in people.items():
            session.add(StaffMember(tenant_id=tenant.id, role_id=(await role_by_code(session, tenant.id, role)).id,
                                    telegram_user_id=user_id, name=role.title(), locale="ru"))
        vk = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="77", title="VK Техносфера")
        session.add(vk)
        await session.flush()
        dialogs = []
        for i in range(6):
            at = NOW - timedelta(days=2 * i, hours=2)  # 0, 2, … 10 days ago: four in the last 7 days
            got = await inbox.receive(session, InboundMessage(
                channel_id=vk.id, external_chat_id=str(500 + i), external_id="1", text="Сколько стоит чайник?",
                sent_at=at, sender=Sender(str(500 + i), f"Клиент {i}"),
                traffic=TrafficInfo(source="vk_ads", campaign="весна") if i % 2 else None))
            await session.execute(update(Dialog).where(Dialog.id == got.dialog_id).values(created_at=at))
            dialogs.append(got.dialog_id)
        for i, dialog_id in enumerate(dialogs[:3]):
            outcome = Outcome.WON if i < 2 else Outcome.LOST
            await session.execute(update(Dialog).where(Dialog.id == dialog_id).values(
                outcome=outcome, outcome_amount=Decimal(2490 * (i + 1)) if outcome == Outcome.WON else None,
                outcome_currency="RUB", outcome_reason="дорого" if outcome == Outcome.LOST else None,
                outcome_at=NOW - timedelta(hours=1)))
            events.record(session, f"dialog_{outcome.value}", tenant_id=tenant.id, dialog_id=dialog_id)
        for days, cost in ((0, "0.012345678901"), (3, "0.5"), (12, "1.25"), (20, "0.004")):
            session.add(AIUsage(tenant_id=tenant.id, dialog_id=dialogs[0], purpose=UsagePurpose.SUGGEST,
                                provider="openai", model="gpt-4o-mini", cost_usd=Decimal(cost),
                                created_at=NOW - timedelta(days=days, minutes=5)))
    return people


async def test_the_owner_reads_the_reports_and_a_manager_is_kept_out(db, settings):
    tg = TelegramSandbox()
    people = await _seed(db, tg)
    async with miniapp_browser(db, settings, tg) as mb:
        page = await mb.open(people["owner"], "/dashboard")
        await page.wait_for_selector("#chart-dialogs canvas")
        assert await page.inner_text("#title") == "Сводка"
        assert await page.inner_text("#tile-new b") == "4"  # the last 7 × 24 hours
        assert await page.inner_text("#tile-won b") == "2"
        await page.click("[data-period='30']")
        await page.wait_for_function("document.querySelector('#tile-new b').textContent === '6'")
        assert "period=30" in page.url
        assert await page.inner_text("#tile-spend b") == "1,77" or await page.inner_text("#tile-spend b") == "1.77"

        table = page.locator("#chart-dialogs .table-box")
        assert not await table.is_visible()
        await page.click("#chart-dialogs .show-table")
        assert await table.is_visible()
        assert "Новые диалоги" in await table.inner_text()
        async with page.expect_download() as info:
            await page.click("#chart-lost_reasons .csv")
        download = await info.value
        csv = Path(await download.path()).read_text(encoding="utf-8-sig")
        assert download.suggested_filename.startswith("lost_reasons_")
        assert csv.splitlines() == ["Причина,Число", "дорого,1"]
        await mb.screenshot(page, "dashboard")

        await page.click("#nav a[data-page='spend']")
        await page.wait_for_selector("#chart-by_day canvas")
        assert await page.inner_text("#title") == "Расходы на ИИ"
        assert await page.inner_text("#tile-total b") == "$0.51"  # 0.012345678901 + 0.5 in 7 days
        assert await page.inner_text("#tile-exact b") == "$0.512345678901"
        assert await page.is_visible("#tg-back-button")
        await mb.screenshot(page, "spend")

        await page.click("#nav a[data-page='traffic']")
        await page.wait_for_selector("#chart-traffic")
        await page.fill("#new-campaign input[name=name]", "Весна в канале")
        await page.click("#new-campaign button[type=submit]")
        await page.wait_for_selector(".campaign code.link")
        link = await page.inner_text(".campaign code.link")
        assert link.startswith(f"https://t.me/{tg.bot_user['username']}?start=c")
        await mb.screenshot(page, "traffic")
        await page.click("#tg-back-button")
        await page.wait_for_selector("#chart-by_day canvas")  # back to the spend page
        assert page.js_errors == []

        manager = await mb.open(people["manager"])
        assert await manager.get_attribute("#view", "data-page") == "dialogs"
        for report in ("dashboard", "spend", "traffic"):  # no link to any report page
            assert await manager.locator(f"#nav a[data-page='{report}']").count() == 0
        await manager.goto(mb.url(people["manager"], "/dashboard"))
        await manager.wait_for_selector("#error")
        assert "Менеджер" in await manager.inner_text("#error")
        assert await manager.locator("#tiles").count() == 0
