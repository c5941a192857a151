"""`salesop sandbox` as a user runs it: one `<name> <base-url>` line per stand-in, each answering its real client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import openai
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
import pytest
from vkbottle import API, VKAPIError


async def test_sandbox_command_prints_urls_that_real_clients_use(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    proc = subprocess.Popen([sys.executable, "-m", "salesop.cli", "sandbox"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**env, "SALESOP_DATA_DIR": str(tmp_path)})
    try:
        urls = {}
        while len(urls) < 5:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            name, url = line.split()
            urls[name] = url
        assert set(urls) == {"telegram", "vk", "openai", "elevenlabs", "viewer"}
        token = proc.stderr.readline().split("sandbox bot token: ")[1].split(";")[0]

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
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
