"""The knowledge base, catalog, settings, escalations, audit and help pages in headless Chromium, with real clicks,
as an owner opens them from Telegram; screenshots at 390 px under docs/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from core import inbox
from core.inbox import InboundMessage, Sender
from core.models import ChannelAccount, ChannelKind, Escalation, EscalationStatus, Event, StaffMember, Tenant
from core.services.tenants import create_tenant, role_by_code
from sandbox.telegram import TelegramSandbox

from .browser import miniapp_browser

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CATALOG = "артикул;наименование;цена;остаток\nKT-1;Чайник Bosch;4 990;5\nKT-2;Чайник Tefal;-100;2\nKT-4;Тостер;2 490;0\n"
DELIVERY = "# Доставка\n\n## Москва\nДоставка по Москве 1-2 дня, 300 ₽.\n\n## Самовывоз\nСамовывоз с Тверской, бесплатно.\n"


async def _shop(db, tg: TelegramSandbox) -> dict:
    owner = tg.create_user("Ольга", language_code="ru")["id"]
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Магазин")
        staff = StaffMember(tenant_id=tenant.id, role_id=(await role_by_code(session, tenant.id, "owner")).id,
                            telegram_user_id=owner, name="Ольга", locale="ru")
        channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="1", title="VK")
        session.add_all([staff, channel])
        await session.flush()
        got = await inbox.receive(session, InboundMessage(
            channel_id=channel.id, external_chat_id="501", external_id="1", sent_at=T0,
            text="Хочу вернуть деньги, позовите менеджера", sender=Sender("501", "Анна", "Петрова")))
        escalation = Escalation(tenant_id=tenant.id, dialog_id=got.dialog_id, reason="refund",
                                summary="Требует вернуть деньги", proposed_answer="Передаю ваш вопрос старшему.")
        session.add(escalation)
        await session.flush()
        return {"owner": owner, "tenant": tenant.id, "escalation": escalation.id}


async def test_owner_works_through_the_admin_pages(db, settings, tmp_path):
    tg = TelegramSandbox()
    shop = await _shop(db, tg)
    catalog_file = tmp_path / "catalog.csv"
    catalog_file.write_bytes(CATALOG.encode("cp1251"))
    delivery_file = tmp_path / "delivery.md"
    delivery_file.write_text(DELIVERY, encoding="utf-8")
    async with miniapp_browser(db, settings, tg) as mb:
        # ---- the catalog: a CSV with a bad line
        page = await mb.open(shop["owner"], "/catalog")
        await page.wait_for_selector("#total")
        await page.set_input_files("#upload-file", str(catalog_file))
        await page.click("#upload-go")
        await page.wait_for_selector("#upload-summary")
        assert [await li.get_attribute("data-line") for li in await page.query_selector_all(".upload-error")] == ["3"]
        assert "строка 3" in await page.inner_text(".upload-error")
        await page.wait_for_selector(".product[data-sku='KT-4']")
        assert await page.locator(".product").count() == 2
        await page.click(".product[data-sku='KT-4']")
        await page.fill("#editor [name=price]", "-1")
        await page.click("#save-product")
        await page.wait_for_selector("#editor-error:not([hidden])")
        await page.fill("#editor [name=price]", "2 290")
        await page.click("#save-product")
        await page.wait_for_selector("#editor", state="hidden")
        assert "2" in await page.inner_text(".product[data-sku='KT-4'] .price")
        await mb.screenshot(page, "catalog")

        # ---- the knowledge base: upload markdown, ask a test question
        await page.click("#nav a[data-page='knowledge']")
        await page.wait_for_selector("#documents")
        await page.set_input_files("#upload-file", str(delivery_file))
        await page.click("#upload-go")
        await page.wait_for_selector(".doc")
        assert "Доставка" in await page.inner_text(".doc")
        await page.fill("#ask-question", "Сколько стоит чайник Bosch?")
        await page.click("#ask-go")
        await page.wait_for_selector("#answer-card")
        assert "Чайник Bosch (KT-1)" in await page.inner_text("#answer-sources")
        assert await page.get_attribute("#answer-intent", "data-intent")
        assert await page.inner_text("#answer-decision")
        await mb.screenshot(page, "knowledge")

        # ---- settings: a refused value shows its error under the field; a good one is saved
        await page.click("#nav a[data-page='settings']")
        await page.wait_for_selector("#setting-working_hours")
        await page.fill("#s-working_hours", "пн-пт 9-21")
        await page.press("#s-working_hours", "Tab")
        await page.wait_for_selector("#setting-working_hours .error:not([hidden])")
        assert "working_hours" in await page.inner_text("#setting-working_hours .error")
        await page.fill("#s-working_hours", "пн-пт 09:00-21:00, сб 10:00-18:00")
        await page.press("#s-working_hours", "Tab")
        await page.wait_for_selector("#setting-working_hours .saved:not([hidden])")
        assert await page.input_value("#s-working_hours") == "mon-fri 09:00-21:00, sat 10:00-18:00, sun closed"
        await page.select_option("#s-night_mode", "delay")
        await page.wait_for_selector("#setting-night_mode .saved:not([hidden])")
        assert await page.is_hidden("#setting-working_hours .error")
        async with db.unit_of_work() as session:
            tenant = await session.get(Tenant, shop["tenant"])
            assert tenant.working_hours["sat"] == ["10:00", "18:00"] and tenant.night_mode.value == "delay"
        await page.click("#groups-nav [data-group='ai']")
        await mb.screenshot(page, "settings")

        # ---- escalations: handle one
        await page.click("#nav a[data-page='escalations']")
        await page.wait_for_selector(".esc .handle")
        await mb.screenshot(page, "escalations")
        await page.click(".esc .handle")
        await page.wait_for_selector("#tabs [data-status='handled'] .count:text('1')")
        async with db.unit_of_work() as session:
            assert (await session.get(Escalation, shop["escalation"])).status == EscalationStatus.HANDLED
        await page.click("#tabs [data-status='handled']")
        await page.wait_for_selector(".esc .handled")
        assert "Ольга" in await page.inner_text(".esc .handled")

        # ---- the audit log shows the settings change with old and new values
        await page.click("#nav a[data-page='audit']")
        await page.wait_for_selector(".entry[data-kind='settings_changed']")
        await page.select_option("#f-kind", "settings_changed")
        await page.wait_for_function("[...document.querySelectorAll('.entry')].every(e => e.dataset.kind === 'settings_changed')")
        text = await page.inner_text(".entry[data-kind='settings_changed']")
        assert "night_mode" in text and "auto_reply" in text and "delay" in text
        await mb.screenshot(page, "audit")
        async with db.unit_of_work() as session:
            kinds = set((await session.execute(select(Event.kind))).scalars())
        assert {"settings_changed", "escalation_handled", "products_uploaded", "kb_uploaded"} <= kinds

        # ---- help: the contents, a page, a link to a heading
        await page.click("#nav a[data-page='help']")
        await page.wait_for_selector("#help-doc[data-slug='index']")
        await page.click("#help-doc a[href='/help/start-manager']")
        await page.wait_for_selector("#help-doc[data-slug='start-manager']")
        await page.click("#help-doc a[href='/help/commands#voice']")
        await page.wait_for_selector("#help-doc[data-slug='commands'] h2#voice")
        # scrolled to the heading (the last one: as far as the page goes)
        await page.wait_for_function("window.scrollY > 200 && document.getElementById('voice').getBoundingClientRect().top < innerHeight")
        await page.click("#tg-back-button")
        await page.wait_for_selector("#help-doc[data-slug='start-manager']")
        await page.click("#tg-back-button")
        await page.wait_for_selector("#help-doc[data-slug='index']")
        await mb.screenshot(page, "help")
        assert page.js_errors == []
