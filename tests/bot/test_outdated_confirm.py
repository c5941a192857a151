"""Send on a card that a person's answer made outdated: the customer already got that answer, so the first tap sends
nothing — a prompt under the card shows what was sent (the text, who, when) with a confirm button, and only the
confirm sends the draft as well. The outdated card itself says who answered instead of "the customer wrote again",
which stays for its real case. Real updates through the sandbox Bot API."""

from __future__ import annotations

from sqlalchemy import func, select

from core.models import OutboxCommand, Suggestion, SuggestionState
from core.services.workspace import base

from .desk import Desk


def _buttons(message: dict) -> dict[str, str]:
    return {b["text"]: b.get("callback_data") for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row}


def _by_id(desk: Desk, thread_id: int, message_id: int) -> dict:
    return next(m for m in desk.thread(thread_id) if m["message_id"] == message_id)


def _prompts(desk: Desk, thread_id: int, card_id: int) -> list[dict]:
    """The bot's posts replying to the card."""
    return [m for m in desk.thread(thread_id)
            if m["from"]["id"] == desk.sb.bot_user_id and m.get("reply_to_message_id") == card_id]


async def _state(desk: Desk, suggestion_id: int) -> SuggestionState:
    async with desk.db.unit_of_work() as session:
        return (await session.get(Suggestion, suggestion_id)).state


async def test_send_on_a_card_answered_meanwhile_shows_the_answer_and_needs_a_confirm(desk: Desk):
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Сколько стоит доставка?")
    suggestion_id = await desk.suggest(received, "Доставка по Москве — 300 ₽.")
    await desk.settle()
    topic = await desk.topic(received.dialog_id)
    card = desk.card_of(topic.thread_id, suggestion_id)

    # The manager answers in the topic; the card's edit has not reached the other manager's screen: they press Send.
    await desk.sb.user_sends(desk.manager["id"], desk.group_chat_id, "Доставка бесплатно от 3000 ₽.",
                             thread_id=topic.thread_id)
    await desk.pump()
    await desk.press(desk.owner, card["message_id"], f"s:send:{suggestion_id}")

    # Nothing more reached the customer; the tap was answered with where to look.
    assert [m["text"] for m in desk.customer_chat(anna)] == ["Доставка бесплатно от 3000 ₽."]
    assert desk.sb.callback_answers[-1]["show_alert"]
    assert "Клиенту уже ответили" in desk.sb.callback_answers[-1]["text"]
    assert await _state(desk, suggestion_id) == SuggestionState.OUTDATED
    # The card says who answered, and what — not that the customer wrote again.
    outdated = _by_id(desk, topic.thread_id, card["message_id"])
    assert outdated["reply_markup"] is None
    assert "Не отправлено: клиенту уже ответили · Иван" in outdated["text"]
    assert "Доставка бесплатно от 3000 ₽." in outdated["text"] and "клиент написал ещё" not in outdated["text"]
    # Under the card: what was sent, who and when, and the confirm button.
    [prompt] = _prompts(desk, topic.thread_id, card["message_id"])
    assert prompt["text"].startswith("⚠️ Клиенту уже ответили · Иван · ")
    assert "Доставка бесплатно от 3000 ₽." in prompt["text"] and "Отправить черновик ИИ" in prompt["text"]
    assert _buttons(prompt) == {"✅ Всё равно отправить": f"s:confirm:{suggestion_id}"}

    # The second tap sends the draft as well: once, even tapped twice in a row.
    for _ in range(2):
        await desk.sb.press_button(desk.owner["id"], desk.group_chat_id, prompt["message_id"],
                                   f"s:confirm:{suggestion_id}")
    await desk.settle()
    assert [m["text"] for m in desk.customer_chat(anna)] == ["Доставка бесплатно от 3000 ₽.",
                                                             "Доставка по Москве — 300 ₽."]
    assert await _state(desk, suggestion_id) == SuggestionState.SENT
    prompt = _by_id(desk, topic.thread_id, prompt["message_id"])
    assert prompt["reply_markup"] is None and "✅ Черновик тоже отправлен · Ольга" in prompt["text"]
    card_now = _by_id(desk, topic.thread_id, card["message_id"])
    assert "✅ Отправлено · Ольга" in card_now["text"] and card_now["reply_markup"] is None
    assert "уже обработана" in desk.sb.callback_answers[-1]["text"]
    async with desk.db.unit_of_work() as session:
        sends = (await session.execute(select(func.count()).select_from(OutboxCommand).where(
            OutboxCommand.kind == base.Kind.SEND_CUSTOMER, OutboxCommand.suggestion_id == suggestion_id))).scalar_one()
    assert sends == 1


async def test_a_card_outdated_by_another_card_names_that_answer_and_the_customer_case_keeps_its_text(desk: Desk):
    anna = desk.customer()
    first = await desk.customer_writes(anna, "Есть красное платье?")
    stale_id = await desk.suggest(first, "Да, есть в размерах S и M.")
    await desk.settle()
    topic = await desk.topic(first.dialog_id)
    stale = desk.card_of(topic.thread_id, stale_id)

    # The customer writes again: that draft is outdated, and Send on it is refused as before — nothing to confirm.
    second = await desk.customer_writes(anna, "И сколько оно стоит?")
    await desk.press(desk.manager, stale["message_id"], f"s:send:{stale_id}")
    assert "клиент написал ещё" in desk.sb.callback_answers[-1]["text"]
    stale = _by_id(desk, topic.thread_id, stale["message_id"])
    assert "клиент написал ещё" in stale["text"] and stale["reply_markup"] is None
    assert _prompts(desk, topic.thread_id, stale["message_id"]) == []

    # Two drafts wait for the same question (drafted twice, e.g. after a retry); one is sent from its card, and
    # Send is pressed on the other before its card has lost its buttons.
    chosen_id = await desk.suggest(second, "Красное платье стоит 4 900 ₽.")
    other_id = await desk.suggest(second, "Цена — 4 900 ₽, доставка бесплатно.")
    await desk.settle()
    chosen, other = desk.card_of(topic.thread_id, chosen_id), desk.card_of(topic.thread_id, other_id)
    await desk.sb.press_button(desk.manager["id"], desk.group_chat_id, chosen["message_id"], f"s:send:{chosen_id}")
    await desk.pump()
    await desk.press(desk.owner, other["message_id"], f"s:send:{other_id}")

    assert [m["text"] for m in desk.customer_chat(anna)] == ["Красное платье стоит 4 900 ₽."]
    other = _by_id(desk, topic.thread_id, other["message_id"])
    assert other["reply_markup"] is None
    assert "Не отправлено: клиенту уже ответили · Иван" in other["text"]
    assert "Красное платье стоит 4 900 ₽." in other["text"]
    [prompt] = _prompts(desk, topic.thread_id, other["message_id"])
    assert "Красное платье стоит 4 900 ₽." in prompt["text"]
    assert _buttons(prompt) == {"✅ Всё равно отправить": f"s:confirm:{other_id}"}
