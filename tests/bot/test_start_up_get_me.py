"""The bot's start-up waits out a Bot API storm on getMe (5xx, 429, a network outage) with backoff instead of exiting
— which, under a restart policy, crash-looped the process for as long as the storm lasted. Against the Bot API
stand-in, whose fault injection answers as Telegram does."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramUnauthorizedError

from bot.component import answered_in_time, who_am_i
from sandbox.runner import start_sandbox
from tests.waiting import wait_for

TIME_SCALE = 1000.0  # the backoff's seconds shrink like every emulated delay: 1 s → 1 ms


@pytest.fixture
async def stack():
    stack = await start_sandbox(telegram_limits="off")
    yield stack
    await stack.stop()


def _bot(stack, token: str | None = None) -> Bot:
    api = TelegramAPIServer.from_base(stack.urls["telegram"])
    return Bot(token or stack.telegram.bot_token, session=AiohttpSession(api=api))


async def _storm(stack, status: int, count: int, **kw) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{stack.urls['telegram']}/_sandbox/faults",
                             json={"status": status, "count": count, **{"methods": ["getMe"], **kw}}) as resp:
            assert resp.status == 200


async def test_get_me_is_tried_again_through_a_5xx_storm(stack, caplog, capsys):
    await _storm(stack, 502, 3)
    await _storm(stack, 500, 2)
    await _storm(stack, 429, 1, retry_after=1)
    bot, health = _bot(stack), {}
    try:
        with caplog.at_level(logging.WARNING, logger="bot.component"):
            me = await asyncio.wait_for(who_am_i(bot, asyncio.Event(), time_scale=TIME_SCALE, language="en",
                                                 health=health), 30)
    finally:
        await bot.session.close()
    assert me is not None and me.id == stack.telegram.bot_user_id
    assert dict(stack.telegram.faults.injected) == {502: 3, 500: 2, 429: 1}  # every failure was met, none skipped
    tries = [r.getMessage() for r in caplog.records if "getMe failed" in r.getMessage()]
    assert len(tries) == 6 and all(r.levelno == logging.WARNING for r in caplog.records)
    assert "Bad Gateway" in tries[0] and "(try 6)" in tries[-1]
    assert any("getMe answered after 6 failed tries" in r.getMessage() for r in caplog.records)
    assert health["bot"] == {"state": "ok"}
    out = capsys.readouterr().out  # the component's status line, once, in the CLI's language
    assert out.count("waiting for the Bot API") == 1 and out.startswith("bot ")


async def test_the_wait_is_visible_and_ends_when_the_process_stops(stack):
    await _storm(stack, 502, 10_000)
    bot, health, stop = _bot(stack), {}, asyncio.Event()
    try:
        waiting = asyncio.create_task(who_am_i(bot, stop, time_scale=TIME_SCALE, health=health))
        await wait_for(lambda: health.get("bot", {}).get("tries", 0) >= 3, timeout=30,
                       what="getMe tried three times")
        assert health["bot"]["state"] == "waiting" and "Bad Gateway" in health["bot"]["error"]
        assert not waiting.done()  # still waiting: the storm does not end the component
        stop.set()
        assert await asyncio.wait_for(waiting, 30) is None
    finally:
        await bot.session.close()


async def test_a_refused_token_is_not_tried_again(stack):
    bot = _bot(stack, token="123456:not-the-token")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await asyncio.wait_for(who_am_i(bot, asyncio.Event(), time_scale=TIME_SCALE), 30)
    finally:
        await bot.session.close()


async def test_the_other_start_up_calls_wait_out_a_storm_too(stack, caplog):
    """Polling starts with deleteWebhook (a webhook with setWebhook): a 5xx there ended the component as well (the
    fault soak's 502 storm met a restarting bot right after its getMe)."""
    await _storm(stack, 502, 3, methods=["deleteWebhook"])
    bot, health = _bot(stack), {}
    try:
        with caplog.at_level(logging.WARNING, logger="bot.component"):
            done = await asyncio.wait_for(answered_in_time(
                lambda: bot.delete_webhook(drop_pending_updates=False), "deleteWebhook", asyncio.Event(),
                time_scale=TIME_SCALE, health=health), 30)
    finally:
        await bot.session.close()
    assert done is True and dict(stack.telegram.faults.injected) == {502: 3}
    tries = [r.getMessage() for r in caplog.records if "deleteWebhook failed" in r.getMessage()]
    assert len(tries) == 3 and all("Bad Gateway" in m for m in tries)
    assert health["bot"] == {"state": "ok"}
