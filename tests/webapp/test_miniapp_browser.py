"""The Mini App in headless Chromium, as a staff member opens it from Telegram: the sandbox serves the WebApp SDK
stand-in, initData arrives in the URL fragment, pages change in place and Telegram's BackButton goes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core import inbox
from core.inbox import InboundMessage, Sender
from core.models import ChannelAccount, ChannelKind, StaffMember
from core.services.tenants import create_tenant, role_by_code
from sandbox.telegram import TelegramSandbox
from sandbox.telegram.viewer import direct_link_target

from .browser import miniapp_browser

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def _shop(db, tg: TelegramSandbox, people: dict[str, str]) -> dict:
    ids = {name: tg.create_user(name, language_code=lang)["id"] for name, lang in people.items()}
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        for name, lang in people.items():
            role = "owner" if name.startswith("Ольга") or name == "Olga" else "manager"
            session.add(StaffMember(tenant_id=tenant.id, role_id=(await role_by_code(session, tenant.id, role)).id,
                                    telegram_user_id=ids[name], name=name, locale=lang))
        channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="1", title="VK")
        session.add(channel)
        await session.flush()
        for i, text in enumerate(["Здравствуйте! <script>alert(1)</script>", "Сколько стоит чайник?"]):
            got = await inbox.receive(session, InboundMessage(
                channel_id=channel.id, external_chat_id="501", external_id=str(i), text=text,
                sent_at=T0 + timedelta(minutes=i),
                sender=Sender("501", "Анна", "Петрова", profile_url="https://vk.com/id501")))
    return {"ids": ids, "dialog": got.dialog_id, "tenant": tenant.id}


async def test_manager_opens_dialog_list_and_history_and_goes_back(db, settings):
    tg = TelegramSandbox()
    shop = await _shop(db, tg, {"Иван": "ru"})
    async with miniapp_browser(db, settings, tg) as mb:
        page = await mb.open(shop["ids"]["Иван"])
        # the SDK is the sandbox's stand-in, found through the Bot API URL; theme colours are applied
        sdk = await page.evaluate("document.querySelector('script[src$=\"/js/telegram-web-app.js\"]').src")
        assert sdk == mb.telegram_url + "/js/telegram-web-app.js"
        assert await page.evaluate("getComputedStyle(document.documentElement)"
                                   ".getPropertyValue('--tg-theme-button-color').trim()") == "#2481cc"
        await page.wait_for_selector("a.dialog")
        item = await page.inner_text("a.dialog")
        assert "Анна Петрова" in item and "2" in item  # name and unread badge
        assert await page.inner_text("#title") == "Диалоги"
        assert not await page.is_visible("#tg-back-button")  # the first page: nothing to go back to
        await page.click("a.dialog")
        await page.wait_for_selector(".msg")
        assert page.url.endswith(f"/dialogs/{shop['dialog']}")
        texts = await page.locator(".msg").all_inner_texts()
        assert "<script>alert(1)</script>" in texts[0]  # shown as text, never executed
        assert "Сколько стоит чайник?" in texts[1]
        assert "vk.com/id501" not in await page.inner_text("#customer")  # hidden from managers
        assert await page.is_visible("#tg-back-button")
        assert [e["type"] for e in await mb.events(page, "haptic")] == ["selection_change"]
        await page.click("#tg-back-button")  # Telegram's BackButton
        await page.wait_for_selector("a.dialog")
        assert not await page.is_visible("#tg-back-button")
        assert page.js_errors == []


async def test_the_cards_direct_link_opens_the_dialog_signed_in(db, settings):
    """https://t.me/<bot>/<app>?startapp=dialog_<id>, opened from the group as a Telegram client opens it: the app's
    URL with initData carrying start_param; the app goes straight to the dialog, in the person's language."""
    tg = TelegramSandbox()
    shop = await _shop(db, tg, {"Olga": "en"})
    olga = shop["ids"]["Olga"]
    async with miniapp_browser(db, settings, tg) as mb:
        tg.menu_buttons[olga] = {"type": "web_app", "text": "App", "web_app": {"url": mb.base + "/"}}
        link = f"https://t.me/{tg.bot_user['username']}/app?startapp=dialog_{shop['dialog']}"
        target = direct_link_target(tg, link, olga)
        assert target is not None and "start_param%3Ddialog_" in target
        assert direct_link_target(tg, "https://t.me/someone_else_bot/app?startapp=x", olga) is None
        page = await mb.new_page()
        await page.goto(target)
        await page.wait_for_selector(".msg")
        assert page.url.endswith(f"/dialogs/{shop['dialog']}")
        assert await page.inner_text("#title") == "Dialog"
        assert "vk.com/id501" in await page.inner_text("#customer")  # the owner sees the profile link
        assert page.js_errors == []
