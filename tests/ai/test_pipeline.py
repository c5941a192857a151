"""The pipeline against the OpenAI stand-in through the real openai client: unsafe drafts never leave on their own
and each says why; safe ones leave after a human-like delay through the outbox, cancellable by a manager; an
unavailable model yields a FAILED suggestion with a card, never a blocked inbox."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core import inbox
from core.ai.pipeline import POST_SUGGESTION_CARD, REFRESH_CUSTOMER_MEMORY, cancel_pending_autoreplies
from core.inbox import REFRESH_CARDS, InboundMessage, Sender
from core.models import (
    AIMode,
    CommandOrigin,
    CommandState,
    Decision,
    Dialog,
    DialogStatus,
    Direction,
    Escalation,
    OutboxCommand,
    Suggestion,
    SuggestionState,
)

from .conftest import NOON, customer_says, intent_json, make_shop, pipeline, reply_json

OPEN_LOCKS = dict(autosend_allowed=True, intents_autosend=["price", "availability", "shipping", "discount"],
                  forbidden_topics=["политика"], allow_discounts=True, max_discount_percent=5)
GOOD_REPLY = "Кофемашина DeLonghi Magnifica S стоит 45 990 ₽, в наличии 4 шт. Оформить заказ?"


async def _auto_dialogs(db) -> None:
    async with db.unit_of_work() as session:
        await session.execute(update(Dialog).values(ai_mode=AIMode.AUTO))


async def _commands(db) -> list[OutboxCommand]:
    async with db.unit_of_work() as session:
        return list((await session.execute(select(OutboxCommand).order_by(OutboxCommand.id))).scalars())


async def _suggestion(db, suggestion_id) -> Suggestion:
    async with db.unit_of_work() as session:
        return await session.get(Suggestion, suggestion_id)


async def test_safe_reply_is_sent_after_a_human_delay_and_a_manager_can_cancel_it(db, ai_settings, online,
                                                                                   openai_sandbox):
    shop = await make_shop(db, online, ai_settings, **OPEN_LOCKS)
    message_id = await customer_says(db, shop, "Сколько стоит кофемашина?")
    await _auto_dialogs(db)
    openai_sandbox.script_reply(json=intent_json("price"))
    openai_sandbox.script_reply(json=reply_json(GOOD_REPLY, 0.95))
    run = pipeline(db, online, ai_settings)
    result = await run.run(message_id)

    assert result.decision == Decision.AUTO_SEND
    assert result.follow_ups[0] == (POST_SUGGESTION_CARD, {"suggestion_id": result.suggestion_id})
    assert (REFRESH_CUSTOMER_MEMORY, {"customer_id": 1}) in result.follow_ups
    suggestion = await _suggestion(db, result.suggestion_id)
    assert suggestion.state == SuggestionState.PENDING and suggestion.text == GOOD_REPLY
    assert suggestion.decision_reason == "Все проверки пройдены, уверенность 0.95 ≥ 0.85: отправка автоматически"
    assert suggestion.inputs["intent_source"] == "llm" and all(suggestion.inputs["locks"].values())
    assert {s["product"]["sku"] for s in suggestion.sources if "product" in s} >= {"TD-001"}

    [command] = await _commands(db)
    delay = suggestion.inputs["delay_seconds"]
    assert 8 <= delay <= 35  # the MEDIUM profile: a reading pause plus typing time
    assert command.kind == "send_customer_message" and command.destination == f"channel:{shop.channel_id}"
    assert command.payload == {"dialog_id": suggestion.dialog_id, "text": GOOD_REPLY,
                               "suggestion_id": suggestion.id, "typing": True, "delay_seconds": delay}
    assert (command.origin, command.intent, command.confidence) == (CommandOrigin.AI, "price", 0.95)
    assert command.not_before == run.clock.now() + timedelta(seconds=delay)
    assert command.state == CommandState.QUEUED

    # The prompt carried the catalog: the product and its real price.
    reply_request = next(r for r in openai_sandbox.requests
                         if (r.get("response_format") or {}).get("json_schema", {}).get("name") == "sales_reply")
    system = reply_request["messages"][0]["content"]
    assert "[TD-001] Кофемашина DeLonghi Magnifica S — 45\u00a0990 ₽; в наличии 4 шт." in system
    assert reply_request["messages"][-1] == {"role": "user", "content": "Сколько стоит кофемашина?"}

    # A manager answers first: the waiting auto-reply is cancelled and its card must be refreshed.
    async with db.unit_of_work() as session:
        assert await cancel_pending_autoreplies(session, suggestion.dialog_id) == [suggestion.id]
    [command] = await _commands(db)
    assert command.state == CommandState.CANCELLED and command.last_error == "manager answered first"
    assert (await _suggestion(db, suggestion.id)).state == SuggestionState.OUTDATED


UNSAFE = [
    ("wrong price", "Кофемашина DeLonghi Magnifica S стоит 39 990 ₽, в наличии.",
     "Самопроверка не пройдена: цена 39 990 не совпадает с каталогом", "prices"),
    ("discount above the maximum", "Кофемашина стоит 45 990 ₽, а для вас скидка 20%!",
     "Самопроверка не пройдена: скидка 20% больше допустимой 5%", "discount"),
    ("forbidden topic", "Кофемашина стоит 45 990 ₽. А политика тут ни при чём, все довольны.",
     "Самопроверка не пройдена: запрещённая тема в ответе: «политика»", "forbidden_topics"),
    ("wrong language", "The DeLonghi Magnifica S coffee machine costs 45 990 ₽ and we have it in stock.",
     "Самопроверка не пройдена: язык ответа (en) не совпадает с языком клиента (ru)", "language"),
    ("template leftover", "Здравствуйте, [имя]! Кофемашина стоит 45 990 ₽.",
     "Самопроверка не пройдена: в ответе остался шаблон: [имя]", "template"),
]


@pytest.mark.parametrize("case, reply, reason, check", UNSAFE, ids=[u[0] for u in UNSAFE])
async def test_unsafe_replies_are_never_autosent_and_say_why(db, ai_settings, online, openai_sandbox,
                                                             case, reply, reason, check):
    shop = await make_shop(db, online, ai_settings, **OPEN_LOCKS)
    message_id = await customer_says(db, shop, "Сколько стоит кофемашина? Скидку дадите?")
    await _auto_dialogs(db)
    openai_sandbox.script_reply(json=intent_json("price"))
    openai_sandbox.script_reply(json=reply_json(reply, 0.99))
    result = await pipeline(db, online, ai_settings).run(message_id)

    assert result.decision == Decision.NEED_APPROVAL and result.command_id is None
    assert await _commands(db) == []
    suggestion = await _suggestion(db, result.suggestion_id)
    assert suggestion.decision_reason == reason
    assert suggestion.checks[check]["ok"] is False
    assert suggestion.inputs["locks"]["self_check"] is False
    # Every other lock was open: the self-check alone held it back.
    assert [k for k, v in suggestion.inputs["locks"].items() if not v] == ["self_check"]
    assert result.follow_ups[0] == (POST_SUGGESTION_CARD, {"suggestion_id": suggestion.id})


async def test_force_handoff_intent_escalates_with_an_escalation_row(db, ai_settings, online, openai_sandbox):
    shop = await make_shop(db, online, ai_settings, **OPEN_LOCKS)
    message_id = await customer_says(db, shop, "Мне привезли сломанную кофемашину, это безобразие!")
    await _auto_dialogs(db)
    openai_sandbox.script_reply(json=intent_json("complaint"))
    openai_sandbox.script_reply(json=reply_json("Нам очень жаль! Заменим кофемашину.", 0.97))
    result = await pipeline(db, online, ai_settings).run(message_id)
    assert result.decision == Decision.ESCALATE and await _commands(db) == []
    async with db.unit_of_work() as session:
        escalation = (await session.execute(select(Escalation))).scalar_one()
        dialog = await session.get(Dialog, escalation.dialog_id)
    assert escalation.reason == "Тема «жалоба» всегда передаётся человеку"
    assert escalation.proposed_answer == "Нам очень жаль! Заменим кофемашину."
    assert dialog.status == DialogStatus.ESCALATED


async def test_model_down_gives_a_failed_suggestion_and_still_a_card(db, ai_settings, online, openai_sandbox):
    shop = await make_shop(db, online, ai_settings, **OPEN_LOCKS)
    message_id = await customer_says(db, shop, "Сколько стоит кофемашина?")
    before = len(openai_sandbox.requests)  # loading the shop embedded its catalog
    openai_sandbox.fail_next(503, times=100)
    result = await pipeline(db, online, ai_settings).run(message_id)
    suggestion = await _suggestion(db, result.suggestion_id)
    assert suggestion.state == SuggestionState.FAILED and suggestion.text == ""
    assert suggestion.decision == Decision.NEED_APPROVAL
    assert suggestion.decision_reason.startswith("ИИ недоступен: HTTP 503")
    assert suggestion.decision_reason.endswith("(after 3 attempts)")
    # The intent fell back to the local classifier and retrieval to full text; three attempts per call.
    assert suggestion.inputs["intent_source"] == "local" and suggestion.intent == "price"
    assert suggestion.inputs["embed_error"].startswith("HTTP 503")
    assert len(openai_sandbox.requests) - before == 9
    assert result.follow_ups[0] == (POST_SUGGESTION_CARD, {"suggestion_id": suggestion.id})
    assert await _commands(db) == []


async def test_rate_limit_is_retried_after_the_servers_wait(db, ai_settings, online, openai_sandbox):
    shop = await make_shop(db, online, ai_settings, **OPEN_LOCKS)
    message_id = await customer_says(db, shop, "Сколько стоит кофемашина?")
    before = len(openai_sandbox.requests)
    openai_sandbox.fail_next(429, times=2, retry_after=0.02)
    openai_sandbox.script_reply(json=intent_json("price"))
    openai_sandbox.script_reply(json=reply_json(GOOD_REPLY, 0.9))
    result = await pipeline(db, online, ai_settings).run(message_id)
    suggestion = await _suggestion(db, result.suggestion_id)
    assert suggestion.state == SuggestionState.PENDING and suggestion.text == GOOD_REPLY
    assert len(openai_sandbox.requests) - before == 5  # two 429s, then intent, embedding, reply


async def test_a_burst_is_answered_once_and_a_newer_message_supersedes_a_waiting_autoreply(
        db, ai_settings, online, openai_sandbox):
    shop = await make_shop(db, online, ai_settings, **OPEN_LOCKS)
    first = await customer_says(db, shop, "Сколько стоит кофемашина?")
    await _auto_dialogs(db)
    openai_sandbox.script_reply(json=intent_json("price"))
    openai_sandbox.script_reply(json=reply_json(GOOD_REPLY, 0.95))
    answered = await pipeline(db, online, ai_settings).run(first)
    assert answered.decision == Decision.AUTO_SEND

    second = await customer_says(db, shop, "И доставка по Москве сколько?", at=NOON + timedelta(seconds=3))
    third = await customer_says(db, shop, "Курьером", at=NOON + timedelta(seconds=4))
    assert (await pipeline(db, online, ai_settings).run(second)).skipped == \
        "a newer customer message will be answered instead"
    openai_sandbox.script_reply(json=intent_json("shipping"))
    openai_sandbox.script_reply(json=reply_json("Курьер по Москве — 390 рублей, привезём завтра.", 0.92))
    result = await pipeline(db, online, ai_settings).run(third)
    assert result.follow_ups[0] == (REFRESH_CARDS, {"suggestion_ids": [answered.suggestion_id]})
    suggestion = await _suggestion(db, result.suggestion_id)
    # The cancelled reply never left, so the new draft answers the whole burst, the first question included.
    assert suggestion.inputs["customer_text"] == "Сколько стоит кофемашина?\nИ доставка по Москве сколько?\nКурьером"
    assert result.decision == Decision.AUTO_SEND  # 390 рублей is what the delivery page says
    states = [(c.payload["suggestion_id"], c.state) for c in await _commands(db)]
    assert states == [(answered.suggestion_id, CommandState.CANCELLED), (suggestion.id, CommandState.QUEUED)]


async def test_a_manager_answering_while_the_model_thinks_outdates_the_draft(db, ai_settings, online,
                                                                             openai_sandbox):
    shop = await make_shop(db, online, ai_settings, **OPEN_LOCKS)
    message_id = await customer_says(db, shop, "Сколько стоит кофемашина?")
    await _auto_dialogs(db)
    openai_sandbox.script_reply(json=intent_json("price"))
    openai_sandbox.script_reply(json=reply_json(GOOD_REPLY, 0.95))
    before = len(openai_sandbox.requests)
    openai_sandbox.fail_next(200, times=3, delay=0.3)  # every call of this run is slow
    task = asyncio.create_task(pipeline(db, online, ai_settings).run(message_id))
    while len(openai_sandbox.requests) < before + 3:  # the reply call has arrived and is being delayed
        await asyncio.sleep(0.01)
    async with db.unit_of_work() as session:  # ... when the manager answers from the topic
        await inbox.receive(session, InboundMessage(
            channel_id=shop.channel_id, external_chat_id="501", external_id="manager-1",
            sender=Sender(external_user_id="501"), sent_at=NOON + timedelta(seconds=1), text="45 990 ₽",
            direction=Direction.OUT))
    result = await task
    assert result.state == SuggestionState.OUTDATED and result.follow_ups == []
    assert result.skipped == "superseded while drafting"
    assert await _commands(db) == []


async def test_nothing_is_drafted_for_a_message_the_business_already_answered(db, ai_settings, online,
                                                                                openai_sandbox):
    shop = await make_shop(db, online, ai_settings)
    message_id = await customer_says(db, shop, "Сколько стоит кофемашина?")
    async with db.unit_of_work() as session:
        await inbox.receive(session, InboundMessage(
            channel_id=shop.channel_id, external_chat_id="501", external_id="manager-1",
            sender=Sender(external_user_id="501"), sent_at=NOON + timedelta(seconds=1), text="45 990 ₽",
            direction=Direction.OUT))
    before = len(openai_sandbox.requests)
    result = await pipeline(db, online, ai_settings).run(message_id)
    assert result.skipped == "the business has already answered" and len(openai_sandbox.requests) == before


@pytest.mark.parametrize("night_mode, decision, commands", [
    ("disable", Decision.NEED_APPROVAL, []),
    ("auto_reply", Decision.AUTO_SEND, ["ai"]),
    ("delay", Decision.AUTO_SEND, ["ai"]),
])
async def test_outside_working_hours(db, ai_settings, online, openai_sandbox, night_mode, decision, commands):
    night = NOON.replace(hour=20, minute=30)  # 23:30 in Moscow
    shop = await make_shop(db, online, ai_settings, night_mode=night_mode, **OPEN_LOCKS)
    message_id = await customer_says(db, shop, "Сколько стоит кофемашина?", at=night)
    await _auto_dialogs(db)
    openai_sandbox.script_reply(json=intent_json("price"))
    openai_sandbox.script_reply(json=reply_json(GOOD_REPLY, 0.95))
    result = await pipeline(db, online, ai_settings, at=night).run(message_id)
    assert result.decision == decision
    assert [c.origin.value for c in await _commands(db)] == commands
    suggestion = await _suggestion(db, result.suggestion_id)
    assert suggestion.inputs["within_hours"] is False
    if night_mode == "delay":
        assert suggestion.inputs["delay_seconds"] >= 3 * 8  # the night multiplier (3) on the MEDIUM profile


async def test_night_auto_reply_goes_once_per_night_when_a_person_must_answer(db, ai_settings, online,
                                                                              openai_sandbox):
    night = NOON.replace(hour=20, minute=30)
    shop = await make_shop(db, online, ai_settings, night_mode="auto_reply",
                           night_auto_reply="Мы ответим утром, с 9:00 🙂")
    for second, text_ in enumerate(["Сколько стоит кофемашина?", "А фен?"]):
        message_id = await customer_says(db, shop, text_, at=night + timedelta(minutes=second))
        openai_sandbox.script_reply(json=intent_json("price"))
        openai_sandbox.script_reply(json=reply_json("Фен Dyson Supersonic HD07 стоит 49 990 ₽.", 0.95))
        result = await pipeline(db, online, ai_settings, at=night + timedelta(minutes=second)).run(message_id)
        assert result.decision == Decision.NEED_APPROVAL  # autosend is off for this tenant
    [command] = await _commands(db)
    assert command.payload["text"] == "Мы ответим утром, с 9:00 🙂" and command.origin == CommandOrigin.SYSTEM


async def test_ai_off_for_the_dialog_drafts_nothing(db, ai_settings, online, openai_sandbox):
    shop = await make_shop(db, online, ai_settings)
    message_id = await customer_says(db, shop, "Сколько стоит кофемашина?")
    async with db.unit_of_work() as session:
        await session.execute(update(Dialog).values(ai_mode=AIMode.OFF))
    before = len(openai_sandbox.requests)
    result = await pipeline(db, online, ai_settings).run(message_id)
    assert result.skipped == "AI is off for this dialog" and len(openai_sandbox.requests) == before


async def test_a_redelivered_task_does_not_draft_twice(db, ai_settings, online, openai_sandbox):
    shop = await make_shop(db, online, ai_settings)
    message_id = await customer_says(db, shop, "Сколько стоит кофемашина?")
    first = await pipeline(db, online, ai_settings).run(message_id)
    again = await pipeline(db, online, ai_settings).run(message_id)
    assert first.suggestion_id is not None and again.skipped == "already drafted"


async def test_a_timed_out_call_is_retried(db, ai_settings, online, openai_sandbox):
    from core.ai.providers import build_providers

    impatient = ai_settings.model_copy(update={"ai": ai_settings.ai.model_copy(update={"ai_timeout": 0.3})})
    providers = build_providers(impatient)
    shop = await make_shop(db, providers, impatient)
    message_id = await customer_says(db, shop, "Сколько стоит кофемашина?")
    # Rules, not a script: the abandoned slow request must not use up the reply meant for the retry.
    openai_sandbox.add_rule("классифицируешь", intent_json("price"))
    openai_sandbox.add_rule("продавец-консультант", reply_json(GOOD_REPLY, 0.9))
    before = len(openai_sandbox.requests)
    openai_sandbox.fail_next(200, times=1, delay=1.0)  # the intent call hangs past the 0.3 s timeout once
    result = await pipeline(db, providers, impatient).run(message_id)
    suggestion = await _suggestion(db, result.suggestion_id)
    assert suggestion.inputs["intent_source"] == "llm" and suggestion.text == GOOD_REPLY
    assert len(openai_sandbox.requests) - before == 4  # intent (timed out), intent, embedding, reply


async def test_the_prompt_carries_tone_customer_memory_and_notes(db, ai_settings, online, openai_sandbox):
    from core.models import AddressForm, Customer, Tone

    shop = await make_shop(db, online, ai_settings, address_form=AddressForm.TY, tone=Tone.FORMAL,
                           forbidden_topics=["политика"])
    message_id = await customer_says(db, shop, "Привет! Сколько стоит кофемашина?")
    async with db.unit_of_work() as session:
        customer = (await session.execute(select(Customer))).scalar_one()
        customer.notes = "Постоянный клиент, просит звонить после 18:00"
        customer.summary = "Выбирает кофемашину для офиса"
        customer.memory = {"preferences": ["зерновой кофе"]}
    openai_sandbox.script_reply(json=intent_json("price"))
    openai_sandbox.script_reply(json=reply_json(GOOD_REPLY, 0.9))
    await pipeline(db, online, ai_settings).run(message_id)
    request = openai_sandbox.requests[-1]
    system = request["messages"][0]["content"]
    assert request["response_format"]["json_schema"]["name"] == "sales_reply"
    assert "Обращайся к клиенту на «ты»" in system and "деловой, без эмодзи" in system
    assert "- Заметки менеджеров: Постоянный клиент, просит звонить после 18:00" in system
    assert "- Что известно: Выбирает кофемашину для офиса" in system
    assert "- Предпочтения: зерновой кофе" in system
    assert "Запрещённые темы (не обсуждай, вежливо уходи от них): политика." in system
    assert "Скидки не предлагай и не обещай." in system
    assert "Доставка" in system  # retrieved knowledge is in the prompt too
    assert "{{" not in system.replace('{{…}}', '')


async def test_a_provider_change_has_the_knowledge_reembedded(db, ai_settings, online, offline_providers,
                                                               openai_sandbox):
    from core.ai.indexing import stale_chunk_count
    from core.ai.pipeline import REEMBED_STALE, reembed_tenant

    shop = await make_shop(db, offline_providers, ai_settings)  # imported while no key was configured
    message_id = await customer_says(db, shop, "Сколько стоит кофемашина?")
    run = pipeline(db, online, ai_settings)
    result = await run.run(message_id)
    assert (REEMBED_STALE, {"tenant_id": shop.tenant_id}) in result.follow_ups
    async with db.unit_of_work() as session:
        stale = await stale_chunk_count(session, shop.tenant_id, online.embedder.name)
    assert stale > 30  # every product and every knowledge chunk
    assert await reembed_tenant(db, online, ai_settings, shop.tenant_id) == stale
    async with db.unit_of_work() as session:
        assert await stale_chunk_count(session, shop.tenant_id, online.embedder.name) == 0
    again = await run.run(await customer_says(db, shop, "А фен?", user="502"))
    assert REEMBED_STALE not in [name for name, _ in again.follow_ups]
