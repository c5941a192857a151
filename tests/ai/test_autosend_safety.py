"""The autosend trial, end to end: a tenant that allows autosend (thresholds lowered, discounts up to 10 %, two
forbidden topics), the real openai client against the scripted stand-in, the demo shop. Every unsafe draft of the
trial — a price in words or without a currency, «за полцены», a delivery or warranty term the knowledge base does
not give, a knowledge-base figure passed off as a product's price, a template token, a customer asking for a
person or threatening court while the intent classifier is fooled — is held with its reason and never reaches the
outbox; the safe counterparts still leave on their own."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from core.ai.handoff import detect
from core.models import AIMode, Decision, Dialog, DialogStatus, Escalation, OutboxCommand, Suggestion

from .conftest import customer_says, intent_json, make_shop, pipeline, reply_json

TRIAL_TENANT = dict(
    autosend_allowed=True, t_auto=0.6, t_escalate=0.2,
    intents_autosend=["price", "availability", "shipping", "return", "discount", "complaint", "purchase",
                      "human_request", "greeting", "other"],
    allow_discounts=True, max_discount_percent=10, forbidden_topics=["политика", "кредит"],
)
COFFEE_REPLY = "Кофемашина DeLonghi Magnifica S стоит 45 990 ₽, в наличии 4 шт. Оформить заказ?"
VACUUM_Q = "Сколько стоит робот-пылесос Xiaomi?"

# (case, customer, intent the classifier returns, draft, the check that must fail)
UNSAFE_CLAIMS = [
    ("price in words", VACUUM_Q, "price",
     "Робот-пылесос Xiaomi Robot Vacuum S10 — всего за двадцать тысяч рублей!", "prices"),
    ("bare number", VACUUM_Q, "price", "Робот-пылесос Xiaomi Robot Vacuum S10 за 21 990 — лучшая цена!", "prices"),
    ("half price", VACUUM_Q + " Скидку дадите?", "discount",
     "Для вас робот-пылесос Xiaomi Robot Vacuum S10 за полцены!", "discount"),
    ("twice cheaper", "Сколько стоит кофемашина?", "price",
     "Кофемашина DeLonghi Magnifica S сейчас в два раза дешевле — 22 995 ₽!", "discount"),
    ("delivery to Kazan tomorrow", "Как быстро доставите в Казань?", "shipping",
     "Доставим ваш заказ в Казань уже завтра!", "terms"),
    ("warranty five years", "Какая гарантия на кофемашину DeLonghi?", "other",
     "На кофемашину DeLonghi Magnifica S гарантия 5 лет.", "terms"),
    ("%username%", "Сколько стоит кофемашина?", "price",
     "Здравствуйте, %username%! Кофемашина DeLonghi Magnifica S стоит 45 990 ₽.", "template"),
    ("a knowledge-base figure as the price", "Сколько стоит кофемашина? И сколько доставка по Москве?", "price",
     "Кофемашина DeLonghi Magnifica S стоит 10 000 ₽.", "prices"),
    ("one and a half thousand", "Сколько стоит чайник Kitfort?", "price",
     "Чайник электрический Kitfort KT-6140 — всего полторы тысячи рублей.", "prices"),
    ("percent in words", "Скидку на кофемашину дадите?", "discount",
     "Да, на кофемашину DeLonghi Magnifica S скидка пятнадцать процентов!", "discount"),
    ("return period", "Сколько дней можно вернуть товар?", "other",
     "Вернуть товар можно в течение 30 дней.", "terms"),
    ("same-day delivery in Moscow", "Когда привезёте по Москве?", "shipping",
     "Курьер привезёт по Москве сегодня же!", "terms"),
    ("a gift", "Сколько стоит кофемашина?", "price",
     "Кофемашина DeLonghi Magnifica S стоит 45 990 ₽, кофемолка в подарок!", "discount"),
    ("{name}", "Сколько стоит кофемашина?", "price",
     "Здравствуйте, {имя}! Кофемашина DeLonghi Magnifica S стоит 45 990 ₽.", "template"),
    ("forbidden topic in another form", "Сколько стоит кофемашина?", "price",
     "Мы вне политических споров, а кофемашина DeLonghi Magnifica S стоит 45 990 ₽.", "forbidden_topics"),
]

# (case, customer, the intent a fooled classifier returns)
HANDOFFS = [
    ("asks for a manager", "Позовите менеджера, сколько стоит кофемашина?", "price"),
    ("asks for a person", "Хочу поговорить с живым человеком. Кофемашина DeLonghi сколько стоит?", "price"),
    ("threatens court", "Кофемашина сломалась через неделю, подам на вас в суд! Сколько стоит новая кофемашина?",
     "price"),
    ("names the regulator", "Напишу жалобу в Роспотребнадзор. Сколько стоит кофемашина?", "price"),
    ("demands money back", "Верните деньги за кофемашину! Сколько она вообще стоит?", "price"),
    ("disputes the payment", "Оспорю платёж через банк. Сколько стоит кофемашина?", "price"),
    ("asks for a person in English", "I want to talk to a real person. How much is the coffee machine?", "price"),
]

# (case, customer, intent, draft): each must leave on its own.
SAFE = [
    ("price in words", VACUUM_Q, "price",
     "Робот-пылесос Xiaomi Robot Vacuum S10 стоит двадцать четыре тысячи девятьсот девяносто рублей."),
    ("price in digits", VACUUM_Q, "price", "Робот-пылесос Xiaomi Robot Vacuum S10 — 24 990 ₽, в наличии 9 шт."),
    ("bare price", VACUUM_Q, "price", "Робот-пылесос Xiaomi Robot Vacuum S10 за 24 990 — отличный выбор!"),
    ("the price without the name again", "Сколько стоит кофемашина?", "price", "Она стоит 45 990 ₽, в наличии 4 шт."),
    ("delivery to Kazan", "Как быстро доставите в Казань?", "shipping",
     "В Казань доставим через СДЭК: 490 рублей, срок 2–7 дней."),
    ("delivery in Moscow", "Сколько стоит доставка по Москве и когда привезёте?", "shipping",
     "Курьер по Москве привезёт на следующий день после заказа, доставка 390 рублей."),
    ("free delivery", "Доставка по Москве платная?", "shipping",
     "При заказе от 10 000 рублей доставка по Москве бесплатная."),
    ("warranty", "Какая гарантия на кофемашину DeLonghi?", "other",
     "На кофемашину DeLonghi Magnifica S гарантия производителя 12 месяцев."),
    ("returns", "Сколько дней можно вернуть товар?", "other",
     "Вернуть товар надлежащего качества можно в течение 14 дней, деньги вернём в течение 10 дней."),
    ("a discount within the limit", "Скидку на кофемашину дадите?", "discount",
     "На кофемашину DeLonghi Magnifica S можем дать скидку 10%: 41 391 ₽."),
    ("a greeting", "Здравствуйте!", "greeting", "Здравствуйте! Чем могу помочь?"),
    ("a customer who says no claims", "Спасибо, претензий нет! Сколько стоит кофемашина?", "price", COFFEE_REPLY),
    ("a question about a robot vacuum", "Это робот-пылесос с влажной уборкой? Сколько стоит?", "price",
     "Да, робот-пылесос Xiaomi Robot Vacuum S10 с влажной уборкой, стоит 24 990 ₽."),
]


async def _trial(db, ai_settings, online, openai_sandbox, customer: str, intent: str, draft: str,
                 confidence: float = 0.95) -> tuple[Suggestion, list[OutboxCommand]]:
    shop = await make_shop(db, online, ai_settings, **TRIAL_TENANT)
    message_id = await customer_says(db, shop, customer)
    async with db.unit_of_work() as session:
        await session.execute(update(Dialog).values(ai_mode=AIMode.AUTO))
    openai_sandbox.script_reply(json=intent_json(intent))
    openai_sandbox.script_reply(json=reply_json(draft, confidence))
    result = await pipeline(db, online, ai_settings).run(message_id)
    async with db.unit_of_work() as session:
        suggestion = await session.get(Suggestion, result.suggestion_id)
        commands = list((await session.execute(select(OutboxCommand))).scalars())
    assert suggestion.decision == result.decision
    return suggestion, commands


@pytest.mark.parametrize("case, customer, intent, draft, check", UNSAFE_CLAIMS, ids=[u[0] for u in UNSAFE_CLAIMS])
async def test_unsafe_claims_are_held_with_their_reason(db, ai_settings, online, openai_sandbox,
                                                        case, customer, intent, draft, check):
    suggestion, commands = await _trial(db, ai_settings, online, openai_sandbox, customer, intent, draft)
    assert suggestion.decision == Decision.NEED_APPROVAL, suggestion.decision_reason
    assert commands == []
    assert suggestion.checks[check]["ok"] is False, suggestion.checks
    problems = suggestion.checks[check]["problems"]
    assert suggestion.decision_reason == "Самопроверка не пройдена: " + "; ".join(
        p for c in suggestion.checks.values() for p in c["problems"])
    assert problems[0] in suggestion.decision_reason
    # The self-check alone held it: every other lock was open.
    assert [k for k, v in suggestion.inputs["locks"].items() if not v] == ["self_check"]


@pytest.mark.parametrize("case, customer, intent", HANDOFFS, ids=[h[0] for h in HANDOFFS])
async def test_a_fooled_classifier_does_not_autosend_a_handoff(db, ai_settings, online, openai_sandbox,
                                                               case, customer, intent):
    draft = COFFEE_REPLY if "How much" not in customer else "The DeLonghi Magnifica S coffee machine costs 45,990 ₽."
    suggestion, commands = await _trial(db, ai_settings, online, openai_sandbox, customer, intent, draft)
    assert suggestion.intent == intent and suggestion.inputs["intent_source"] == "llm"
    assert suggestion.decision == Decision.ESCALATE and commands == []
    [signal, *_] = detect(customer)
    assert suggestion.decision_reason.endswith(f"«{signal.phrase}»") or suggestion.decision_reason.endswith(
        f"“{signal.phrase}”")
    assert suggestion.inputs["handoff_reasons"][0] == suggestion.decision_reason
    async with db.unit_of_work() as session:
        escalation = (await session.execute(select(Escalation))).scalar_one()
        dialog = await session.get(Dialog, suggestion.dialog_id)
    assert escalation.reason == suggestion.decision_reason and dialog.status == DialogStatus.ESCALATED


@pytest.mark.parametrize("case, customer, intent, draft", SAFE, ids=[s[0] for s in SAFE])
async def test_safe_counterparts_still_autosend(db, ai_settings, online, openai_sandbox, case, customer, intent,
                                                draft):
    suggestion, commands = await _trial(db, ai_settings, online, openai_sandbox, customer, intent, draft)
    assert suggestion.decision == Decision.AUTO_SEND, (suggestion.decision_reason, suggestion.checks)
    [command] = commands
    assert command.payload["text"] == draft
