"""With no key configured the product still answers: the grounded responder drafts from the demo shop's own
catalog and knowledge base (right product, right price), and never autosends unless the tenant allows it."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from core.models import AIMode, Decision, Dialog, OutboxCommand, Suggestion

from .conftest import customer_says, make_shop, pipeline

TYPICAL_QUESTIONS = [
    ("Сколько стоит кофемашина?", ["Кофемашина DeLonghi Magnifica S", "45\u00a0990 ₽", "в наличии: 4 шт"]),
    ("Есть в наличии наушники Sony?", ["Наушники Sony WH-1000XM5", "34\u00a0990 ₽", "в наличии: 5 шт"]),
    ("почём робот-пылесос xiaomi", ["Робот-пылесос Xiaomi Robot Vacuum S10", "24\u00a0990 ₽"]),
    ("Хочу купить iPhone 15, сколько стоит?", ["Смартфон Apple iPhone 15 128 ГБ", "79\u00a0990 ₽"]),
    ("AirPods Pro есть?", ["Наушники Apple AirPods Pro 2", "24\u00a0990 ₽", "нет в наличии"]),
    ("Сколько стоит доставка по Москве?", ["390 рублей"]),
    ("Как вернуть товар, если не подошёл?", ["14 дней"]),
    ("Можно оплатить картой?", ["картой"]),
    ("Какая гарантия на технику?", ["12 месяцев"]),
    ("Здравствуйте!", ["Здравствуйте"]),
]


@pytest.mark.parametrize("question, expected", TYPICAL_QUESTIONS, ids=[q for q, _ in TYPICAL_QUESTIONS])
async def test_offline_responder_answers_from_the_demo_catalog(db, settings, offline_providers, question, expected):
    shop = await make_shop(db, offline_providers, settings)
    message_id = await customer_says(db, shop, question)
    result = await pipeline(db, offline_providers, settings).run(message_id)
    async with db.unit_of_work() as session:
        suggestion = await session.get(Suggestion, result.suggestion_id)
    lowered = suggestion.text.lower()
    for fragment in expected:
        assert fragment.lower() in lowered, suggestion.text
    assert suggestion.model == "offline" and suggestion.inputs["provider"] == "offline"
    # Its figures come from the catalog, so the self-check passes; only the offline lock holds it back.
    assert all(check["ok"] for check in suggestion.checks.values()), suggestion.checks
    assert suggestion.decision != Decision.AUTO_SEND


async def test_offline_never_autosends_unless_the_tenant_allows_it(db, settings, offline_providers):
    open_locks = dict(autosend_allowed=True, intents_autosend=["greeting", "price"], t_auto=0.85)
    shop = await make_shop(db, offline_providers, settings, **open_locks)
    message_id = await customer_says(db, shop, "Добрый день!")
    async with db.unit_of_work() as session:
        await session.execute(update(Dialog).values(ai_mode=AIMode.AUTO))
    result = await pipeline(db, offline_providers, settings).run(message_id)
    async with db.unit_of_work() as session:
        suggestion = await session.get(Suggestion, result.suggestion_id)
        assert suggestion.decision == Decision.NEED_APPROVAL
        assert suggestion.decision_reason == "Ответ собран без языковой модели (по каталогу и базе знаний): нужна проверка"
        assert suggestion.inputs["locks"]["offline"] is False
        assert (await session.execute(select(OutboxCommand))).scalars().all() == []

    other = await make_shop(db, offline_providers, settings, slug="allowed", offline_autosend_allowed=True,
                            **open_locks)
    message_id = await customer_says(db, other, "Добрый день!", user="900")
    async with db.unit_of_work() as session:
        await session.execute(update(Dialog).values(ai_mode=AIMode.AUTO))
    result = await pipeline(db, offline_providers, settings).run(message_id)
    assert result.decision == Decision.AUTO_SEND and result.command_id is not None


@pytest.mark.parametrize("question", ["Сколько стоит?", "Как дела у вас?"])
async def test_offline_responder_never_guesses(db, settings, offline_providers, question):
    shop = await make_shop(db, offline_providers, settings)
    message_id = await customer_says(db, shop, question)
    result = await pipeline(db, offline_providers, settings).run(message_id)
    async with db.unit_of_work() as session:
        suggestion = await session.get(Suggestion, result.suggestion_id)
    assert suggestion.text == "Уточню у менеджера и сразу вернусь с ответом 🙂"
    assert suggestion.inputs["basis"] == "not_found" and suggestion.decision == Decision.ESCALATE
