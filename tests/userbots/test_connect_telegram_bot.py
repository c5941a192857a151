"""/connect_telegram through the real aiogram bot on the sandbox Bot API: the owner logs an account in from a
private chat (phone, code; or a QR code), secrets typed into the chat are deleted, strangers are refused. One
variant signs in with real Telethon to the MTProto stand-in; the others script the login's answers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web
from sqlalchemy import select

from bot.middlewares import ActorMiddleware, UnitOfWorkMiddleware
from bot.routers import connect_telegram
from bot.runtime import BotRuntime
from core.models import ChannelAccount, ChannelKind, StaffMember
from core.services.tenants import create_tenant, role_by_code
from sandbox.telegram import TelegramSandbox
from userbots.telegram.login import LoginError, LoginErrorKind, QrTicket, TelegramLoginService, telethon_login_factory

from .test_telegram_login import ANNA, ScriptedLogin


class BotDesk:
    def __init__(self, sb: TelegramSandbox, bot: Bot, dp: Dispatcher):
        self.sb, self.bot, self.dp = sb, bot, dp
        self.offset = 0

    async def pump(self) -> None:
        while True:
            updates = await self.bot.get_updates(offset=self.offset, timeout=0)
            if not updates:
                return
            for update in updates:
                self.offset = update.update_id + 1
                await self.dp.feed_update(self.bot, update)

    async def say(self, user: dict, text: str) -> dict:
        message = await self.sb.user_sends(user["id"], user["id"], text)
        await self.pump()
        return message

    def chat(self, user: dict) -> list[dict]:
        return self.sb.chat(user["id"])["messages"]

    def bot_said(self, user: dict) -> list[str]:
        return [m["text"] or m["caption"] for m in self.chat(user) if m["by_bot"]]


@contextlib.asynccontextmanager
async def desk(db, secrets, login_clients):
    """The manager bot on the Bot API stand-in with /connect_telegram, an owner and a stranger."""
    sb = TelegramSandbox()
    runner = web.AppRunner(sb.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    bot = Bot(sb.bot_token, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    login = TelegramLoginService(db, secrets, login_clients)
    dp = Dispatcher()
    dp.update.outer_middleware(UnitOfWorkMiddleware(BotRuntime(db=db, bot_id=sb.bot_user_id)))
    dp.message.outer_middleware(ActorMiddleware())
    dp.include_router(connect_telegram.router(login))

    owner, stranger = sb.create_user("Ольга", "Владелица"), sb.create_user("Пётр", None)
    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="shop", name="Магазин")
        await session.flush()
        session.add(StaffMember(tenant_id=tenant.id, role_id=(await role_by_code(session, tenant.id, "owner")).id,
                                telegram_user_id=owner["id"], name="Ольга"))
    try:
        yield BotDesk(sb, bot, dp), owner, stranger
    finally:
        await bot.session.close()
        await runner.cleanup()


@pytest.fixture
async def desk_with_login(db, secrets):
    clients: list[ScriptedLogin] = []

    async def factory():
        return clients.pop(0)

    async with desk(db, secrets, factory) as (bot_desk, owner, stranger):
        yield bot_desk, clients, owner, stranger


async def _telegram_channels(db) -> list[ChannelAccount]:
    async with db.unit_of_work() as session:
        return list((await session.execute(select(ChannelAccount).where(
            ChannelAccount.kind == ChannelKind.TELEGRAM_ACCOUNT))).scalars())


async def test_owner_connects_an_account_with_phone_and_code(db, desk_with_login):
    desk, clients, owner, stranger = desk_with_login
    clients.append(ScriptedLogin(send_code=["hash"], sign_in_code=[LoginError(LoginErrorKind.CODE_INVALID), ANNA]))

    await desk.say(owner, "/connect_telegram")
    assert "номер телефона" in desk.bot_said(owner)[-1]
    await desk.say(owner, "+7 999 123 45 67")
    assert "Код отправлен" in desk.bot_said(owner)[-1]
    wrong = await desk.say(owner, "1 1 1 1 1")
    assert "Неверный код" in desk.bot_said(owner)[-1]
    right = await desk.say(owner, "2 2 2 2 2")
    assert "Анна Петрова" in desk.bot_said(owner)[-1] and "подключён" in desk.bot_said(owner)[-1]

    deleted = {m["message_id"] for m in desk.chat(owner) if m["deleted"]}
    assert {wrong["message_id"], right["message_id"]} <= deleted  # codes do not stay in the chat
    channels = await _telegram_channels(db)
    assert [(c.external_id, c.title) for c in channels] == [("555", "Анна Петрова")]

    # after the login, plain messages are not taken for codes any more
    await desk.say(owner, "12345")
    assert "подключён" in desk.bot_said(owner)[-1]


async def test_owner_connects_an_account_of_the_mtproto_stand_in(db, tg_secrets, tg_settings, mtproto):
    """The same conversation with real Telethon behind it, signing in to the MTProto stand-in."""
    account = mtproto.create_account("+79991234567", "Анна", "Петрова")
    async with desk(db, tg_secrets, telethon_login_factory(tg_settings)) as (bot_desk, owner, _):
        await bot_desk.say(owner, "/connect_telegram")
        await bot_desk.say(owner, "+7 999 123 45 67")
        assert "Код отправлен" in bot_desk.bot_said(owner)[-1]
        code = await bot_desk.say(owner, " ".join(mtproto.login_code("+79991234567")))
        assert "Анна Петрова" in bot_desk.bot_said(owner)[-1] and "подключён" in bot_desk.bot_said(owner)[-1]
        assert code["message_id"] in {m["message_id"] for m in bot_desk.chat(owner) if m["deleted"]}
    channels = await _telegram_channels(db)
    assert [(c.external_id, c.title) for c in channels] == [(str(account.user.id), "Анна Петрова")]
    assert mtproto.signed_in(account.user.id) == 1


async def test_strangers_are_refused(db, desk_with_login):
    desk, clients, owner, stranger = desk_with_login
    await desk.say(stranger, "/connect_telegram")
    assert "владелец, администратор или техспециалист" in desk.bot_said(stranger)[-1]
    assert await _telegram_channels(db) == []


async def test_qr_login_sends_the_code_as_a_picture_and_finishes_by_itself(db, desk_with_login):
    desk, clients, owner, stranger = desk_with_login
    expires = dt.datetime(2026, 3, 1, 12, 0, 30, tzinfo=dt.timezone.utc)
    clients.append(ScriptedLogin(qr_start=[QrTicket("tg://login?token=QQQ", expires)], qr_wait=[ANNA]))
    await desk.say(owner, "/connect_telegram qr")
    photo = next(m for m in desk.chat(owner) if m["by_bot"] and m["media"])
    assert photo["media"]["type"] == "photo" and "QR" in photo["caption"]
    for _ in range(750):  # the scan is awaited in the background, after the handler returned
        if any("подключён" in (text or "") for text in desk.bot_said(owner)):
            break
        await asyncio.sleep(0.02)
    assert "подключён" in desk.bot_said(owner)[-1]
    assert [c.external_id for c in await _telegram_channels(db)] == ["555"]
