"""End to end through the sandbox Bot API with the real aiogram client: a customer message becomes a topic with a
pinned card and a reply card; managers Send, Edit, Reject, Escalate, reply and take notes from the topic."""

from __future__ import annotations

from sqlalchemy import select

from core.models import (
    Customer,
    Dialog,
    DialogStatus,
    Escalation,
    OutboxCommand,
    Suggestion,
    SuggestionState,
    TrainingAction,
    TrainingSample,
)

from .desk import Desk

SPECIALS = "Цена <b>жирно</b> & <i>x</i> </blockquote> *звёздочки* _подчёрк_ [ссылка](http://x.y) `код` \\ #1"


async def _one(desk: Desk, model, *where):
    async with desk.db.unit_of_work() as session:
        return (await session.execute(select(model).where(*where))).scalar_one()


async def _open_dialog(desk: Desk, text: str = "Сколько стоит доставка?"):
    anna = desk.customer()
    received = await desk.customer_writes(anna, text)
    suggestion_id = await desk.suggest(received, "Доставка по Москве — 300 ₽, приедет завтра.")
    await desk.settle()
    topic = await desk.topic(received.dialog_id)
    return anna, received, suggestion_id, topic


async def test_customer_message_makes_topic_pinned_card_and_reply_card(desk: Desk):
    anna, received, suggestion_id, topic = await _open_dialog(desk, SPECIALS)
    [live] = desk.live_topics()
    assert live["id"] == topic.thread_id
    assert live["name"] == "⏳ Анна Петрова · TG"  # waiting for approval
    assert live["icon_custom_emoji_id"]  # the status icon too
    pinned, mirror, card = desk.thread(topic.thread_id)
    assert pinned["pinned"] and pinned["message_id"] == topic.pinned_message_id
    assert "Анна Петрова" in pinned["text"] and "Telegram «Магазин»" in pinned["text"]
    assert mirror["text"] == SPECIALS  # untrusted text arrives exactly as typed, markup characters and all
    assert "Доставка по Москве — 300 ₽" in card["text"] and "уверенность 82%" in card["text"]
    buttons = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["✅ Отправить", "✏️ Изменить", "❌ Отклонить", "🆘 Эскалировать"]
    edit_button = card["reply_markup"]["inline_keyboard"][0][1]
    assert edit_button["switch_inline_query_current_chat"] == f"#{suggestion_id} Доставка по Москве — 300 ₽, приедет завтра."


async def test_send_delivers_the_draft_and_closes_the_card(desk: Desk):
    anna, received, suggestion_id, topic = await _open_dialog(desk)
    card = desk.card_of(topic.thread_id, suggestion_id)
    await desk.press(desk.manager, card["message_id"], f"s:send:{suggestion_id}")

    assert [m["text"] for m in desk.customer_chat(anna)] == ["Доставка по Москве — 300 ₽, приедет завтра."]
    edited = next(m for m in desk.thread(topic.thread_id) if m["message_id"] == card["message_id"])
    assert edited["reply_markup"] is None  # buttons gone
    assert "✅ Отправлено · Иван" in edited["text"] and "доставлено" in edited["text"]
    assert [a["text"] for a in desk.sb.callback_answers] == ["Отправляю клиенту…"]
    suggestion = await _one(desk, Suggestion, Suggestion.id == suggestion_id)
    assert suggestion.state == SuggestionState.SENT and suggestion.decided_by_id is not None
    sample = await _one(desk, TrainingSample, TrainingSample.suggestion_id == suggestion_id)
    assert (sample.action, sample.final, sample.similarity) == (TrainingAction.SENT, suggestion.text, 1.0)
    dialog = await _one(desk, Dialog, Dialog.id == received.dialog_id)
    assert dialog.unread_count == 0 and dialog.status == DialogStatus.WAITING and dialog.first_response_seconds is not None
    assert desk.live_topics()[0]["name"].startswith("✅")


async def test_edit_with_the_prefilled_draft_sends_the_managers_version(desk: Desk):
    anna, received, suggestion_id, topic = await _open_dialog(desk)
    username = desk.sb.bot_user["username"]
    await desk.write(desk.manager, f"@{username} #{suggestion_id} Доставка 350 ₽, курьер привезёт завтра до 18:00.",
                     thread_id=topic.thread_id)

    assert [m["text"] for m in desk.customer_chat(anna)] == ["Доставка 350 ₽, курьер привезёт завтра до 18:00."]
    suggestion = await _one(desk, Suggestion, Suggestion.id == suggestion_id)
    assert suggestion.state == SuggestionState.EDITED
    sample = await _one(desk, TrainingSample, TrainingSample.suggestion_id == suggestion_id)
    assert sample.action == TrainingAction.EDITED and sample.draft == suggestion.text
    assert sample.final == "Доставка 350 ₽, курьер привезёт завтра до 18:00." and 0 < sample.similarity < 1
    card = next(m for m in desk.thread(topic.thread_id) if "Отправлено с правкой" in (m["text"] or ""))
    assert "Доставка 350 ₽" in card["text"] and card["reply_markup"] is None


async def test_replying_to_the_card_is_an_edit(desk: Desk):
    anna, received, suggestion_id, topic = await _open_dialog(desk)
    card = desk.card_of(topic.thread_id, suggestion_id)
    await desk.write(desk.manager, "Доставка бесплатно!", reply_to_message_id=card["message_id"])
    assert [m["text"] for m in desk.customer_chat(anna)] == ["Доставка бесплатно!"]
    assert (await _one(desk, Suggestion, Suggestion.id == suggestion_id)).final_text == "Доставка бесплатно!"


async def test_reject_with_a_reason_sends_nothing(desk: Desk):
    anna, received, suggestion_id, topic = await _open_dialog(desk)
    card = desk.card_of(topic.thread_id, suggestion_id)
    await desk.press(desk.manager, card["message_id"], f"s:reject:{suggestion_id}")
    rejected = next(m for m in desk.thread(topic.thread_id) if m["message_id"] == card["message_id"])
    assert "❌ Отклонено · Иван" in rejected["text"]
    reasons = [b["callback_data"] for row in rejected["reply_markup"]["inline_keyboard"] for b in row]
    assert f"rr:{suggestion_id}:tone" in reasons
    await desk.press(desk.manager, card["message_id"], f"rr:{suggestion_id}:tone")

    suggestion = await _one(desk, Suggestion, Suggestion.id == suggestion_id)
    assert (suggestion.state, suggestion.reject_reason) == (SuggestionState.REJECTED, "tone")
    final = next(m for m in desk.thread(topic.thread_id) if m["message_id"] == card["message_id"])
    assert "Причина: Не тот тон" in final["text"] and final["reply_markup"] is None
    assert desk.customer_chat(anna) == []
    sample = await _one(desk, TrainingSample, TrainingSample.suggestion_id == suggestion_id)
    assert sample.action == TrainingAction.REJECTED and sample.final is None


async def test_escalate_records_it_and_tells_the_escalation_chat(desk: Desk):
    anna, received, suggestion_id, topic = await _open_dialog(desk)
    card = desk.card_of(topic.thread_id, suggestion_id)
    await desk.press(desk.manager, card["message_id"], f"s:escalate:{suggestion_id}")

    escalation = await _one(desk, Escalation, Escalation.dialog_id == received.dialog_id)
    assert escalation.proposed_answer.startswith("Доставка по Москве") and escalation.summary
    assert (await _one(desk, Dialog, Dialog.id == received.dialog_id)).status == DialogStatus.ESCALATED
    [notice] = [m for m in desk.sb.chat(desk.owner["id"])["messages"] if m["by_bot"]]
    assert "Эскалация: Анна Петрова" in notice["text"] and "Передал: Иван" in notice["text"]
    link = next(e for e in notice["entities"] if e["type"] == "text_link")
    assert link["url"].endswith(f"/{topic.thread_id}")
    assert desk.live_topics()[0]["name"].startswith("❗️")
    assert desk.customer_chat(anna) == []


async def test_plain_reply_goes_to_the_customer_and_note_does_not(desk: Desk):
    anna, received, suggestion_id, topic = await _open_dialog(desk)
    reply = await desk.write(desk.manager, "Здравствуйте, Анна! <Подскажу> всё & сразу.", thread_id=topic.thread_id)
    note = await desk.write(desk.manager, "/note VIP: просила звонить после 18", thread_id=topic.thread_id)

    assert [m["text"] for m in desk.customer_chat(anna)] == ["Здравствуйте, Анна! <Подскажу> всё & сразу."]
    by_id = {m["message_id"]: m for m in desk.thread(topic.thread_id)}
    assert by_id[reply["message_id"]]["reactions"] == [{"type": "emoji", "emoji": "👍"}]  # delivered
    assert by_id[note["message_id"]]["reactions"] == [{"type": "emoji", "emoji": "✍"}]
    customer = await _one(desk, Customer, Customer.display_name == "Анна Петрова")
    assert customer.notes.endswith("Иван: VIP: просила звонить после 18")
    assert "VIP: просила звонить после 18" in by_id[topic.pinned_message_id]["text"]  # the pinned card shows it
    # The manager answered, so the pending draft stays sendable but the dialog is no longer unread.
    assert (await _one(desk, Dialog, Dialog.id == received.dialog_id)).unread_count == 0


async def test_outsiders_and_roles_without_the_right_are_refused(desk: Desk):
    anna, received, suggestion_id, topic = await _open_dialog(desk)
    card = desk.card_of(topic.thread_id, suggestion_id)
    await desk.press(desk.outsider, card["message_id"], f"s:send:{suggestion_id}")
    await desk.press(desk.viewer, card["message_id"], f"s:send:{suggestion_id}")
    outsider_answer, viewer_answer = desk.sb.callback_answers
    assert outsider_answer["show_alert"] and "не сотрудник" in outsider_answer["text"]
    assert viewer_answer["show_alert"] and "роли это недоступно" in viewer_answer["text"]
    message = await desk.write(desk.outsider, "Я тоже хочу написать клиенту", thread_id=topic.thread_id)

    assert desk.customer_chat(anna) == []
    assert (await _one(desk, Suggestion, Suggestion.id == suggestion_id)).state == SuggestionState.PENDING
    refusal = desk.thread(topic.thread_id)[-1]
    assert refusal["by_bot"] and refusal["reply_to_message_id"] == message["message_id"]
    assert "не сотрудник" in refusal["text"]
    async with desk.db.unit_of_work() as session:
        sends = (await session.execute(select(OutboxCommand).where(OutboxCommand.kind == "send_customer_message"))).all()
    assert sends == []


async def test_a_newer_customer_message_outdates_the_card(desk: Desk):
    anna, received, suggestion_id, topic = await _open_dialog(desk)
    await desk.customer_writes(anna, "И ещё: есть ли самовывоз?")
    await desk.settle()
    card = next(m for m in desk.thread(topic.thread_id) if "Черновик ответа" in (m["text"] or ""))
    assert "Устарело" in card["text"] and card["reply_markup"] is None
    assert desk.thread(topic.thread_id)[-1]["text"] == "И ещё: есть ли самовывоз?"
    assert desk.live_topics()[0]["name"].startswith("💬")  # unread again


async def test_customer_who_blocked_the_business_shows_as_blocked(desk: Desk):
    anna, received, suggestion_id, topic = await _open_dialog(desk)
    desk.sb.block_bot(anna["id"])
    card = desk.card_of(topic.thread_id, suggestion_id)
    await desk.press(desk.manager, card["message_id"], f"s:send:{suggestion_id}")

    edited = next(m for m in desk.thread(topic.thread_id) if m["message_id"] == card["message_id"])
    assert "Не доставлено: клиент заблокировал переписку" in edited["text"]
    dialog = await _one(desk, Dialog, Dialog.id == received.dialog_id)
    assert dialog.status == DialogStatus.INACTIVE
    assert desk.live_topics()[0]["name"].startswith("🚫")
    reply = await desk.write(desk.manager, "Вы тут?", thread_id=topic.thread_id)
    failure = desk.thread(topic.thread_id)[-1]
    assert failure["reply_to_message_id"] == reply["message_id"]
    assert "клиент заблокировал переписку" in failure["text"]


async def test_inbox_lists_unanswered_dialogs_oldest_first(desk: Desk):
    first, second = desk.customer("Борис", None), desk.customer("Вика", None)
    await desk.customer_writes(first, "Здравствуйте")
    await desk.customer_writes(second, "Добрый день")
    await desk.settle()
    await desk.write(desk.manager, "/inbox")
    listing = [m for m in desk.group()["messages"] if m["by_bot"] and "Ждут ответа" in (m["text"] or "")][-1]
    assert listing["thread_id"] is None
    assert listing["text"].index("Борис") < listing["text"].index("Вика")
    assert len([e for e in listing["entities"] if e["type"] == "text_link"]) == 2


async def test_a_draft_too_long_to_prefill_is_edited_by_replying_to_the_card(desk: Desk):
    anna = desk.customer()
    received = await desk.customer_writes(anna, "Расскажите подробно про гарантию")
    long_draft = "Гарантия 12 месяцев. " * 20  # over the 256 characters an inline query may carry
    suggestion_id = await desk.suggest(received, long_draft.strip())
    await desk.settle()
    topic = await desk.topic(received.dialog_id)
    card = desk.card_of(topic.thread_id, suggestion_id)
    edit_button = card["reply_markup"]["inline_keyboard"][0][1]
    assert edit_button["callback_data"] == f"s:edit:{suggestion_id}"
    await desk.press(desk.manager, card["message_id"], f"s:edit:{suggestion_id}")
    hint = desk.sb.callback_answers[-1]
    assert hint["show_alert"] and "Ответьте на эту карточку" in hint["text"]
    await desk.write(desk.manager, "Гарантия 12 месяцев, сервис в Москве.", reply_to_message_id=card["message_id"])
    assert [m["text"] for m in desk.customer_chat(anna)] == ["Гарантия 12 месяцев, сервис в Москве."]
