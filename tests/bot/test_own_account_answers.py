"""A manager answers from the shop's own account — VK's interface, the Telegram app of a connected account — while an
AI reply waits out its human-like delay: exactly like an answer in the topic, the AI reply is cancelled and never
reaches the customer, and its card says it was cancelled and what the customer got instead. End to end: the real
AI pipeline (no-key responder), the manager bot on the Bot API stand-in, the outbox dispatcher, and the channel's
real client (vkbottle's long poll against the VK stand-in, Telethon against the MTProto stand-in)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from core.models import (
    CommandState,
    Dialog,
    Direction,
    Event,
    Message,
    OutboxCommand,
    ProcessedUpdate,
    Suggestion,
    SuggestionState,
)
from core.services.workspace import base
from tests.userbots.conftest import GROUP, mtproto_settings
from tests.userbots.test_typing_indicator import allow_autoreplies, auto_pipeline, auto_reply

from .desk import Desk
from .test_sent_replies import CUSTOMER, VKDesk, dialog_topic, eventually, telegram_account_desk, vk_desk  # noqa: F401


async def _customer_message(desk: Desk, channel_id: int) -> int:
    async with desk.db.unit_of_work() as session:
        return (await session.execute(
            select(Message.id).join(Dialog, Dialog.id == Message.dialog_id)
            .where(Dialog.channel_id == channel_id).order_by(Message.id.desc()).limit(1)
        )).scalar_one()


async def _waiting_ai_reply(desk: Desk, channel_id: int, settings) -> OutboxCommand:
    """The AI drafts a reply to the customer's message and queues it to leave after its delay (25-60 s); its card
    is posted in the topic."""
    await allow_autoreplies(desk.db, settings, desk.tenant_id, typing=False)
    command = await auto_reply(desk.db, auto_pipeline(desk.db, settings), await _customer_message(desk, channel_id))
    assert command.state == CommandState.QUEUED and command.not_before > datetime.now(UTC)
    await desk.tasks["post_suggestion_card"](suggestion_id=command.suggestion_id)
    await desk.settle()
    return command


async def _state(desk: Desk, command_id: int) -> tuple[CommandState, SuggestionState]:
    async with desk.db.unit_of_work() as session:
        command = await session.get(OutboxCommand, command_id)
        return command.state, (await session.get(Suggestion, command.suggestion_id)).state


async def _delay_runs_out(desk: Desk, command_id: int) -> None:
    """Whatever is left of the human-like delay ends now: a reply still queued would leave at once."""
    async with desk.db.unit_of_work() as session:
        await session.execute(update(OutboxCommand).where(OutboxCommand.id == command_id)
                              .values(not_before=datetime.now(UTC)))
    await desk.settle()


def _card(desk: Desk, thread_id: int, text: str) -> dict:
    return next(m for m in desk.thread(thread_id) if text in (m.get("text") or ""))


async def test_an_answer_from_vks_interface_cancels_the_waiting_ai_reply(vk_desk: VKDesk):
    desk, vk = vk_desk.desk, vk_desk.vk
    await vk.sandbox.user_writes(GROUP, CUSTOMER, "Добрый день!")
    thread_id = await vk_desk.dialog_topic()
    reply = await _waiting_ai_reply(desk, vk_desk.channel_id, vk_desk.settings)
    assert desk.card_of(thread_id, reply.suggestion_id)["reply_markup"] is not None

    # A manager answers the customer in the community's messages on vk.com (VK sends message_reply).
    await vk.sandbox.community_replies_in_vk(GROUP, CUSTOMER, "Здравствуйте! Подскажу всё по размерам.")

    async def cancelled():
        return await _state(desk, reply.id) == (CommandState.CANCELLED, SuggestionState.OUTDATED)
    await eventually(cancelled, desk=desk)
    await _delay_runs_out(desk, reply.id)
    assert [m["text"] for m in vk_desk.conversation() if m["out"]] == ["Здравствуйте! Подскажу всё по размерам."]
    # The card lost its buttons and says why, with what the customer got.
    card = _card(desk, thread_id, "Автоответ отменён")
    assert card["reply_markup"] is None
    assert "Автоответ отменён: клиенту уже ответили · аккаунт магазина, VK (сообщество)" in card["text"]
    assert "Здравствуйте! Подскажу всё по размерам." in card["text"]
    # The answer is in the topic too (mirrored as the shop's message), and the dialog is no longer unread.
    assert any("Подскажу всё по размерам" in (m.get("text") or "") for m in desk.thread(thread_id)
               if m["message_id"] != card["message_id"])
    async with desk.db.unit_of_work() as session:
        dialog = (await session.execute(select(Dialog).where(Dialog.channel_id == vk_desk.channel_id))).scalar_one()
    assert dialog.unread_count == 0


class EchoFirst:
    """The channel gateway, except that a send returns only once VK's report of that message (message_reply) has
    been ingested: the echo beats the dispatcher's record of the send, as a long poll can."""

    def __init__(self, vk_desk: VKDesk, inner):
        self.vk_desk, self.inner = vk_desk, inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def send(self, *args, **kwargs):
        delivery = await self.inner.send(*args, **kwargs)
        lp = self.vk_desk.vk.sandbox._communities[GROUP].lp
        ids = {int(i) for i in delivery.extra.get("message_ids") or [delivery.external_id]}

        async def echoed():
            keys = [str(e["event_id"]) for _, e in lp.events
                    if e["type"] == "message_reply" and e["object"].get("id") in ids]
            async with self.vk_desk.desk.db.unit_of_work() as session:
                seen = (await session.execute(select(ProcessedUpdate.update_key).where(
                    ProcessedUpdate.source == f"vk:{self.vk_desk.channel_id}",
                    ProcessedUpdate.update_key.in_(keys)))).scalars().all()
            return keys and len(seen) == len(keys)
        await eventually(echoed)
        return delivery


async def test_our_own_replies_coming_back_from_vk_cancel_nothing(vk_desk: VKDesk):
    """VK reports every message the community sends, ours too — here before the dispatcher has recorded the send:
    neither the AI's reply nor a manager's topic reply is taken for an answer from VK's interface."""
    desk, vk = vk_desk.desk, vk_desk.vk
    desk.ctx.services["channel_gateway"] = EchoFirst(vk_desk, desk.ctx.services["channel_gateway"])
    await vk.sandbox.user_writes(GROUP, CUSTOMER, "Добрый день!")
    thread_id = await vk_desk.dialog_topic()
    reply = await _waiting_ai_reply(desk, vk_desk.channel_id, vk_desk.settings)

    await _delay_runs_out(desk, reply.id)  # the AI's reply leaves; its echo is ingested while it is in flight
    assert await _state(desk, reply.id) == (CommandState.DONE, SuggestionState.SENT)
    assert [m["text"] for m in vk_desk.conversation() if m["out"]] == [reply.payload["text"]]
    card = desk.thread(thread_id)
    assert any("Отправлено автоматически" in (m.get("text") or "") for m in card)

    await desk.write(desk.manager, "Если будут вопросы — пишите!", thread_id=thread_id)
    assert [m["text"] for m in vk_desk.conversation() if m["out"]][-1] == "Если будут вопросы — пишите!"
    async with desk.db.unit_of_work() as session:
        answers = (await session.execute(
            select(Event).where(Event.kind == "shop_answered_from_own_account"))).scalars().all()
        echoes = (await session.execute(select(Message).where(Message.direction == Direction.OUT)
                                        .order_by(Message.id))).scalars().all()
    assert answers == []  # both echoes were ours
    assert [(m.author_staff_id is not None, base.SENT_BY_COMMAND in m.extra) for m in echoes] == [(False, True),
                                                                                               (True, True)]


async def test_an_answer_from_the_telegram_app_cancels_the_waiting_ai_reply(desk: Desk):
    async with telegram_account_desk(desk) as (mtproto, owner, customer, channel_id):
        await mtproto.customer_writes(owner, customer, "Добрый день!")
        thread_id = await dialog_topic(desk, channel_id)
        reply = await _waiting_ai_reply(desk, channel_id, mtproto_settings(desk.ctx.settings, mtproto))

        # The owner answers from the Telegram app on their phone: Telethon sees an outgoing message.
        await mtproto.owner_writes(owner, customer, "Здравствуйте! Сейчас всё расскажу.")

        async def cancelled():
            return await _state(desk, reply.id) == (CommandState.CANCELLED, SuggestionState.OUTDATED)
        await eventually(cancelled, desk=desk)
        await _delay_runs_out(desk, reply.id)
        assert [m["text"] for m in mtproto.messages(owner, customer) if m["out"]] == [
            "Здравствуйте! Сейчас всё расскажу."]
        card = _card(desk, thread_id, "Автоответ отменён")
        assert card["reply_markup"] is None
        assert "клиенту уже ответили · аккаунт магазина, Telegram" in card["text"]
        assert "Сейчас всё расскажу." in card["text"]


async def test_in_learning_mode_the_silent_draft_is_compared_with_the_shops_own_answer(desk: Desk):
    """As with a reply in the topic: the AI's silent draft and the answer from the shop's account become a training
    pair, and the desk's other pending draft is outdated by that answer."""
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Есть доставка в Казань?")
    async with desk.db.unit_of_work() as session:
        silent = Suggestion(tenant_id=received.tenant_id, dialog_id=received.dialog_id, message_id=received.message_id,
                            text="Да, доставляем в Казань за 3 дня.", inputs={"dialog_mode": "learning"})
        session.add(silent)
        await session.flush()
        silent_id = silent.id
    pending_id = await desk.suggest(received, "Доставка в Казань — 3 дня.")
    await desk.settle()

    await desk.receive(desk.inbound(anna, "Да, в Казань за 2–3 дня, 400 ₽.", direction=Direction.OUT))
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        silent = await session.get(Suggestion, silent_id)
        pending = await session.get(Suggestion, pending_id)
        compared = (await session.execute(select(Event).where(Event.kind == "learning_compared"))).scalars().all()
    assert (silent.state, silent.final_text) == (SuggestionState.EDITED, "Да, в Казань за 2–3 дня, 400 ₽.")
    assert [e.payload["suggestion_id"] for e in compared] == [silent_id]
    assert pending.state == SuggestionState.OUTDATED
    topic = await desk.topic(received.dialog_id)
    card = _card(desk, topic.thread_id, "Доставка в Казань — 3 дня.")
    assert "клиенту уже ответили · аккаунт магазина, Telegram" in card["text"] and card["reply_markup"] is None
