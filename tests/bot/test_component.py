"""The bot as a `salesop run` component: install() registers the task handlers and adapters, run() serves Telegram
by long polling or by webhook (secret token checked) and runs the outbox dispatcher."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import select
from taskiq import InMemoryBroker

from bot import component
from core import inbox
from core.clock import SystemClock
from core.crypto import SecretBox
from core.db import Database, DatabaseHandle
from core.inbox import InboundMessage, Sender
from core.models import ChannelAccount, ChannelKind, ManagerGroup, StaffMember, Suggestion
from core.services.tenants import create_tenant, role_by_code
from core.settings import Settings
from core.tasks import TaskiqQueue
from salesop.context import AppContext
from sandbox.telegram import TelegramSandbox
from tests.conftest import free_port

from .desk import RIGHTS, serve
from .gateway import SandboxBotGateway


async def eventually(check: Callable, what: str, timeout: float = 20.0):
    """Wait for a condition the system reaches asynchronously (not a timing assertion: only a cap on waiting)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
async def served_sandbox():
    sb = TelegramSandbox()
    runner, base = await serve(sb.app)
    yield sb, base
    await runner.cleanup()


async def _context(settings: Settings, sb: TelegramSandbox, base: str, **telegram) -> AppContext:
    app_settings = Settings.load(
        data_dir=settings.data_dir, db={"database_url": settings.db.database_url},
        security={"master_key": settings.security.master_key},
        telegram={"bot_token": sb.bot_token, "telegram_api_url": base, **telegram},
    )
    db = Database(settings.db.database_url.get_secret_value(), pool_size=5)
    return AppContext(settings=app_settings, handle=DatabaseHandle(db.url, None), db=db,
                      secrets=SecretBox([settings.security.master_key.get_secret_value()]),
                      queue=TaskiqQueue(InMemoryBroker()), clock=SystemClock())


async def _run_scenario(ctx: AppContext, sb: TelegramSandbox, base: str) -> None:
    """Owner adds the bot → group registered; a customer writes and a draft arrives → topic and card; the manager
    presses Send → the customer gets it. Everything through the running component."""
    customer_bot = Bot(sb.bot_token, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    ctx.services["channel_gateway"] = SandboxBotGateway(customer_bot)
    owner, manager, anna = sb.create_user("Ольга"), sb.create_user("Иван"), sb.create_user("Анна")
    async with ctx.db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Магазин")
        await session.flush()
        for role, user in (("owner", owner), ("manager", manager)):
            session.add(StaffMember(tenant_id=tenant.id, role_id=(await role_by_code(session, tenant.id, role)).id,
                                    telegram_user_id=user["id"], name=user["first_name"]))
        channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id="1")
        session.add(channel)
        await session.flush()
        channel_id = channel.id
    chat = sb.create_forum_group("Менеджеры", bot_rights=None, owner_id=owner["id"], members=[manager["id"]])
    await sb.add_bot_to_group(chat["id"], rights=RIGHTS, by_user_id=owner["id"])

    async def group_registered():
        async with ctx.db.unit_of_work() as session:
            return (await session.execute(select(ManagerGroup))).scalar_one_or_none()

    await eventually(group_registered, "the group registered itself")
    async with ctx.db.unit_of_work() as session:
        received = await inbox.receive(session, InboundMessage(
            channel_id=channel_id, external_chat_id=str(anna["id"]), external_id="1", text="Есть в наличии?",
            sender=Sender(external_user_id=str(anna["id"]), first_name="Анна"), sent_at=_now()))
        suggestion = Suggestion(tenant_id=received.tenant_id, dialog_id=received.dialog_id,
                                message_id=received.message_id, text="Да, есть!", intent="availability",
                                confidence=0.9)
        session.add(suggestion)
        await session.flush()
        suggestion_id = suggestion.id
    for name, kwargs in received.follow_ups:
        await ctx.queue.enqueue(name, **kwargs)  # the AI's task has no handler here: skipped
    await ctx.queue.enqueue(component.POST_SUGGESTION_CARD, suggestion_id=suggestion_id)

    def card():
        for message in sb.chat(chat["id"])["messages"]:
            for row in (message["reply_markup"] or {}).get("inline_keyboard", []):
                if any(b.get("callback_data") == f"s:send:{suggestion_id}" for b in row):
                    return message
        return None

    posted = await eventually(card, "the reply card in the topic")
    await sb.press_button(manager["id"], chat["id"], posted["message_id"], f"s:send:{suggestion_id}")
    await eventually(lambda: anna["id"] in sb.chats and any(
        m["by_bot"] and m["text"] == "Да, есть!" for m in sb.chat(anna["id"])["messages"]), "the customer's reply")
    await customer_bot.session.close()


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def test_polling_mode(settings, served_sandbox):
    sb, base = served_sandbox
    ctx = await _context(settings, sb, base)
    component.install(ctx)
    await ctx.queue.startup()
    stop = asyncio.Event()
    running = asyncio.create_task(component.run(ctx, stop))
    try:
        await _run_scenario(ctx, sb, base)
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await ctx.queue.shutdown()
        await ctx.db.dispose()


async def test_webhook_mode_with_secret_token(settings, served_sandbox):
    sb, base = served_sandbox
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg/hook"
    ctx = await _context(settings, sb, base, webhook_url=url, webhook_secret="s3cret-token", webhook_port=port)
    component.install(ctx)
    await ctx.queue.startup()
    stop = asyncio.Event()
    running = asyncio.create_task(component.run(ctx, stop))
    try:
        await eventually(lambda: sb.webhook is not None, "setWebhook")
        assert sb.webhook["url"] == url and sb.webhook["secret_token"] == "s3cret-token"
        async with aiohttp.ClientSession() as http:
            forged = {"update_id": 999, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"},
                                                    "text": "/connect"}}
            async with http.post(url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as answer:
                assert answer.status == 401  # not from Telegram: refused before any handler
        await _run_scenario(ctx, sb, base)
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await ctx.queue.shutdown()
        await ctx.db.dispose()
