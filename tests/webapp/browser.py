"""Driving the Mini App in headless Chromium (Debian's package, through Playwright with that executable — no browser
download), the way Telegram opens it: the Telegram sandbox serves the WebApp SDK stand-in, the Mini App server finds
it (SALESOP_TELEGRAM_API_URL points at the sandbox), and the page gets signed initData in the URL fragment.

    async with miniapp_browser(db, settings) as mb:
        page = await mb.open(user_id, "/dashboard")
        await page.click(...)
        await mb.screenshot(page, "dashboard")   # docs/screenshots/dashboard.png at 390 px
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright
from pydantic import SecretStr

from sandbox.runner import serve
from sandbox.telegram import TelegramSandbox
from webapp.server import build_app

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}


class Ctx:
    """The slice of AppContext the web app uses."""

    def __init__(self, settings, db):
        self.settings, self.db, self.embedded = settings, db, False


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None and shutil.which("apt-get"):
        # A fresh machine: Debian's Chromium (Playwright's own browser download is not reachable here). Test workers
        # arrive here at once; apt-get refuses while another holds dpkg's lock, so they queue on a machine-wide lock
        # and whoever comes second finds Chromium installed.
        with open("/tmp/salesop-chromium-install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = shutil.which("chromium")
            if path is None:
                subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True)
                subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=False, capture_output=True)
                path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("Chromium is needed for the browser tests: apt-get install chromium")
    return path


@dataclass
class MiniAppBrowser:
    tg: TelegramSandbox
    base: str  # the Mini App's URL
    telegram_url: str  # the Telegram sandbox's URL
    browser: Browser

    async def new_page(self, width: int = PHONE["width"]) -> Page:
        context = await self.browser.new_context(viewport={"width": width, "height": PHONE["height"]},
                                                 accept_downloads=True, locale="ru-RU")
        page = await context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors  # type: ignore[attr-defined]
        return page

    def url(self, user_id: int, path: str = "/") -> str:
        return f"{self.base}{path}#tgWebAppData={quote(self.tg.init_data(user_id), safe='')}&tgWebAppVersion=8.0"

    async def open(self, user_id: int, path: str = "/", *, page: Page | None = None) -> Page:
        page = page or await self.new_page()
        await page.goto(self.url(user_id, path))
        await page.wait_for_function("document.querySelector('#view').dataset.page || document.querySelector('#error')")
        return page

    async def screenshot(self, page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        # Written whole, then renamed: two runs at once (xdist workers, two checkouts' suites) never leave a mixed file.
        partial = path.with_name(f".{name}.{os.getpid()}.png")
        partial.write_bytes(await page.screenshot(full_page=True))
        os.replace(partial, path)
        return path

    async def events(self, page: Page, kind: str) -> list[dict]:
        """What the page asked of the Telegram client (the SDK stand-in records haptics, buttons, links)."""
        return await page.evaluate(f"Telegram.WebApp.__sandbox.events.filter(e => e.kind === {kind!r})")


@asynccontextmanager
async def miniapp_browser(db, settings, tg: TelegramSandbox | None = None):
    tg = tg or TelegramSandbox()
    settings.telegram.bot_token = SecretStr(tg.bot_token)
    runner, telegram_url = await serve(tg.app)
    settings.telegram.telegram_api_url = telegram_url
    server = TestServer(build_app(Ctx(settings, db)), host="127.0.0.1")
    await server.start_server()
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path(), args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
            try:
                yield MiniAppBrowser(tg=tg, base=f"http://127.0.0.1:{server.port}", telegram_url=telegram_url,
                                     browser=browser)
            finally:
                await browser.close()
    finally:
        await server.close()
        await runner.cleanup()
