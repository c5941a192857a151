"""A manager corrects or takes back a reply that already reached the customer, end to end: the real aiogram bot on
the Bot API stand-in, the outbox dispatcher, and the customer's channel — a VK community through vkbottle and the VK
stand-in (its realtime long poll running, so our own edits come back as VK reports them), or a Telegram account
through Telethon and the MTProto stand-in."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from bot.runtime import BotRuntime
from bot.setup import build_dispatcher
from core.models import ChannelAccount, Dialog, Message, MessageEdit, OutboxCommand, ProcessedUpdate
from core.ports import DeliveryError
from core.services import sent_replies
from core.services.workspace import base, replies
from core.settings import Settings
from sandbox.mtproto import MTProtoSandbox
from sandbox.vk import synth
from tests.userbots.conftest import GROUP, VKEnv, make_vk_channel, mtproto_settings, serve_vk
from tests.userbots.test_telegram_mtproto import PHONE, connect_with_code
from userbots.gateway import UserbotGateway, split_text
from userbots.telegram.client import TelegramAccount, TelegramAccounts, TelethonClientFactory
from userbots.vk.realtime import VKChannelRealtime

from .desk import Desk

CUSTOMER = 500_000_901
DAY = 86_400


async def eventually(check, timeout: float = 20.0, desk: Desk | None = None):
    """Poll `check` (async) until it holds, draining the desk meanwhile: the channels deliver asynchronously."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if desk is not None:
            await desk.settle()
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in {timeout}s: {check.__name__}")
        await asyncio.sleep(0.02)


async def dialog_topic(desk: Desk, channel_id: int) -> int:
    """The thread of the channel's (one) dialog, once the customer's first message is shown in it."""
    async def topic_posted():
        async with desk.db.unit_of_work() as session:
            dialog = (await session.execute(select(Dialog).where(Dialog.channel_id == channel_id))).scalar_one_or_none()
        topic = await desk.topic(dialog.id) if dialog else None
        return topic.thread_id if topic and topic.thread_id and desk.thread(topic.thread_id) else None
    return await eventually(topic_posted, desk=desk)


@dataclass
class VKDesk:
    desk: Desk
    vk: VKEnv
    channel_id: int
    settings: Settings

    @property
    def box(self):
        return self.vk.sandbox._communities[GROUP].mailbox

    def conversation(self, peer: int = CUSTOMER) -> list[dict]:
        """The customer's conversation as VK holds it (deleted messages are gone from it)."""
        return [m for m in self.box.convs[peer].messages] if peer in self.box.convs else []

    async def dialog_topic(self) -> int:
        return await dialog_topic(self.desk, self.channel_id)

    async def echo_handled(self, kind: str, message_id: int) -> None:
        """Wait until the realtime ingest has processed VK's event about our own change of `message_id`."""
        events = [e for _, e in self.vk.sandbox._communities[GROUP].lp.events
                  if e["type"] == kind and e["object"].get("id") == message_id]
        assert events, f"VK emitted no {kind} for message {message_id}"

        async def processed():
            async with self.desk.db.unit_of_work() as session:
                return (await session.execute(select(func.count()).select_from(ProcessedUpdate).where(
                    ProcessedUpdate.source == f"vk:{self.channel_id}",
                    ProcessedUpdate.update_key == str(events[-1]["event_id"])))).scalar_one()
        await eventually(processed, desk=self.desk)


@pytest.fixture
async def vk_desk(desk: Desk):
    """The desk's business also has a VK community, whose customers' dialogs are live (Bots Long Poll) and whose
    replies go out through the product's gateway."""
    vk = await serve_vk(time_scale=desk.ctx.settings.time_scale, limits=False)
    settings = desk.ctx.settings.model_copy(update={
        "vk": desk.ctx.settings.vk.model_copy(update={"vk_api_url": vk.api_url})})
    shop = await make_vk_channel(desk.db, desk.ctx.secrets, vk.token)
    assert shop.tenant_id == desk.tenant_id
    gateway = UserbotGateway(desk.db, desk.ctx.secrets, settings)
    desk.ctx.services["channel_gateway"] = gateway
    await desk.ctx.queue.startup()
    async with desk.db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, shop.channel_id)
    stop = asyncio.Event()
    realtime = asyncio.create_task(VKChannelRealtime(desk.db, desk.ctx.queue, settings, channel, vk.token).run(stop))

    async def listening():
        return vk.sandbox.stats["longpoll_requests"] > 0
    try:
        await eventually(listening)
        yield VKDesk(desk, vk, shop.channel_id, settings)
    finally:
        stop.set()
        await asyncio.wait_for(realtime, 10)
        await gateway.close()
        await desk.ctx.queue.shutdown()
        await vk.runner.cleanup()


async def our_message(desk: Desk, text_like: str) -> Message:
    async with desk.db.unit_of_work() as session:
        return (await session.execute(
            select(Message).where(Message.text.like(f"%{text_like}%")).order_by(Message.id.desc()).limit(1)
        )).scalar_one()


async def count(desk: Desk, model, *where) -> int:
    async with desk.db.unit_of_work() as session:
        return (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


def notices(desk: Desk, thread_id: int, reply_to: int | None = None) -> list[str]:
    return [m["text"] for m in desk.thread(thread_id) if m["from"]["id"] == desk.sb.bot_user_id
            and (reply_to is None or (m.get("reply_to_message_id") == reply_to))]


def test_the_bot_asks_telegram_for_edited_messages():
    """Long polling and the webhook both ask for the update types the handlers use: edits must be among them."""
    assert "edited_message" in build_dispatcher(BotRuntime(db=None, bot_id=1)).resolve_used_update_types()


async def test_a_vk_reply_is_corrected_and_taken_back_for_the_customer(vk_desk: VKDesk):
    desk, vk = vk_desk.desk, vk_desk.vk
    await vk.sandbox.user_writes(GROUP, CUSTOMER, "Здравствуйте! Есть куртка в размере M?")
    thread_id = await vk_desk.dialog_topic()

    reply = await desk.write(desk.manager, "Есть, 5 900 ₽. Отложить?", thread_id=thread_id)
    [sent] = [m for m in vk_desk.conversation() if m["out"]]
    assert sent["text"] == "Есть, 5 900 ₽. Отложить?"
    await vk_desk.echo_handled("message_reply", sent["id"])

    # The manager corrects the price in the topic, as anyone edits a Telegram message.
    await desk.sb.user_edits(desk.manager["id"], desk.group_chat_id, reply["message_id"],
                             "Есть, 5 400 ₽ со скидкой. Отложить?")
    await desk.settle()
    assert vk_desk.box.by_id[sent["id"]]["text"] == "Есть, 5 400 ₽ со скидкой. Отложить?"
    assert len([m for m in vk_desk.conversation() if m["out"]]) == 1  # corrected in place, nothing new sent
    row = await our_message(desk, "5 400")
    assert (row.text, row.edit_count, row.external_id) == ("Есть, 5 400 ₽ со скидкой. Отложить?", 1, str(sent["id"]))
    async with desk.db.unit_of_work() as session:
        [edit] = (await session.execute(select(MessageEdit).where(MessageEdit.message_id == row.id))).scalars()
    assert edit.old_text == "Есть, 5 900 ₽. Отложить?"
    # VK reports our own edit back through the long poll: it is no customer edit, so the topic gets no note on it.
    await vk_desk.echo_handled("message_edit", sent["id"])
    await desk.settle()
    assert await count(desk, OutboxCommand, OutboxCommand.kind == base.Kind.MIRROR_CHANGE) == 0
    assert (await our_message(desk, "5 400")).edit_count == 1

    # The same text again (only formatting changed in Telegram) asks VK for nothing.
    edits_before = await count(desk, OutboxCommand, OutboxCommand.kind == sent_replies.EDIT_CUSTOMER)
    await desk.sb.user_edits(desk.manager["id"], desk.group_chat_id, reply["message_id"],
                             "Есть, 5 400 ₽ со скидкой. Отложить?")
    await desk.settle()
    assert await count(desk, OutboxCommand, OutboxCommand.kind == sent_replies.EDIT_CUSTOMER) == edits_before

    # /delete as a reply takes it back: deleted for the customer too, our row marked, the topic told.
    await desk.write(desk.manager, "/delete", reply_to_message_id=reply["message_id"])
    assert vk_desk.box.get_message(sent["id"]) is None
    assert not [m for m in vk_desk.conversation() if m["out"]]
    assert (await our_message(desk, "5 400")).deleted_at is not None
    assert notices(desk, thread_id, reply_to=reply["message_id"]) == ["🗑 Удалено у клиента."]

    # A reply taken back cannot be corrected or taken back again.
    await desk.sb.user_edits(desk.manager["id"], desk.group_chat_id, reply["message_id"], "Есть, 5 000 ₽.")
    await desk.settle()
    await desk.write(desk.manager, "/delete", reply_to_message_id=reply["message_id"])
    texts = notices(desk, thread_id)
    assert "⛔️ Этот ответ уже удалён у клиента — напишите новый." in texts
    assert "⛔️ Это сообщение уже удалено у клиента." in texts
    assert await count(desk, OutboxCommand, OutboxCommand.kind == sent_replies.EDIT_CUSTOMER) == edits_before


async def test_after_vks_24_hours_the_manager_is_told_and_nothing_changes(vk_desk: VKDesk):
    desk, vk = vk_desk.desk, vk_desk.vk
    await vk.sandbox.user_writes(GROUP, CUSTOMER, "А доставка в Казань есть?")
    thread_id = await vk_desk.dialog_topic()
    reply = await desk.write(desk.manager, "Да, 3 дня, 400 ₽.", thread_id=thread_id)
    [sent] = [m for m in vk_desk.conversation() if m["out"]]
    vk_desk.box.by_id[sent["id"]]["date"] -= DAY + 60  # a day has passed since it was sent

    await desk.sb.user_edits(desk.manager["id"], desk.group_chat_id, reply["message_id"], "Да, 2 дня, 400 ₽.")
    await desk.settle()
    assert vk_desk.box.by_id[sent["id"]]["text"] == "Да, 3 дня, 400 ₽."
    [failed] = notices(desk, thread_id, reply_to=reply["message_id"])
    assert failed.startswith("❌ Правка не дошла до клиента, у него прежний текст: прошло слишком много времени")
    row = await our_message(desk, "3 дня")  # our copy says what the customer sees
    assert (row.text, row.edit_count, row.edited_at) == ("Да, 3 дня, 400 ₽.", 0, None)
    assert await count(desk, MessageEdit, MessageEdit.message_id == row.id) == 0
    [command] = await commands(desk, sent_replies.EDIT_CUSTOMER)
    assert command.state.value == "failed" and command.attempts == 1  # permanent: not retried
    # Changing it back to what the customer has asks VK for nothing.
    await desk.sb.user_edits(desk.manager["id"], desk.group_chat_id, reply["message_id"], "Да, 3 дня, 400 ₽.")
    await desk.settle()
    assert len(await commands(desk, sent_replies.EDIT_CUSTOMER)) == 1

    await desk.write(desk.manager, "/delete", reply_to_message_id=reply["message_id"])
    assert vk_desk.box.get_message(sent["id"]) is not None
    assert notices(desk, thread_id, reply_to=reply["message_id"])[-1].startswith(
        "❌ Не удалось удалить у клиента: прошло слишком много времени")
    assert (await our_message(desk, "3 дня")).deleted_at is None

    # the desk still works: the next reply goes out
    await desk.write(desk.manager, "Могу оформить заказ заново.", thread_id=thread_id)
    assert [m["text"] for m in vk_desk.conversation() if m["out"]][-1] == "Могу оформить заказ заново."


async def commands(desk: Desk, kind: str) -> list[OutboxCommand]:
    async with desk.db.unit_of_work() as session:
        return list((await session.execute(
            select(OutboxCommand).where(OutboxCommand.kind == kind).order_by(OutboxCommand.id))).scalars())


async def test_a_reply_edited_or_taken_back_before_it_left_never_reaches_the_customer_as_written(vk_desk: VKDesk):
    desk, vk = vk_desk.desk, vk_desk.vk
    await vk.sandbox.user_writes(GROUP, CUSTOMER, "Сколько стоит шапка?")
    thread_id = await vk_desk.dialog_topic()

    # Typed, corrected and only then sent: the customer gets the corrected text, once, and no edit is needed.
    typo = await desk.sb.user_sends(desk.manager["id"], desk.group_chat_id, "Шапка стоит 1 200 руб",
                                    thread_id=thread_id)
    await desk.pump()
    await desk.sb.user_edits(desk.manager["id"], desk.group_chat_id, typo["message_id"], "Шапка стоит 1 200 ₽.")
    await desk.settle()
    assert [m["text"] for m in vk_desk.conversation() if m["out"]] == ["Шапка стоит 1 200 ₽."]
    assert await commands(desk, sent_replies.EDIT_CUSTOMER) == []

    # Typed and taken back at once: it never leaves.
    oops = await desk.sb.user_sends(desk.manager["id"], desk.group_chat_id, "Ой, не тому клиенту", thread_id=thread_id)
    await desk.pump()
    await desk.sb.user_sends(desk.manager["id"], desk.group_chat_id, "/delete", reply_to_message_id=oops["message_id"])
    await desk.settle()
    assert [m["text"] for m in vk_desk.conversation() if m["out"]] == ["Шапка стоит 1 200 ₽."]
    assert notices(desk, thread_id, reply_to=oops["message_id"]) == [
        "🗑 Отменено: сообщение не успело уйти клиенту."]


async def test_delete_is_refused_clearly_where_there_is_nothing_of_yours_to_take_back(vk_desk: VKDesk):
    desk, vk = vk_desk.desk, vk_desk.vk
    await vk.sandbox.user_writes(GROUP, CUSTOMER, "Добрый день")
    thread_id = await vk_desk.dialog_topic()
    mirror = next(m for m in desk.thread(thread_id) if "Добрый день" in (m.get("text") or ""))
    owners_reply = await desk.write(desk.owner, "Здравствуйте! Чем помочь?", thread_id=thread_id)

    await desk.write(desk.manager, "/delete", thread_id=thread_id)
    await desk.write(desk.manager, "/delete", reply_to_message_id=mirror["message_id"])
    await desk.write(desk.manager, "/delete", reply_to_message_id=owners_reply["message_id"])
    await desk.write(desk.viewer, "/delete", reply_to_message_id=owners_reply["message_id"])
    assert notices(desk, thread_id)[-4:] == [
        "⛔️ Ответьте командой /delete на своё сообщение, которое ушло клиенту.",
        "⛔️ Это сообщение не уходило клиенту — удалять у него нечего.",
        "⛔️ Забрать ответ у клиента может только его автор.",
        "⛔️ Вашей роли это недоступно.",
    ]
    assert [m["text"] for m in vk_desk.conversation() if m["out"]] == ["Здравствуйте! Чем помочь?"]
    assert await commands(desk, sent_replies.DELETE_CUSTOMER) == []


async def test_a_reply_sent_in_parts_is_corrected_part_by_part_and_keeps_its_photo(vk_desk: VKDesk):
    """A reply longer than VK takes in one message went out in parts: an edit changes only the parts that change,
    gives the first part its photo again, and says how the new text maps onto the parts there are."""
    photo = synth.png(40, 30, 7)

    async def fetch_media(item: dict) -> bytes:  # what the media store or the manager bot hands the gateway
        return photo

    gateway = UserbotGateway(vk_desk.desk.db, vk_desk.desk.ctx.secrets, vk_desk.settings, fetch_media=fetch_media)
    first_half, second_half = "Про доставку. " * 250, "Про оплату. " * 250  # ~3,500 and ~3,000 characters
    text = f"{first_half}\n\n{second_half}"
    try:
        delivery = await gateway.send(vk_desk.channel_id, str(CUSTOMER),
                                      {"text": text, "media": [{"kind": "photo", "telegram_file_id": "AgAD1"}]},
                                      idempotency_key="tg:-100:41:reply")
        first, second = (int(i) for i in delivery.extra["text_message_ids"])
        assert split_text(text, 4096) == [vk_desk.box.by_id[first]["text"], vk_desk.box.by_id[second]["text"]]
        delivered = {"external_id": delivery.external_id, **delivery.extra}

        changed = text + "Картой тоже можно."  # the end changes, the first part stays as it was
        edit = await gateway.edit(vk_desk.channel_id, str(CUSTOMER), delivered["text_message_ids"], changed,
                                  previous_text=text, delivered=delivered)
        assert edit.extra["edited_ids"] == [str(second)]  # the first part is as it was: VK is not asked about it
        assert (edit.extra["parts"], edit.extra["message_parts"]) == (2, 2)
        assert "update_time" not in vk_desk.box.by_id[first]
        assert vk_desk.box.by_id[second]["text"].endswith("Картой тоже можно.")

        short = "Вся информация — в одном сообщении: доставка и оплата картой."
        edit = await gateway.edit(vk_desk.channel_id, str(CUSTOMER), delivered["text_message_ids"], short,
                                  previous_text=changed, delivered=delivered)
        assert edit.extra["edited_ids"] == [str(first)] and (edit.extra["parts"], edit.extra["message_parts"]) == (1, 2)
        assert vk_desk.box.by_id[first]["text"] == short
        assert [a["type"] for a in vk_desk.box.by_id[first]["attachments"]] == ["photo"]  # the photo stays
    finally:
        await gateway.close()


async def test_the_manager_is_told_when_a_new_text_needs_another_number_of_messages(vk_desk: VKDesk):
    """The same through the outbox: a reply that went out in two messages, corrected to a text that needs one."""
    desk, vk = vk_desk.desk, vk_desk.vk
    await vk.sandbox.user_writes(GROUP, CUSTOMER, "Расскажите подробно про доставку")
    thread_id = await vk_desk.dialog_topic()
    # A reply longer than Telegram lets a person type, queued the way a typed reply is (its topic message is made up:
    # the notice about it goes out without the reply link).
    topic_message_id = 10_001
    async with desk.db.unit_of_work() as session:
        group = await base.group_by_chat(session, desk.group_chat_id)
        actor = await base.load_actor(session, desk.tenant_id, desk.manager["id"])
        await replies.manager_reply(session, actor, group, thread_id=thread_id, telegram_message_id=topic_message_id,
                               text="Доставка курьером. " * 400)
    await desk.settle()
    assert len([m for m in vk_desk.conversation() if m["out"]]) == 2
    async with desk.db.unit_of_work() as session:
        await sent_replies.correct_reply(session, actor, group, telegram_message_id=topic_message_id,
                                         text="Доставка курьером, 1–2 дня.")
    await desk.settle()
    assert [m["text"] for m in vk_desk.conversation() if m["out"]][0] == "Доставка курьером, 1–2 дня."
    assert notices(desk, thread_id)[-1] == (
        "⚠️ Новый текст короче: он занял 1 сообщение из 2 отправленных, остальные клиент видит прежними.")


# ----------------------------------------------------------------------------------------- a Telegram account


@contextlib.asynccontextmanager
async def telegram_account_desk(desk: Desk):
    """The desk's business connects its owner's Telegram account (phone and code, as /connect_telegram does); the
    account runs live and replies go out through it."""
    mtproto = MTProtoSandbox()
    await mtproto.start()
    settings = mtproto_settings(desk.ctx.settings, mtproto)
    owner = mtproto.create_account(PHONE, "Ольга", "Магазин")
    customer = mtproto.create_customer("Анна", "Петрова", username="anna_p")
    channel_id = await connect_with_code(desk.db, desk.ctx.secrets, settings, mtproto, desk.tenant_id)
    async with desk.db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, channel_id)
    account = TelegramAccount(desk.db, desk.ctx.queue, channel, TelethonClientFactory(settings, desk.db,
                                                                                      desk.ctx.secrets))
    accounts = TelegramAccounts(desk.db)
    accounts.add(account)
    desk.ctx.services["channel_gateway"] = UserbotGateway(desk.db, desk.ctx.secrets, settings, telegram=accounts)
    await desk.ctx.queue.startup()
    stop = asyncio.Event()
    running = asyncio.create_task(account.run(stop))
    try:
        await asyncio.wait_for(account.connected.wait(), 10)
        yield mtproto, owner.user.id, customer.id, channel_id
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
        await desk.ctx.queue.shutdown()
        await mtproto.stop()


async def test_a_reply_through_a_telegram_account_is_corrected_and_taken_back(desk: Desk):
    async with telegram_account_desk(desk) as (mtproto, owner, customer, channel_id):
        await mtproto.customer_writes(owner, customer, "Здравствуйте! Платье ещё есть?")
        thread_id = await dialog_topic(desk, channel_id)

        def ours():
            return [m for m in mtproto.messages(owner, customer) if m["out"]]

        reply = await desk.write(desk.manager, "Есть, размеры S и M.", thread_id=thread_id)
        [sent] = ours()
        assert (sent["text"], sent["edited"]) == ("Есть, размеры S и M.", False)

        await desk.sb.user_edits(desk.manager["id"], desk.group_chat_id, reply["message_id"],
                                 "Есть, размеры S, M и L.")
        await desk.settle()
        [edited] = ours()
        assert (edited["id"], edited["text"], edited["edited"]) == (sent["id"], "Есть, размеры S, M и L.", True)
        row = await our_message(desk, "S, M и L")
        assert (row.external_id, row.edit_count) == (str(sent["id"]), 1)
        # A retried edit finds the text in place: Telegram's MESSAGE_NOT_MODIFIED is success, not a failure.
        gateway = desk.ctx.services["channel_gateway"]
        again = await gateway.edit(channel_id, str(customer), [str(sent["id"])], "Есть, размеры S, M и L.")
        assert again.extra["edited_ids"] == [str(sent["id"])]

        await desk.write(desk.manager, "/delete", reply_to_message_id=reply["message_id"])
        assert ours() == []
        [gone] = [m for m in mtproto.messages(owner, customer, include_deleted=True) if m["id"] == sent["id"]]
        assert gone["deleted"]
        assert (await our_message(desk, "S, M и L")).deleted_at is not None
        assert notices(desk, thread_id, reply_to=reply["message_id"]) == ["🗑 Удалено у клиента."]
        with pytest.raises(DeliveryError) as caught:  # what an edit that was queued before the deletion meets
            await gateway.edit(channel_id, str(customer), [str(sent["id"])], "Есть, размер S.")
        assert caught.value.permanent and caught.value.code == "gone"
