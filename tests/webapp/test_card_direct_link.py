"""The topic card's "История в Mini App" is a Mini App direct link (https://t.me/<bot>/<app>?startapp=dialog_<id>):
in the sandbox viewer it opens the app as a Telegram client does — signed in, start_param naming the dialog — and the
app goes straight to that dialog's page."""

from __future__ import annotations

import re
from html import unescape

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from core.settings import Settings
from sandbox.telegram.viewer import register_mini_app
from tests.bot.desk import build_desk, close_desk
from webapp.server import build_app

from .browser import Ctx, chromium_path


@pytest.fixture
async def desk(settings: Settings):
    desk, resources = await build_desk(database_url=settings.db.database_url.get_secret_value(),
                                       master_key=settings.security.master_key.get_secret_value(),
                                       data_dir=settings.data_dir)
    yield desk
    await close_desk(resources)


async def test_the_card_opens_the_dialog_signed_in_through_a_direct_link(desk):
    from playwright.async_api import async_playwright

    surface = desk.ctx.services["manager_surface"]
    surface.miniapp_short_name = "app"  # what SALESOP_MINIAPP_SHORT_NAME sets (bot/component.py)
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Сколько стоит чайник?")
    await desk.settle()
    topic = await desk.topic(received.dialog_id)
    card = next(m for m in desk.thread(topic.thread_id) if m["message_id"] == topic.pinned_message_id)
    buttons = [b for row in card["reply_markup"]["inline_keyboard"] for b in row]
    link = next(b["url"] for b in buttons if "url" in b)
    bot = desk.sb.bot_user["username"]
    assert link == f"https://t.me/{bot}/app?startapp=dialog_{received.dialog_id}"

    settings = desk.ctx.settings  # the bot token and the sandbox's Bot API URL: the app uses the SDK stand-in
    server = TestServer(build_app(Ctx(settings, desk.ctx.db)), host="127.0.0.1")
    await server.start_server()
    try:
        register_mini_app(desk.sb, "app", f"http://127.0.0.1:{server.port}/")  # BotFather's /newapp
        viewer = settings.telegram.telegram_api_url + "/_viewer/"
        async with aiohttp.ClientSession() as http:
            page_html = await (await http.get(
                f"{viewer}chat/{desk.group_chat_id}", params={"thread": topic.thread_id, "as": desk.owner["id"]})).text()
        hrefs = [unescape(h) for h in re.findall(r"<a class=btn href='([^']+)' target=_blank>", page_html)]
        [opened] = [h for h in hrefs if h.startswith(f"http://127.0.0.1:{server.port}/")]
        assert "tgWebAppStartParam=dialog_" in opened and "tgWebAppData=" in opened

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"])
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await page.goto(opened)
            await page.wait_for_selector(".msg")
            assert page.url.endswith(f"/dialogs/{received.dialog_id}")
            assert "Сколько стоит чайник?" in await page.inner_text("#messages")
            assert await page.evaluate("Telegram.WebApp.initDataUnsafe.start_param") == f"dialog_{received.dialog_id}"
            await browser.close()
    finally:
        await server.close()
