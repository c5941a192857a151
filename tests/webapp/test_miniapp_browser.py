"""The Mini App in headless Chromium, as a staff member opens it from Telegram (initData in the URL hash)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright
from pydantic import SecretStr

from core import inbox
from core.inbox import InboundMessage, Sender
from core.models import ChannelAccount, ChannelKind, StaffMember
from core.services.tenants import create_tenant, role_by_code
from sandbox.telegram import TelegramSandbox
from webapp.server import build_app

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None and shutil.which("apt-get"):
        # A fresh machine: Debian's Chromium (Playwright's own browser download is not reachable here).
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=False, capture_output=True)
        path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("Chromium is needed for the browser tests: apt-get install chromium")
    return path


class Ctx:
    def __init__(self, settings, db):
        self.settings, self.db, self.embedded = settings, db, False


async def test_manager_opens_dialog_list_and_history(db, settings, tmp_path):
    tg = TelegramSandbox()
    settings.telegram.bot_token = SecretStr(tg.bot_token)
    manager = tg.create_user("Иван")["id"]
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Shop")
        session.add(StaffMember(tenant_id=tenant.id, role_id=(await role_by_code(session, tenant.id, "manager")).id,
                                telegram_user_id=manager, name="Иван"))
        channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="1", title="VK")
        session.add(channel)
        await session.flush()
        for i, text in enumerate(["Здравствуйте! <script>alert(1)</script>", "Сколько стоит чайник?"]):
            await inbox.receive(session, InboundMessage(
                channel_id=channel.id, external_chat_id="501", external_id=str(i), text=text,
                sent_at=T0 + timedelta(minutes=i),
                sender=Sender("501", "Анна", "Петрова", profile_url="https://vk.com/id501")))

    server = TestServer(build_app(Ctx(settings, db)), host="127.0.0.1")
    await server.start_server()
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path(), args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
            page = await browser.new_page()
            hash_ = "#tgWebAppData=" + quote(tg.init_data(manager), safe="")
            await page.goto(f"http://127.0.0.1:{server.port}/{hash_}")
            await page.wait_for_selector("a.dialog")
            item = await page.inner_text("a.dialog")
            assert "Анна Петрова" in item and "2" in item  # name and unread badge
            await page.click("a.dialog")
            await page.wait_for_selector(".msg")
            texts = await page.locator(".msg").all_inner_texts()
            assert "<script>alert(1)</script>" in texts[0]  # shown as text, never executed
            assert "Сколько стоит чайник?" in texts[1]
            assert "vk.com/id501" not in await page.inner_text("#customer")  # hidden from managers
            await page.screenshot(path=str(tmp_path / "miniapp.png"), full_page=True)
            await browser.close()
    finally:
        await server.close()
