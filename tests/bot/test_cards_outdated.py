"""A manager's own answer in the topic makes the dialog's pending AI cards outdated: their buttons go, and a Send
pressed on one afterwards sends nothing."""

from __future__ import annotations

from sqlalchemy import select

from core.models import Suggestion, SuggestionState

from .desk import Desk


async def test_a_managers_reply_outdates_the_pending_card(desk: Desk):
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Сколько стоит доставка?")
    suggestion_id = await desk.suggest(received, "Доставка по Москве — 300 ₽.")
    await desk.settle()
    topic = await desk.topic(received.dialog_id)
    card = desk.card_of(topic.thread_id, suggestion_id)

    # The manager answers in the topic; before the card's edit has gone out, someone presses its Send.
    await desk.sb.user_sends(desk.manager["id"], desk.group_chat_id, "Доставка бесплатно от 3000 ₽.",
                             thread_id=topic.thread_id)
    await desk.pump()
    async with desk.db.unit_of_work() as session:
        suggestion = (await session.execute(select(Suggestion).where(Suggestion.id == suggestion_id))).scalar_one()
    assert suggestion.state == SuggestionState.OUTDATED
    await desk.press(desk.manager, card["message_id"], f"s:send:{suggestion_id}")

    assert [m["text"] for m in desk.customer_chat(anna)] == ["Доставка бесплатно от 3000 ₽."]
    edited = next(m for m in desk.thread(topic.thread_id) if m["message_id"] == card["message_id"])
    assert edited["reply_markup"] is None  # the card lost its buttons
