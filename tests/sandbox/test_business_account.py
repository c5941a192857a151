"""The sandbox's Bot API and MTProto stand-ins share a Telegram account that is both a business account (the bot is
connected under Telegram Business) and an account signed in over MTProto (sandbox/telegram/business.py `link`): a
message exists once, with the account's message id, and reaches both the bot's updates and the account's sessions;
what the bot sends, edits and deletes on the account's behalf is the account's message too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from sandbox.mtproto import MTProtoSandbox
from sandbox.runner import serve
from sandbox.telegram import TelegramSandbox
from tests.waiting import wait_for


@dataclass
class Both:
    tg: TelegramSandbox
    mtproto: MTProtoSandbox
    bot: Bot
    account_id: int
    customer_id: int


@pytest.fixture
async def both() -> AsyncIterator[Both]:
    tg, mtproto = TelegramSandbox(), MTProtoSandbox()
    await mtproto.start()
    tg.business.link(mtproto)
    runner, base = await serve(tg.app)
    bot = Bot(tg.bot_token, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    account = mtproto.create_account("+79990003344", "Ольга", "Магазин")
    customer = mtproto.create_customer("Анна", None)
    tg.business.connect(account.user.id)  # the MTProto account is the business account: the same user
    yield Both(tg, mtproto, bot, account.user.id, customer.id)
    await bot.session.close()
    await runner.cleanup()
    await mtproto.stop()


def _updates(tg: TelegramSandbox, kind: str) -> list[dict]:
    return [u[kind] for u in tg._updates if kind in u]


async def test_one_message_one_id_both_ways(both: Both) -> None:
    tg, mtproto = both.tg, both.mtproto
    old = mtproto.account(both.account_id).add_message(both.customer_id, out=False, text="давно", logged=False)[0]

    # a customer writes over MTProto: the bot gets business_message with the account's id for it
    first = await mtproto.customer_writes(both.account_id, both.customer_id, "Здравствуйте")
    [update] = _updates(tg, "business_message")
    assert first.id == old.id + 1 and update["message_id"] == first.id and update["text"] == "Здравствуйте"
    assert update["from"]["id"] == both.customer_id and update["chat"]["id"] == both.customer_id

    # a customer writes through the Bot API stand-in's control API: one message in the account, next id
    second = tg.business.write(both.customer_id, both.account_id, both.customer_id, "Есть доставка?")
    assert second["message_id"] == first.id + 1
    ids = [m["id"] for m in mtproto.messages(both.account_id, both.customer_id)]
    assert ids == [old.id, first.id, second["message_id"]]
    assert len(_updates(tg, "business_message")) == 2  # not twice for the same message

    # the bot reads on the account's behalf: read on the account too
    connection = tg.business.connection_of(both.account_id).id
    assert await both.bot.read_business_message(business_connection_id=connection, chat_id=both.customer_id,
                                                message_id=second["message_id"])
    await wait_for(lambda: mtproto.account(both.account_id).chat(both.customer_id).read_inbox_max_id
                   == second["message_id"], "the read receipt in the account")

    # the bot answers on the account's behalf: the account's outgoing message, no update back to the bot
    sent = await both.bot.send_message(both.customer_id, "Да, 350 ₽", business_connection_id=connection)
    await wait_for(lambda: any(m["text"] == "Да, 350 ₽" for m in mtproto.messages(both.account_id, both.customer_id)),
                   "the reply in the account")
    last = mtproto.messages(both.account_id, both.customer_id)[-1]
    assert (last["id"], last["out"]) == (sent.message_id, True)
    assert len(_updates(tg, "business_message")) == 2

    # the bot edits and deletes it: so does the account
    await both.bot.edit_message_text("Да, 300 ₽", chat_id=both.customer_id, message_id=sent.message_id,
                                     business_connection_id=connection)
    await wait_for(lambda: mtproto.messages(both.account_id, both.customer_id)[-1]["text"] == "Да, 300 ₽", "the edit")
    assert await both.bot.delete_business_messages(business_connection_id=connection, message_ids=[sent.message_id])
    await wait_for(lambda: mtproto.messages(both.account_id, both.customer_id)[-1]["id"] != sent.message_id,
                   "the deletion")
    assert not _updates(tg, "edited_business_message") and not _updates(tg, "deleted_business_messages")

    # the owner writes from another session (the userbot, the phone): the bot sees it as the account's own
    typed = await mtproto.owner_writes(both.account_id, both.customer_id, "Заходите!")
    update = _updates(tg, "business_message")[-1]
    assert update["message_id"] == typed.id and update["from"]["id"] == both.account_id

    # the customer edits and deletes over MTProto: edited_business_message, deleted_business_messages
    await mtproto.customer_edits(both.account_id, first.id, "Здравствуйте!")
    assert _updates(tg, "edited_business_message")[-1]["text"] == "Здравствуйте!"
    await mtproto.delete(both.account_id, [first.id])
    assert _updates(tg, "deleted_business_messages")[-1]["message_ids"] == [first.id]
    # Telegram's service chat (login codes) is no business chat
    assert all(u["chat"]["id"] != 777000 for u in _updates(tg, "business_message"))
