"""One Telegram account connected both ways — a Telegram Business connection of the manager bot and a Telethon userbot
— is one world: the sandbox's Bot API and MTProto stand-ins share the account (sandbox/telegram/business.py `link`),
the product shares its customers and dialogs (core.inbox.home_of).

End to end with the real aiogram bot and the real Telethon client: the business connection comes first and a
customer writes → one dialog, one topic, one pinned card; the userbot connects and the customer writes again — the
message reaches both the bot (business_message) and the userbot (MTProto) with the same id and is stored once; the
userbot's history import fills the same dialog with what came before and adds no duplicate; a reply goes out once
through the business connection while the customer wrote in the last 24 hours, and once through the userbot when
the window is over — the customer receives each once, and the delivery says which way it went.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update

from bot.runtime import BotRuntime
from bot.setup import build_dispatcher
from core import inbox
from core.i18n import t
from core.models import (
    ChannelAccount,
    ChannelKind,
    Customer,
    CustomerIdentity,
    Dialog,
    DialogTopic,
    Direction,
    Message,
    OutboxCommand,
)
from core.settings import Settings
from sandbox.mtproto import MTProtoSandbox
from userbots.gateway import UserbotGateway
from userbots.importer import run_import
from userbots.telegram.client import TelegramAccount, TelegramAccounts, TelethonClientFactory
from userbots.telegram.login import LoginState, TelegramLoginService, telethon_login_factory

from .desk import Desk

PHONE = "+79990002233"


async def wait_for(predicate, timeout: float = 10.0):
    """Poll until truthy: MTProto updates arrive over TCP, the bot's through getUpdates."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.02)


def _mtproto_settings(settings: Settings, sandbox: MTProtoSandbox) -> Settings:
    return settings.model_copy(update={"telegram": settings.telegram.model_copy(update={
        "telegram_api_id": 12345, "telegram_api_hash": SecretStr("0123456789abcdef0123456789abcdef"),
        "telegram_mtproto_address": sandbox.address, "telegram_mtproto_public_key": sandbox.public_key})})


class DeskQueue:
    """What the userbot's live ingest enqueues, run at once with the desk's own handlers (mirror into the topic …);
    the AI drafts it asks for are noted."""

    def __init__(self, desk: Desk):
        self.desk = desk
        self.drafts: list[int] = []

    async def enqueue(self, name: str, **kwargs) -> None:
        if name == inbox.SUGGEST_REPLY:
            self.drafts.append(kwargs["message_id"])
        elif name in self.desk.tasks:
            await self.desk.tasks[name](**kwargs)


@pytest.fixture
async def both(desk: Desk):
    """The desk, the MTProto stand-in sharing the owner's account with the Bot API stand-in, the owner's account
    there (same user id as the owner the bot knows), and the product's gateway."""
    mtproto = MTProtoSandbox()
    await mtproto.start()
    desk.sb.business.link(mtproto)
    account = mtproto.create_account(PHONE, "Ольга", "Владелец", user_id=desk.owner["id"])
    settings = _mtproto_settings(desk.ctx.settings, mtproto)
    queue = DeskQueue(desk)
    accounts = TelegramAccounts(desk.db)
    gateway = UserbotGateway(desk.db, desk.ctx.secrets, settings, telegram=accounts)
    desk.ctx.services["channel_gateway"] = gateway
    runtime = BotRuntime(db=desk.db, bot_id=desk.sb.bot_user_id, bot_username=desk.sb.bot_user["username"],
                         wake_dispatcher=desk.outbox.wake)
    desk.dp = build_dispatcher(runtime, {"task_queue": queue})
    yield desk, mtproto, account, settings, queue, accounts
    await gateway.close()
    await mtproto.stop()


@contextlib.asynccontextmanager
async def running(desk: Desk, queue, settings, channel_id: int, accounts: TelegramAccounts):
    """The account's userbot as the userbots component runs it (its client also sends for the gateway)."""
    async with desk.db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, channel_id)
    worker = TelegramAccount(desk.db, queue, channel, TelethonClientFactory(settings, desk.db, desk.ctx.secrets))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await wait_for(lambda: worker.connected.is_set() or task.done())
    if task.done():
        task.result()
    assert worker.connected.is_set(), "the userbot did not connect"
    accounts.add(worker)
    try:
        yield worker
    finally:
        accounts.remove(channel_id)
        stop.set()
        await asyncio.wait_for(task, 10)


async def _count(desk: Desk, model, *where) -> int:
    async with desk.db.unit_of_work() as session:
        return (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def _messages(desk: Desk, dialog_id: int) -> list[Message]:
    async with desk.db.unit_of_work() as session:
        rows = (await session.execute(select(Message).where(Message.dialog_id == dialog_id))).scalars().all()
    return sorted(rows, key=lambda m: int(m.external_id))


async def _send(desk: Desk, dialog: Dialog, message: Message, text: str) -> tuple[OutboxCommand, str]:
    """A draft card in the dialog's topic, and a manager pressing Send: the command and the card's text after."""
    received = inbox.Received(dialog.tenant_id, dialog.id, message.id, created=True)
    suggestion_id = await desk.suggest(received, text)
    await desk.settle()
    topic = await desk.topic(dialog.id)
    card = desk.card_of(topic.thread_id, suggestion_id)
    await desk.press(desk.manager, card["message_id"], f"s:send:{suggestion_id}")
    async with desk.db.unit_of_work() as session:
        command = (await session.execute(select(OutboxCommand).where(OutboxCommand.suggestion_id == suggestion_id))
                   ).scalar_one()
    await desk.settle()
    return command, next(m for m in desk.thread(topic.thread_id) if m["message_id"] == card["message_id"])["text"]


async def test_one_account_two_ways_one_dialog(both):
    desk, mtproto, account, settings, queue, accounts = both
    owner_id = desk.owner["id"]
    customer = desk.customer("Анна", "Петрова")
    # What the customer and the shop wrote before anything was connected: only a userbot import can bring it.
    person = mtproto.create_customer("Анна", "Петрова", user_id=customer["id"])
    old_in, _ = account.add_message(person.id, out=False, text="Добрый вечер, платье ещё есть?", logged=False,
                                    date=1_700_000_000)
    old_out, _ = account.add_message(person.id, out=True, text="Есть, размеры 42 и 44", logged=False,
                                     date=1_700_000_100)

    # 1. The account connects the bot (Telegram Business) and the customer writes.
    desk.sb.business.connect(owner_id)
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        business = (await session.execute(select(ChannelAccount).where(
            ChannelAccount.kind == ChannelKind.TELEGRAM_BUSINESS))).scalar_one()
    first = desk.sb.business.write(customer["id"], owner_id, customer["id"], "Здравствуйте! Доставка в Казань есть?")
    await desk.settle()
    # the message is the MTProto account's, with its id: one world
    assert first["message_id"] == old_out.id + 1
    assert [m["text"] for m in mtproto.messages(owner_id, person.id)][-1] == "Здравствуйте! Доставка в Казань есть?"
    async with desk.db.unit_of_work() as session:
        dialog = (await session.execute(select(Dialog))).scalar_one()
    assert dialog.channel_id == business.id and dialog.external_chat_id == str(customer["id"])
    topic = await desk.topic(dialog.id)
    assert topic is not None and topic.pinned_message_id

    # 2. The same account signs in as a userbot (phone and code) and runs.
    service = TelegramLoginService(desk.db, desk.ctx.secrets, telethon_login_factory(settings))
    await service.start(desk.tenant_id, 1)
    assert (await service.submit(desk.tenant_id, 1, PHONE)).state == LoginState.CODE
    step = await service.submit(desk.tenant_id, 1, mtproto.login_code(PHONE))
    assert step.state == LoginState.DONE, step.text
    userbot_id = step.channel_id
    async with desk.db.unit_of_work() as session:
        userbot = await session.get(ChannelAccount, userbot_id)
        assert (userbot.kind, userbot.external_id) == (ChannelKind.TELEGRAM_ACCOUNT, business.external_id)

    async with running(desk, queue, settings, userbot_id, accounts):
        # 3. The customer writes again: over MTProto to the userbot and as business_message to the bot, same id.
        second = await mtproto.customer_writes(owner_id, person.id, "А оплата картой при получении?")
        await desk.settle()
        assert await wait_for(lambda: _count(desk, Message, Message.external_id == str(second.id)))
        await desk.settle()
        stored = await _messages(desk, dialog.id)
        assert [(m.external_id, m.direction) for m in stored] == [(str(first["message_id"]), Direction.IN),
                                                                  (str(second.id), Direction.IN)]
        assert await _count(desk, Dialog) == 1 and await _count(desk, Customer) == 1
        assert await _count(desk, CustomerIdentity) == 1
        assert await _count(desk, DialogTopic) == 1 and len(desk.live_topics()) == 1
        posts = [m["text"] or "" for m in desk.thread(topic.thread_id)]
        assert sum("А оплата картой при получении?" in p for p in posts) == 1  # mirrored once

        # 4. The userbot's history import fills the same dialog with what came before, and nothing twice.
        report = await run_import(desk.db, desk.ctx.secrets, settings, userbot_id, progress=False)
        assert report.status == "done", report
        stored = await _messages(desk, dialog.id)
        assert [m.external_id for m in stored] == [str(i) for i in (old_in.id, old_out.id, first["message_id"],
                                                                     second.id)]
        assert [m.is_imported for m in stored] == [True, True, False, False]
        assert await _count(desk, Dialog) == 1 and await _count(desk, Customer) == 1
        async with desk.db.unit_of_work() as session:
            assert (await session.get(Dialog, dialog.id)).message_count == 4

        # 5. A reply within 24 hours goes out through the business connection, once.
        command, card = await _send(desk, dialog, stored[-1], "Да, картой курьеру. Доставка в Казань — 350 ₽.")
        assert t("reply.via.telegram_business", "ru") in card  # the card says which way it went
        assert command.result["via"] == ChannelKind.TELEGRAM_BUSINESS.value
        assert command.result["via_channel_id"] == business.id
        chat = mtproto.messages(owner_id, person.id)
        assert [m["text"] for m in chat].count("Да, картой курьеру. Доставка в Казань — 350 ₽.") == 1
        by_bot = [m for m in desk.sb.business.view(owner_id, customer["id"])["messages"] if m["by_bot"]]
        assert [m["text"] for m in by_bot] == ["Да, картой курьеру. Доставка в Казань — 350 ₽."]
        assert by_bot[0]["message_id"] == chat[-1]["id"]  # one message, one id, seen both ways

        # 6. Past the 24-hour window the reply goes out through the userbot, once.
        desk.sb.business.age(owner_id, customer["id"], 25 * 3600)
        async with desk.db.unit_of_work() as session:
            await session.execute(update(Dialog).where(Dialog.id == dialog.id).values(
                last_customer_message_at=Dialog.last_customer_message_at - timedelta(hours=25)))
        command, card = await _send(desk, dialog, stored[-1], "Вы ещё ждёте платье? Можем отправить завтра.")
        assert t("reply.via.telegram_account", "ru") in card
        assert command.result["via"] == ChannelKind.TELEGRAM_ACCOUNT.value
        assert command.result["via_channel_id"] == userbot_id
        chat = mtproto.messages(owner_id, person.id)
        assert [m["text"] for m in chat].count("Вы ещё ждёте платье? Можем отправить завтра.") == 1
        # the bot saw it too (the owner's account wrote it), not as its own
        mirrored = [m for m in desk.sb.business.view(owner_id, customer["id"])["messages"]
                    if m["text"] == "Вы ещё ждёте платье? Можем отправить завтра."]
        assert len(mirrored) == 1 and not mirrored[0]["by_bot"]

        # Both replies were reported back by the other way (business_message, MTProto): still one row each.
        await desk.settle()

        async def settled():
            out = [m for m in await _messages(desk, dialog.id) if m.direction == Direction.OUT]
            return len(out) == 3 and out
        out = await wait_for(settled)
        assert out, "the replies were not both recorded"
        await desk.settle()
        out = [m for m in await _messages(desk, dialog.id) if m.direction == Direction.OUT]
        assert [m.text for m in out] == ["Есть, размеры 42 и 44", "Да, картой курьеру. Доставка в Казань — 350 ₽.",
                                         "Вы ещё ждёте платье? Можем отправить завтра."]
        assert await _count(desk, Dialog) == 1 and await _count(desk, DialogTopic) == 1
