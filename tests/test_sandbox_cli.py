"""`salesop sandbox` as a user runs it: one `<name> <base-url>` line per stand-in, each answering its real client
(for Telegram accounts: `mtproto <host:port>` and `mtproto-key <public key file>`, what Telethon is given)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import openai
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
import pytest
from telethon import TelegramClient
from telethon.crypto import rsa
from telethon.sessions import StringSession
from vkbottle import API, VKAPIError


async def test_sandbox_command_prints_urls_that_real_clients_use(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    proc = subprocess.Popen([sys.executable, "-m", "salesop.cli", "sandbox"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**env, "SALESOP_DATA_DIR": str(tmp_path)})
    try:
        urls = {}
        while len(urls) < 7:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            name, url = line.split()
            urls[name] = url
        assert set(urls) == {"telegram", "vk", "openai", "elevenlabs", "viewer", "mtproto", "mtproto-key"}
        notice = ""
        while "sandbox bot token: " not in notice:  # log lines (e.g. Telethon's) may come first
            notice = proc.stderr.readline()
            assert notice, "no bot token notice on stderr"
        token = notice.split("sandbox bot token: ")[1].split(";")[0]

        bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(urls["telegram"])))
        assert (await bot.get_me()).is_bot
        await bot.session.close()

        client = openai.AsyncOpenAI(base_url=urls["openai"], api_key="sandbox")
        assert [m.id async for m in client.models.list()]

        api = API("unknown-token")
        api.API_URL = urls["vk"]
        with pytest.raises(VKAPIError) as error:  # VK's own answer for an unknown token
            await api.groups.get_by_id()
        assert error.value.code == 5
        await api.http_client.close()

        # Telethon trusts the printed key and connects to the printed address: the handshake completes and the
        # fresh authorization key is not signed in to any account
        rsa.add_key(Path(urls["mtproto-key"]).read_text(), old=False)
        host, port = urls["mtproto"].rsplit(":", 1)
        session = StringSession()
        session.set_dc(2, host, int(port))
        telethon = TelegramClient(session, 12345, "0123456789abcdef0123456789abcdef")
        await telethon.connect()
        try:
            assert session.auth_key is not None
            assert await telethon.is_user_authorized() is False
        finally:
            await telethon.disconnect()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
