"""Staff, roles, the dialog list and a dialog's page in headless Chromium with real clicks, as Telegram opens the app
(the sandbox serves the WebApp SDK stand-in; initData in the URL fragment). Screenshots at 390 px go to
docs/screenshots/ (staff.png, roles.png, dialogs.png, dialog.png)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core import inbox
from core.inbox import InboundMessage, Sender
from core.models import (
    ChannelAccount,
    ChannelKind,
    Decision,
    ManagerGroup,
    Role,
    StaffMember,
    Suggestion,
    SuggestionState,
)
from core.services import staff
from core.services.tenants import create_tenant
from sandbox.telegram import TelegramSandbox

from .browser import miniapp_browser

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def _shop(db, tg: TelegramSandbox) -> dict:
    users = {name: tg.create_user(name, language_code="ru") for name in ("Ольга", "Иван", "Пётр")}
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Чайная лавка")
        await session.flush()
        for name, role in (("Ольга", "owner"), ("Иван", "manager"), ("Пётр", "manager")):
            made = await staff.create_invitation(session, tenant.id, role, actor=None, via="cli")
            await staff.claim_invitation(session, made.token, telegram_user_id=users[name]["id"], first_name=name,
                                         language_code="ru")
        session.add(ManagerGroup(tenant_id=tenant.id, chat_id=-100777, title="Менеджеры", is_forum=True))
        channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="1", title="ВК")
        session.add(channel)
        await session.flush()
        dialogs = {}
        for i, (first, last, text) in enumerate((("Анна", "Петрова", "Сколько стоит чайник на 1,7 л?"),
                                                 ("Борис", "Орлов", "Когда доставка в Тверь?"),
                                                 ("Вера", "Смирнова", "Есть ли зелёный чай с жасмином?"))):
            got = await inbox.receive(session, InboundMessage(
                channel_id=channel.id, external_chat_id=str(500 + i), external_id="1", text=text,
                sent_at=T0 + timedelta(minutes=i),
                sender=Sender(str(500 + i), first, last, phone=f"+7999000112{i}", profile_url=f"https://vk.com/id50{i}")))
            dialogs[first] = got
        anna = dialogs["Анна"]
        session.add(Suggestion(tenant_id=tenant.id, dialog_id=anna.dialog_id, message_id=anna.message_id,
                               text="Чайник на 1,7 л стоит 2 490 ₽.", intent="price", confidence=0.86,
                               decision=Decision.NEED_APPROVAL, state=SuggestionState.EDITED,
                               final_text="Чайник на 1,7 л стоит 2 490 ₽, доставка завтра.",
                               decided_at=T0 + timedelta(minutes=5),
                               decided_by_id=await staff.staff_id_of(session, tenant.id, users["Иван"]["id"])))
    return {"users": users, "tenant": tenant.id, "dialogs": {k: v.dialog_id for k, v in dialogs.items()}}


async def test_owner_invites_changes_a_role_and_removes_a_person_with_clicks(db, settings):
    tg = TelegramSandbox()
    shop = await _shop(db, tg)
    async with miniapp_browser(db, settings, tg) as mb:
        page = await mb.open(shop["users"]["Ольга"]["id"], "/staff")
        page.on("dialog", lambda d: d.accept())  # Telegram's confirmation popup: the person says yes
        await page.wait_for_selector(".person[data-staff]")
        assert await page.inner_text("#title") == "Сотрудники"
        await page.select_option("#invite-role", "manager")
        await page.click("#invite-create")
        await page.wait_for_selector("#invite-link:not(:empty)")
        link = await page.inner_text("#invite-link")
        assert link.startswith(f"https://t.me/{tg.bot_user['username']}?start=")
        await page.click("#invite-share")
        [shared] = await mb.events(page, "open_telegram_link")
        assert shared["url"].startswith("https://t.me/share/url?url=https%3A%2F%2Ft.me%2F")
        await page.wait_for_selector(".invitation")

        petr = page.locator(".person", has_text="Пётр")
        await petr.locator("select.role").select_option("viewer")
        await page.wait_for_selector("#status:has-text('Наблюдатель')")
        await mb.screenshot(page, "staff")

        # Иван opens the app in his own browser window; the owner removes him; his very next request is refused
        ivan_page = await mb.open(shop["users"]["Иван"]["id"], "/dialogs")
        await ivan_page.wait_for_selector("a.dialog")
        await page.locator(".person", has_text="Иван").locator("button.remove").click()
        await page.wait_for_selector(".person.removed:has-text('Иван')")
        await ivan_page.click("a.dialog")
        await ivan_page.wait_for_selector("#error")
        assert "не сотрудник" in await ivan_page.inner_text("#error")
        async with db.unit_of_work() as session:
            people = {s.name: (s.is_active, s.role.code) for s in (await session.execute(select(StaffMember))).scalars()}
        assert people["Иван"][0] is False and people["Пётр"] == (True, "viewer")
        assert page.js_errors == [] and ivan_page.js_errors == []


async def test_owner_hides_the_phone_from_managers_in_the_role_editor(db, settings):
    tg = TelegramSandbox()
    shop = await _shop(db, tg)
    async with miniapp_browser(db, settings, tg) as mb:
        manager = await mb.open(shop["users"]["Иван"]["id"], f"/dialogs/{shop['dialogs']['Анна']}")
        await manager.wait_for_selector("#customer [data-field=phone]")
        page = await mb.open(shop["users"]["Ольга"]["id"], "/roles")
        await page.wait_for_selector("#fields input[data-code=phone]")
        assert await page.is_checked("#fields input[data-code=phone]")  # the manager role shows the phone
        await page.uncheck("#fields input[data-code=phone]")
        await page.click("#save")
        await page.wait_for_selector("#status:has-text('сохранена')")
        assert "—" in await page.locator("#matrix tr", has_text="Телефон").inner_text()
        await mb.screenshot(page, "roles")
        async with db.unit_of_work() as session:
            role = (await session.execute(select(Role).where(Role.tenant_id == shop["tenant"],
                                                             Role.code == "manager"))).scalar_one()
        assert "phone" in role.hidden_fields
        await manager.reload()
        await manager.wait_for_selector("#customer [data-field=status]")
        assert await manager.locator("#customer [data-field=phone]").count() == 0
        assert "+79990001120" not in await manager.content()
        assert page.js_errors == [] and manager.js_errors == []


async def test_dialogs_search_filters_and_the_dialog_page_with_clicks(db, settings):
    tg = TelegramSandbox()
    shop = await _shop(db, tg)
    async with miniapp_browser(db, settings, tg) as mb:
        page = await mb.open(shop["users"]["Иван"]["id"], "/dialogs")
        await page.wait_for_selector("a.dialog")
        assert await page.locator("a.dialog").count() == 3
        await page.fill("#q", "жасмин")  # a word of a message, in another form
        await page.click("#search button[type=submit]")
        await page.wait_for_function("document.querySelectorAll('a.dialog').length === 1")
        assert "Вера Смирнова" in await page.inner_text("a.dialog")
        assert "q=" in page.url  # the search stays in the URL: Back returns to it
        await page.fill("#q", "")
        await page.click("#search button[type=submit]")
        await page.wait_for_function("document.querySelectorAll('a.dialog').length === 3")
        await page.check("#f-unread")
        await page.wait_for_function("document.querySelectorAll('a.dialog').length === 3")  # all wait for an answer
        await page.uncheck("#f-unread")
        await page.click("#filters button[data-status=resolved]")
        await page.wait_for_selector("#none")
        await page.click("#filters button[data-status='']")
        await page.wait_for_function("document.querySelectorAll('a.dialog').length === 3")
        await mb.screenshot(page, "dialogs")

        await page.click("a.dialog:has-text('Анна')")
        await page.wait_for_selector(".draft")
        draft = await page.inner_text(".draft")
        assert "отправлен с правкой" in draft and "доставка завтра" in draft and "Иван" in draft
        assert "vk.com" not in await page.inner_text("#customer")  # the manager role hides the profile link
        assert "null" not in await page.inner_text("#customer")
        await page.click("#assign-me")
        await page.wait_for_selector("#customer [data-field=assignee]:has-text('Иван')")
        await page.fill("#tags", "vip, чай")
        await page.click("#tags-save")
        await page.wait_for_selector("#customer [data-field=tags]:has-text('vip, чай')")
        await page.fill("#note", "Перезвонить после обеда")
        await page.click("#note-add")
        await page.wait_for_selector("#customer [data-field=notes]:has-text('Перезвонить после обеда')")
        await page.select_option("#ai-mode", "off")
        await page.wait_for_selector("#customer [data-field=ai_mode]:has-text('выключен')")
        await page.fill("#amount", "2490")
        await page.click("#won")
        await page.wait_for_selector("#customer [data-field=outcome]:has-text('продажа')")
        assert "2490" in await page.inner_text("#customer [data-field=amount]")
        assert [e["style"] for e in await mb.events(page, "haptic") if e["type"] == "notification"].count("success") >= 5
        await mb.screenshot(page, "dialog")
        assert page.js_errors == []
