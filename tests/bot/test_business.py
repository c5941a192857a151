"""Telegram Business end to end through the sandbox Bot API and the real aiogram bot: the shop's account connects the
bot → a channel appears for the right tenant → a customer writes to the account → topic, pinned card and reply card →
Send → the customer gets the reply in their chat with the account (and their message is marked read); the owner
typing in the Telegram app cancels a waiting AI reply; a chat older than 24 hours gets a clear refusal; a
disconnected account shows in /status and sends nothing; an owner of two businesses is asked which."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from taskiq import InMemoryBroker

from bot.runtime import BotRuntime
from bot.setup import build_dispatcher
from core import inbox
from core.i18n import t
from core.models import (
    AuthorKind,
    ChannelAccount,
    ChannelKind,
    ChannelStatus,
    CommandOrigin,
    CommandState,
    Dialog,
    Direction,
    Message,
    MessageEdit,
    OutboxCommand,
    StaffMember,
    Suggestion,
    SuggestionState,
)
from core.services.workspace import replies
from core.services.tenants import create_tenant, role_by_code
from core.tasks import TaskiqQueue
from userbots.gateway import UserbotGateway

from .desk import Desk


@pytest.fixture
async def biz(desk: Desk):
    """The desk with the product's own channel gateway (Telegram Business goes through userbots/gateway.py) and a
    real task queue recording the AI drafts the business handler asks for."""
    drafts: list[int] = []

    async def suggest_reply(message_id: int) -> None:
        drafts.append(message_id)

    queue = TaskiqQueue(InMemoryBroker(await_inplace=True))
    queue.register(inbox.SUGGEST_REPLY, suggest_reply)
    gateway = UserbotGateway(desk.db, desk.ctx.secrets, desk.ctx.settings)
    desk.ctx.services["channel_gateway"] = gateway
    runtime = BotRuntime(db=desk.db, bot_id=desk.sb.bot_user_id, bot_username=desk.sb.bot_user["username"],
                         wake_dispatcher=desk.outbox.wake)
    desk.dp = build_dispatcher(runtime, {"task_queue": queue})
    desk.drafts = drafts
    yield desk
    await gateway.close()


async def _channel(desk: Desk) -> ChannelAccount | None:
    async with desk.db.unit_of_work() as session:
        return (await session.execute(
            select(ChannelAccount).where(ChannelAccount.kind == ChannelKind.TELEGRAM_BUSINESS)
        )).scalar_one_or_none()


def _private(desk: Desk, user: dict) -> list[dict]:
    return [m for m in desk.sb.chat(user["id"])["messages"] if m["by_bot"]]


async def _connected(desk: Desk, **rights) -> ChannelAccount:
    desk.sb.business.connect(desk.owner["id"], rights=rights or None)
    await desk.settle()
    channel = await _channel(desk)
    assert channel is not None
    return channel


async def _customer_writes(desk: Desk, customer: dict, text: str) -> tuple[Dialog, Message]:
    sent = desk.sb.business.write(customer["id"], desk.owner["id"], customer["id"], text)
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        message = (await session.execute(
            select(Message).join(Dialog, Dialog.id == Message.dialog_id)
            .where(Dialog.external_chat_id == str(customer["id"]), Message.external_id == str(sent["message_id"]))
        )).scalar_one()
        return await session.get(Dialog, message.dialog_id), message


async def _draft(desk: Desk, dialog: Dialog, message: Message, text: str) -> int:
    received = inbox.Received(dialog.tenant_id, dialog.id, message.id, created=True)
    suggestion_id = await desk.suggest(received, text)
    await desk.settle()
    return suggestion_id


def _business_chat(desk: Desk, customer: dict) -> dict:
    return desk.sb.business.view(desk.owner["id"], customer["id"])


async def test_connect_write_and_answer_from_the_shops_account(biz: Desk):
    desk = biz
    channel = await _connected(desk)
    [connection] = desk.sb.business.connections.values()
    assert channel.tenant_id == desk.tenant_id and channel.status == ChannelStatus.ACTIVE
    assert channel.external_id == str(desk.owner["id"]) and channel.settings["connection_id"] == connection.id
    assert channel.settings["rights"]["can_reply"] is True
    assert channel.status_detail == t("business.channel.detail_no_history")  # `channel list` says: no history
    [told] = _private(desk, desk.owner)
    assert "Telegram Business" in told["text"] and "Магазин" in told["text"]

    customer = desk.customer()
    dialog, message = await _customer_writes(desk, customer, "Сколько стоит доставка в Казань?")
    assert dialog.channel_id == channel.id and message.direction == Direction.IN
    assert message.author_kind == AuthorKind.CUSTOMER
    assert desk.drafts == [message.id]  # the AI is asked for a draft, after the commit
    topic = await desk.topic(dialog.id)
    assert topic is not None and topic.thread_id and topic.pinned_message_id
    posts = desk.thread(topic.thread_id)
    assert any("Сколько стоит доставка в Казань?" in (m["text"] or "") for m in posts)
    assert any("Telegram Business" in (m["text"] or "") for m in posts)  # the pinned card names the channel

    # The same update delivered again changes nothing (the inbox's key: the account's chat and the message id).
    again = desk.sb.business.chat(desk.owner["id"], customer["id"]).messages[int(message.external_id)].msg
    desk.sb.enqueue("business_message", dict(again))
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        assert (await session.get(Dialog, dialog.id)).message_count == 1

    suggestion_id = await _draft(desk, dialog, message, "Доставка в Казань — 350 ₽, два дня.")
    card = desk.card_of(topic.thread_id, suggestion_id)
    await desk.press(desk.manager, card["message_id"], f"s:send:{suggestion_id}")

    chat = _business_chat(desk, customer)
    [reply] = [m for m in chat["messages"] if m["by_bot"]]
    assert reply["text"] == "Доставка в Казань — 350 ₽, два дня."
    assert reply["from"]["id"] == desk.owner["id"]  # the customer sees the shop's account writing
    assert reply["message"]["sender_business_bot"]["id"] == desk.sb.bot_user_id
    assert chat["read_up_to"] == int(message.external_id)  # a manager has seen it: read receipt
    async with desk.db.unit_of_work() as session:
        out = (await session.execute(select(Message).where(Message.dialog_id == dialog.id,
                                                           Message.direction == Direction.OUT))).scalar_one()
        assert out.external_id == str(reply["message_id"])
        assert (await session.get(Suggestion, suggestion_id)).state == SuggestionState.SENT
    # The customer's own chat with the bot got nothing: the reply went through the business account only.
    assert desk.customer_chat(customer) == []

    # The customer edits and deletes: kept, shown in the topic.
    desk.sb.business.edit(customer["id"], desk.owner["id"], customer["id"], int(message.external_id),
                          "Сколько стоит доставка в Самару?")
    await desk.settle()
    desk.sb.business.delete(desk.owner["id"], customer["id"], [int(message.external_id)])
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        kept = await session.get(Message, message.id)
        assert kept.text == "Сколько стоит доставка в Самару?" and kept.deleted_at is not None
        [edit] = (await session.execute(select(MessageEdit).where(MessageEdit.message_id == message.id))).scalars()
        assert edit.old_text == "Сколько стоит доставка в Казань?"


async def test_the_owner_typing_in_the_app_cancels_a_waiting_ai_reply(biz: Desk):
    desk = biz
    await _connected(desk)
    customer = desk.customer("Пётр", None)
    dialog, message = await _customer_writes(desk, customer, "Есть размер 42?")
    card_id = await _draft(desk, dialog, message, "Да, есть.")
    async with desk.db.unit_of_work() as session:
        # an automatic reply waiting out its human-like delay
        waiting = await replies.send_to_customer(session, await session.get(Dialog, dialog.id), text="Сейчас проверю!",
                                            key="test:auto", origin=CommandOrigin.AI)
        waiting.not_before = datetime.now(UTC) + timedelta(hours=1)
        waiting_id = waiting.id

    typed = desk.sb.business.write(desk.owner["id"], desk.owner["id"], customer["id"], "Есть, приезжайте!")
    await desk.settle()

    async with desk.db.unit_of_work() as session:
        assert (await session.get(OutboxCommand, waiting_id)).state == CommandState.CANCELLED
        assert (await session.get(Suggestion, card_id)).state == SuggestionState.OUTDATED
        own = (await session.execute(select(Message).where(Message.dialog_id == dialog.id,
                                                           Message.external_id == str(typed["message_id"]))
                                     )).scalar_one()
        assert own.direction == Direction.OUT and own.author_kind == AuthorKind.MANAGER
    topic = await desk.topic(dialog.id)
    assert any("Есть, приезжайте!" in (m["text"] or "") for m in desk.thread(topic.thread_id))  # mirrored
    assert not [m for m in _business_chat(desk, customer)["messages"] if m["by_bot"]]  # nothing was sent
    assert desk.drafts == [message.id]  # the shop's own message asks the AI for nothing


async def test_a_chat_older_than_24_hours_is_refused_clearly(biz: Desk):
    desk = biz
    await _connected(desk)
    customer = desk.customer("Ольга", "Старая")
    dialog, message = await _customer_writes(desk, customer, "Добрый день, а скидки будут?")
    desk.sb.business.age(desk.owner["id"], customer["id"], 25 * 3600)
    suggestion_id = await _draft(desk, dialog, message, "Да, в пятницу.")
    topic = await desk.topic(dialog.id)
    card = desk.card_of(topic.thread_id, suggestion_id)
    await desk.press(desk.manager, card["message_id"], f"s:send:{suggestion_id}")

    assert not [m for m in _business_chat(desk, customer)["messages"] if m["by_bot"]]
    async with desk.db.unit_of_work() as session:
        command = (await session.execute(select(OutboxCommand).where(OutboxCommand.suggestion_id == suggestion_id))
                   ).scalar_one()
    assert command.state == CommandState.FAILED and command.result["error_code"] == "business_window"
    assert "BUSINESS_PEER_USAGE_MISSING" in command.last_error
    refreshed = next(m for m in desk.thread(topic.thread_id) if m["message_id"] == card["message_id"])
    assert t("reason.business_window", "ru") in refreshed["text"]  # the card says why

    # With the same account connected as a userbot too, the reply goes out through it instead:
    # tests/bot/test_business_userbot.py.


async def test_a_disconnected_account_shows_in_status_and_sends_nothing(biz: Desk):
    desk = biz
    await _connected(desk)
    customer = desk.customer("Ирина", None)
    dialog, message = await _customer_writes(desk, customer, "Здравствуйте!")
    suggestion_id = await _draft(desk, dialog, message, "Здравствуйте! Чем помочь?")

    desk.sb.business.disconnect(desk.owner["id"])
    await desk.settle()
    channel = await _channel(desk)
    assert channel.status == ChannelStatus.DISABLED
    assert channel.status_detail == t("business.channel.detail_disabled")
    assert t("business.disconnected", "ru", account="Ольга Владелец") == _private(desk, desk.owner)[-1]["text"]

    await desk.sb.user_sends(desk.owner["id"], desk.owner["id"], "/status")
    await desk.settle()
    status = _private(desk, desk.owner)[-1]["text"]
    line = next(x for x in status.splitlines() if "Telegram Business" in x)
    assert t("status.channel.state.disabled", "ru") in line

    topic = await desk.topic(dialog.id)
    card = desk.card_of(topic.thread_id, suggestion_id)
    await desk.press(desk.manager, card["message_id"], f"s:send:{suggestion_id}")
    assert not [m for m in _business_chat(desk, customer)["messages"] if m["by_bot"]]
    async with desk.db.unit_of_work() as session:
        command = (await session.execute(select(OutboxCommand).where(OutboxCommand.suggestion_id == suggestion_id))
                   ).scalar_one()
    assert command.state == CommandState.FAILED and command.result["error_code"] == "business_disconnected"

    # Connecting again enables the same channel.
    desk.sb.business.connect(desk.owner["id"])
    await desk.settle()
    again = await _channel(desk)
    assert again.id == channel.id and again.status == ChannelStatus.ACTIVE


async def test_an_owner_of_two_businesses_is_asked_which(biz: Desk):
    desk = biz
    async with desk.db.unit_of_work() as session:
        other = await create_tenant(session, slug="second", name="Второй магазин")
        await session.flush()
        session.add(StaffMember(tenant_id=other.id, role_id=(await role_by_code(session, other.id, "admin")).id,
                                telegram_user_id=desk.owner["id"], name="Ольга"))
        other_id = other.id
    desk.sb.business.connect(desk.owner["id"])
    await desk.settle()
    assert await _channel(desk) is None
    question = _private(desk, desk.owner)[-1]
    buttons = {b["text"]: b["callback_data"] for row in question["reply_markup"]["inline_keyboard"] for b in row}
    assert set(buttons) == {"Магазин", "Второй магазин"}

    await desk.sb.press_button(desk.owner["id"], desk.owner["id"], question["message_id"], buttons["Второй магазин"])
    await desk.settle()
    channel = await _channel(desk)
    assert channel is not None and channel.tenant_id == other_id
    assert "Второй магазин" in _private(desk, desk.owner)[-1]["text"]


async def test_a_stranger_connecting_the_bot_connects_nothing(biz: Desk):
    desk = biz
    stranger = desk.customer("Незнакомец", None)
    desk.sb.business.connect(stranger["id"])
    await desk.settle()
    assert await _channel(desk) is None
    assert _private(desk, stranger)[-1]["text"] == t("business.not_staff", "ru", account="Незнакомец")
    # Customers writing to that account reach nobody's inbox.
    desk.sb.business.write(desk.outsider["id"], stranger["id"], desk.outsider["id"], "Привет")
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        assert (await session.execute(select(Message))).first() is None


async def test_the_sandbox_refuses_as_telegram_does(biz: Desk):
    """The 24-hour rule, can_reply and an unknown connection, straight through aiogram."""
    from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError

    desk = biz
    bot = desk.bot
    update = desk.sb.business.connect(desk.owner["id"], rights={"can_reply": False})
    customer = desk.customer("Клиент", None)
    with pytest.raises(TelegramBadRequest, match="BUSINESS_CONNECTION_INVALID"):
        await bot.send_message(customer["id"], "x", business_connection_id="nope")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(customer["id"], "x", business_connection_id=update["id"])
    desk.sb.business.connect(desk.owner["id"])
    with pytest.raises(TelegramBadRequest, match="BUSINESS_PEER_USAGE_MISSING"):
        await bot.send_message(customer["id"], "x", business_connection_id=update["id"])
    desk.sb.business.write(customer["id"], desk.owner["id"], customer["id"], "Алло")
    sent = await bot.send_message(customer["id"], "Да", business_connection_id=update["id"])
    assert sent.business_connection_id == update["id"] and sent.sender_business_bot.id == desk.sb.bot_user_id
    fetched = await bot.get_business_connection(update["id"])
    assert fetched.user.id == desk.owner["id"] and fetched.is_enabled and fetched.rights.can_reply
    assert await bot.delete_business_messages(business_connection_id=update["id"], message_ids=[sent.message_id])
    assert [m for m in _business_chat(desk, customer)["messages"] if m["by_bot"]][0]["deleted"]
