"""The self-check and the decision engine as pure functions: every rule can fail, and says why."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.ai import decision as engine
from core.ai.intents import classify_local
from core.ai.retrieval import ProductFact
from core.ai.selfcheck import CheckFacts, check_reply, price_figures
from core.ai.textutil import detect_language, parse_amount
from core.models import Decision, DelayProfile, Tenant

COFFEE = ProductFact(1, "TD-001", "Кофемашина DeLonghi Magnifica S", Decimal("45990"), "RUB", 4)
AIRPODS = ProductFact(2, "TD-015", "Наушники Apple AirPods Pro 2", Decimal("24990"), "RUB", 0)


def facts(**overrides) -> CheckFacts:
    values = dict(products=[COFFEE, AIRPODS], knowledge_texts=["Доставка по Москве — 390 рублей."],
                  allow_discounts=True, max_discount_percent=5, forbidden_topics=["политика", "кредит"],
                  customer_text="Сколько стоит кофемашина?", customer_language="ru")
    values.update(overrides)
    return CheckFacts(**values)


def failed(reply: str, **overrides) -> dict[str, list[str]]:
    report = check_reply(reply, facts(**overrides))
    return {name: check["problems"] for name, check in report.checks.items() if not check["ok"]}


def test_a_grounded_reply_passes_every_check():
    reply = "Кофемашина DeLonghi Magnifica S стоит 45 990 ₽, в наличии 4 шт. Доставка по Москве — 390 рублей."
    assert failed(reply) == {}


@pytest.mark.parametrize("raw, value", [
    ("45 000,00", Decimal("45000.00")), ("45000.00 ₽", Decimal("45000.00")), ("1.234,5", Decimal("1234.5")),
    ("45,000.50", Decimal("45000.50")), ("12,5", Decimal("12.5")), ("990", Decimal("990")),
])
def test_amounts(raw, value):
    assert parse_amount(raw) == value


@pytest.mark.parametrize("reply, figures", [
    ("Цена: 45 990 руб.", ["45 990"]),
    ("Стоит всего 44990, доставка 2 дня", ["44990"]),
    ("$ 120 или 9 990 ₽", ["9 990", "120"]),
    ("Экран 6,1 дюйма, 128 ГБ, гарантия 12 месяцев", []),
])
def test_price_figures(reply, figures):
    assert sorted(raw for raw, _ in price_figures(reply)) == sorted(figures)


@pytest.mark.parametrize("reply, rule, problem", [
    ("Кофемашина DeLonghi стоит 39 990 ₽.", "prices", "цена 39 990 не совпадает с каталогом"),
    ("Кофемашина стоит 45990 рублей, осталось 12 шт.", "stock", "остаток 12 шт не совпадает с каталогом"),
    ("Наушники Apple AirPods Pro 2 есть в наличии, 24 990 ₽.", "stock",
     "«Наушники Apple AirPods Pro 2» нет в наличии, а ответ говорит, что есть"),
    ("Для вас скидка 15% на кофемашину!", "discount", "скидка 15% больше допустимой 5%"),
    ("Сегодня -10% на всё!", "discount", "скидка 10% больше допустимой 5%"),
    ("Про политику мы не говорим, но кофемашина отличная.", "forbidden_topics",
     "запрещённая тема в ответе: «политика»"),
    ("The coffee machine costs 45 990 ₽ and it is in stock.", "language",
     "язык ответа (en) не совпадает с языком клиента (ru)"),
    ("Здравствуйте, [Имя клиента]! Кофемашина стоит 45 990 ₽.", "template",
     "в ответе остался шаблон: [Имя клиента]"),
    ("Здравствуйте, {{ name }}!", "template", "в ответе остался шаблон: {{ name }}"),
    ("   ", "not_empty", "пустой ответ"),
    ("Да. " * 500, "length", "ответ длиннее 1500 символов (1999)"),
])
def test_each_rule_fails_with_its_reason(reply, rule, problem):
    problems = failed(reply)
    assert problem in problems.get(rule, []), problems


def test_discounts_off_refuse_any_offer_but_not_a_refusal():
    assert failed("Могу сделать скидку на кофемашину.", allow_discounts=False) == {
        "discount": ["ответ обещает скидку, а скидки в магазине выключены"]}
    assert failed("К сожалению, скидок сейчас нет.", allow_discounts=False) == {}


def test_forbidden_topic_raised_by_the_customer_holds_the_reply_back():
    assert failed("Кофемашина стоит 45 990 ₽.", customer_text="А в кредит можно взять?") == {
        "forbidden_topics": ["клиент затрагивает запрещённую тему «кредит»"]}


def test_customers_own_figure_is_not_a_catalog_price():
    assert "prices" in failed("Хорошо, отдадим за 30 000 ₽.", customer_text="Отдадите за 30 000 ₽?")


@pytest.mark.parametrize("text_, language", [
    ("Да, iPhone 15 Pro Max 256GB в наличии", "ru"),
    ("Hello, is the DeLonghi in stock?", "en"),
    ("Привіт, чи є в наявності?", "uk"),
    ("ок", None),
])
def test_language_detection(text_, language):
    assert detect_language(text_) == language


@pytest.mark.parametrize("text_, intent", [
    ("Сколько стоит кофемашина?", "price"),
    ("Есть в наличии наушники?", "availability"),
    ("Сколько стоит доставка в Казань?", "shipping"),
    ("Хочу вернуть товар", "return"),
    ("Сделаете скидку?", "discount"),
    ("Это безобразие, пришёл брак!", "complaint"),
    ("Как оплатить заказ?", "payment"),
    ("Позовите менеджера", "human_request"),
    ("Добрый день!", "greeting"),
    ("Добрый день! Сколько стоит фен?", "price"),
    ("Как дела?", "other"),
])
def test_local_intents(text_, intent):
    assert classify_local(text_).intent == intent


# ------------------------------------------------------------------------------------------- decision engine

OPEN = dict(intent="price", confidence=0.95, t_auto=0.85, t_escalate=0.35, global_autosend=True,
            tenant_autosend=True, dialog_mode="auto", intents_autosend=["price"],
            intents_force_handoff=["complaint"], offline=False, offline_autosend_allowed=False, within_hours=True,
            night_mode="auto_reply")


def decide(**overrides) -> engine.DecisionResult:
    return engine.decide(engine.DecisionInputs(**{**OPEN, **overrides}))


def test_every_lock_open_autosends():
    result = decide()
    assert result.decision == Decision.AUTO_SEND and all(result.locks.values())


@pytest.mark.parametrize("overrides, reason", [
    ({"global_autosend": False}, "Автоотправка выключена для всей системы"),
    ({"tenant_autosend": False}, "Автоотправка выключена в настройках магазина"),
    ({"dialog_mode": "semi_auto"}, "Режим ИИ в диалоге: «полуавто», автоотправка только в режиме «авто»"),
    ({"dialog_mode": "learning"}, "Режим ИИ в диалоге: «обучение», автоотправка только в режиме «авто»"),
    ({"intents_autosend": ["greeting"]}, "Тема «цена» не входит в список автоответов"),
    ({"offline": True}, "Ответ собран без языковой модели (по каталогу и базе знаний): нужна проверка"),
    ({"confidence": 0.8}, "Уверенность 0.80 ниже порога автоотправки 0.85"),
    ({"within_hours": False, "night_mode": "disable"}, "Нерабочее время: ночью автоответы выключены"),
    ({"check_failures": ["цена 1 ₽ не совпадает с каталогом"]},
     "Самопроверка не пройдена: цена 1 ₽ не совпадает с каталогом"),
    ({"ai_error": "HTTP 500"}, "ИИ недоступен: HTTP 500"),
])
def test_one_closed_lock_needs_approval(overrides, reason):
    result = decide(**overrides)
    assert result.decision == Decision.NEED_APPROVAL and result.reason == reason


@pytest.mark.parametrize("overrides, reason", [
    ({"intent": "complaint", "intents_autosend": ["complaint"]}, "Тема «жалоба» всегда передаётся человеку"),
    ({"confidence": 0.2}, "Низкая уверенность 0.20 (порог эскалации 0.35)"),
    ({"needs_human": True, "needs_human_reason": "клиент злится"}, "Модель просит подключить человека: клиент злится"),
])
def test_handoff_escalates(overrides, reason):
    result = decide(**overrides)
    assert result.decision == Decision.ESCALATE and result.reason == reason


def test_outside_hours_in_auto_reply_or_delay_mode_still_autosends():
    assert decide(within_hours=False, night_mode="auto_reply").decision == Decision.AUTO_SEND
    assert decide(within_hours=False, night_mode="delay").decision == Decision.AUTO_SEND


def test_working_hours_in_the_tenant_timezone():
    tenant = Tenant(timezone="Europe/Moscow", working_hours={"wed": ["09:00", "21:00"], "fri": ["18:00", "02:00"]})
    assert engine.within_working_hours(tenant, datetime(2026, 11, 18, 9, 0, tzinfo=UTC))  # Wed 12:00 MSK
    assert not engine.within_working_hours(tenant, datetime(2026, 11, 18, 19, 0, tzinfo=UTC))  # Wed 22:00
    assert not engine.within_working_hours(tenant, datetime(2026, 11, 19, 9, 0, tzinfo=UTC))  # Thursday: closed
    assert engine.within_working_hours(tenant, datetime(2026, 11, 20, 22, 30, tzinfo=UTC))  # Sat 01:30, Fri shift


def test_human_delay_is_deterministic_and_scaled_at_night():
    text_ = "Кофемашина стоит 45 990 ₽."
    day = engine.human_delay(DelayProfile.MEDIUM, text_, seed=7)
    assert day == engine.human_delay(DelayProfile.MEDIUM, text_, seed=7)
    assert 8 <= day <= 20 + 15
    night = engine.human_delay(DelayProfile.MEDIUM, text_, seed=7, night=True, night_multiplier=3)
    assert abs(night - day * 3) <= 0.15  # both rounded to 0.1 s
    assert engine.human_delay(DelayProfile.OFF, text_, seed=7) == 0
