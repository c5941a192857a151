"""Claims read the way a customer reads them: figures in digits and in Russian words, money with or without a
currency, discounts in any form, delivery / warranty / return terms, cities. Then the self-check on the demo shop:
every unsafe draft of the autosend trial fails with a reason a manager understands, and the safe ones pass."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from core.ai import claims
from core.ai.selfcheck import price_figures

from .demo_facts import check, failed

# ------------------------------------------------------------------------------------------- number words


@pytest.mark.parametrize("text_, value", [
    ("двадцать тысяч", 20000),
    ("двадцать четыре тысячи девятьсот девяносто", 24990),
    ("полторы тысячи", 1500),
    ("полтора миллиона", 1_500_000),
    ("полутора тысяч", 1500),
    ("тысячу", 1000),
    ("тысяча двести", 1200),
    ("сто двадцать пять", 125),
    ("двести тысяч", 200000),
    ("три тысячи двести девяносто", 3290),
    ("сорок пять тысяч девятьсот девяносто", 45990),
    ("пятьдесят девять тысяч девятьсот девяносто", 59990),
    ("девятнадцать", 19),
    ("одиннадцать тысяч", 11000),
    ("двух тысяч", 2000),
    ("пяти тысяч", 5000),
    ("тремя тысячами", 3000),
    ("восьмисот", 800),
    ("двенадцати", 12),
    ("четырнадцати", 14),
    ("девяноста девяти", 99),
    ("семьсот семьдесят семь", 777),
    ("двадцать одна тысяча", 21000),
    ("сорока", 40),
    ("24 тысячи 990", 24990),
    ("24 тысячи", 24000),
    ("1,5 тысячи", 1500),
    ("24,9 тыс.", 24900),
    ("25к", 25000),
    ("2 млн", 2_000_000),
    ("twenty thousand", 20000),
    ("two hundred fifty", 250),
    ("forty five thousand nine hundred ninety", 45990),
])
def test_numbers_in_words_and_digits(text_, value):
    [number] = claims.numbers(text_)
    assert number.value == value and number.raw == text_


@pytest.mark.parametrize("text_, values", [
    ("пять двадцать", [5, 20]),  # two numbers, not 25
    ("двадцать тридцать", [20, 30]),
    ("десять пять", [10, 5]),
    ("сто сто", [100, 100]),
    ("в 2 раза", [2]),
    ("Курьер привозит с 10:00 до 22:00", []),
    ("Звоните: +7 (495) 123-45-67", []),
    ("Заказ № 12345 от 18.11.2026", []),
    ("Samsung Galaxy A55 8/256 ГБ", []),
    ("Чайник Kitfort KT-6140", []),
    ("iPhone 15, Apple Watch Series 9, AirPods Pro 2", []),
    ("Наушники Sony WH-1000XM5", []),
    ("Один из лучших", [1]),
])
def test_what_is_and_is_not_a_number(text_, values):
    assert [n.value for n in claims.numbers(text_)] == values


@pytest.mark.parametrize("reply, figures", [
    ("всего за двадцать тысяч рублей", [20000]),
    ("за 21 990 — лучшая цена", [21990]),
    ("за 21990, доставка бесплатно", [21990]),
    ("Цена: 24.990", [24990]),
    ("стоит 24\u00a0990", [24990]),
    ("стоит 24\u202f990 руб.", [24990]),
    ("отдадим за 20к рублей", [20000]),
    ("отдадим за 20 тыс. руб.", [20000]),
    ("24 990р", [24990]),
    ("990р", [990]),
    ("$120", [120]),
    ("costs 45,990 ₽", [45990]),
    ("price is 45 990", [45990]),
    ("стоит три тысячи двести девяносто рублей", [3290]),
    ("за полторы тысячи", [1500]),
    ("обойдётся в тысячу рублей", [1000]),
    ("Экран 6,1 дюйма, 128 ГБ, гарантия 12 месяцев", []),
    ("Мощность 2800 Вт, 1000 оборотов", []),
    ("За 200 отзывов ни одного плохого", []),
    ("iPhone 15 128 ГБ", []),
    ("двадцать минут", []),
    ("за две тысячи шагов", []),
    ("доставка 2–7 дней", []),
])
def test_money_in_any_form(reply, figures):
    assert [m.value for m in claims.money(reply)] == [Decimal(f) for f in figures]


def test_price_figures_keep_the_figure_as_written():
    assert price_figures("Кофемашина стоит 39 990 ₽, а кофемолка 12 490 рублей") == [
        ("39 990", Decimal(39990)), ("12 490", Decimal(12490))]


# --------------------------------------------------------------------------------------------- discounts


@pytest.mark.parametrize("text_, percent", [
    ("скидка 15%", 15),
    ("скидку 15 %", 15),
    ("Сегодня -10% на всё", 10),
    ("−20% на наушники", 20),
    ("скидка пятнадцать процентов", 15),
    ("пять процентов скидки", 5),
    ("за полцены", 50),
    ("за пол цены", 50),
    ("в полцены", 50),
    ("за половину цены", 50),
    ("в два раза дешевле", 50),
    ("в 2 раза дешевле", 50),
    ("вдвое дешевле", 50),
    ("втрое дешевле", 67),
    ("в четыре раза дешевле", 75),
    ("на треть дешевле", 33),
    ("на четверть дешевле", 25),
    ("half price", 50),
    ("20% off", 20),
])
def test_discounts_in_any_form(text_, percent):
    found, _ = claims.discounts(text_)
    assert [d.percent for d in found] == [Decimal(percent)]


@pytest.mark.parametrize("text_, amount", [
    ("скидка 5 000 ₽", 5000),
    ("на 3 000 рублей дешевле", 3000),
    ("скидка в тысячу рублей", 1000),
    ("минус 2 000 ₽", 2000),
])
def test_discount_amounts(text_, amount):
    found, amounts = claims.discounts(text_)
    assert [d.amount for d in found] == [Decimal(amount)] and len(amounts) == 1


@pytest.mark.parametrize("text_", ["влажность 50%", "батарея заряжена на 80%", "КПД 95 процентов"])
def test_a_percentage_outside_a_discount_is_no_discount(text_):
    assert claims.discounts(text_)[0] == []


# --------------------------------------------------------------------------------------------- durations

D = Fraction


@pytest.mark.parametrize("text_, low, high", [
    ("срок 2–7 дней", 2, 7),
    ("от 2 до 7 дней", 2, 7),
    ("2-7 рабочих дней", 2, 7),
    ("за 3 дня", 0, 3),
    ("в течение 14 дней", 0, 14),
    ("в течение трёх рабочих дней", 0, 3),
    ("14 календарных дней", 14, 14),
    ("гарантия 12 месяцев", 360, 360),
    ("гарантия 1 год", 360, 360),
    ("гарантия год", 360, 360),
    ("гарантия — год", 360, 360),
    ("гарантия 5 лет", 1800, 1800),
    ("гарантия два года", 720, 720),
    ("полгода", 180, 180),
    ("полтора года", 540, 540),
    ("через неделю", 7, 7),
    ("в течение месяца", 0, 30),
    ("завтра", 1, 1),
    ("послезавтра", 2, 2),
    ("на следующий день после заказа", 1, 1),
    ("сегодня", 0, 0),
    ("день в день", 0, 0),
    ("через 2 часа", D(1, 12), D(1, 12)),
    ("за час", 0, D(1, 24)),
    ("within 3 business days", 0, 3),
    ("tomorrow", 1, 1),
    ("12 months", 360, 360),
])
def test_durations(text_, low, high):
    [term] = claims.durations(text_)
    assert (term.low, term.high) == (D(low), D(high))


@pytest.mark.parametrize("text_", [
    "Курьер звонит за час до приезда",
    "до 60 минут работы",
    "до 57 часов работы",
    "Добрый день!",
    "Трек-номер приходит в день отправки",
    "заказывали 3 дня назад",
])
def test_what_is_not_a_term(text_):
    assert claims.durations(text_) == []


def test_terms_match_on_their_longest_wait():
    week = claims.durations("2–7 дней")[0]
    assert claims.durations("до 7 дней")[0].matches(week)
    assert claims.durations("7 дней")[0].matches(week)
    assert not claims.durations("3 дня")[0].matches(week)
    assert not claims.durations("завтра")[0].matches(week)
    assert claims.durations("12 месяцев")[0].matches(claims.durations("1 год")[0])


@pytest.mark.parametrize("text_, cities", [
    ("Доставка по Москве в пределах МКАД", {"Москва"}),
    ("в Казань", {"Казань"}),
    ("из Казани", {"Казань"}),
    ("в Санкт-Петербурге и в Питер", {"Санкт-Петербург"}),
    ("в Нижний Новгород", {"Нижний Новгород"}),
    ("в Екатеринбург", {"Екатеринбург"}),
    ("по всей России через СДЭК", set()),
    ("Москва, ул. Тверская, 12", {"Москва"}),
    ("в Томск", {"Томск"}),
])
def test_places(text_, cities):
    assert claims.places(text_) == cities


# ------------------------------------------------------------------------ the self-check on the demo shop

VACUUM_Q = "Сколько стоит робот-пылесос Xiaomi?"
COFFEE_Q = "Сколько стоит кофемашина?"

UNSAFE = [
    ("price in words", VACUUM_Q, "Робот-пылесос Xiaomi Robot Vacuum S10 — всего за двадцать тысяч рублей!", "prices",
     "цена «двадцать тысяч рублей» (20\u00a0000) не совпадает с каталогом: "
     "«Робот-пылесос Xiaomi Robot Vacuum S10» стоит 24\u00a0990 ₽"),
    ("bare number", VACUUM_Q, "Робот-пылесос Xiaomi Robot Vacuum S10 за 21 990 — лучшая цена!", "prices",
     "цена «21 990» (21\u00a0990) не совпадает с каталогом: «Робот-пылесос Xiaomi Robot Vacuum S10» стоит 24\u00a0990 ₽"),
    ("bare number, no product in the sentence", VACUUM_Q, "Отдадим за 21990!", "prices",
     "цена «21990» (21\u00a0990) не совпадает с каталогом: «Робот-пылесос Xiaomi Robot Vacuum S10» стоит 24\u00a0990 ₽"),
    ("slang thousands", VACUUM_Q, "Робот-пылесос Xiaomi Robot Vacuum S10 отдадим за 20к рублей.", "prices", None),
    ("one and a half thousand", "Сколько стоит чайник Kitfort?",
     "Чайник электрический Kitfort KT-6140 — всего полторы тысячи рублей.", "prices", None),
    ("half price", VACUUM_Q, "Для вас робот-пылесос Xiaomi Robot Vacuum S10 за полцены!", "discount",
     "«за полцены» — это скидка 50%, больше допустимой 10%"),
    ("twice cheaper", COFFEE_Q, "Кофемашина DeLonghi Magnifica S у нас в два раза дешевле, чем везде!", "discount",
     "«в два раза дешевле» — это скидка 50%, больше допустимой 10%"),
    ("percent in words", "Скидку на кофемашину дадите?",
     "Да, на кофемашину DeLonghi Magnifica S скидка пятнадцать процентов!", "discount",
     "«пятнадцать процентов» — это скидка 15%, больше допустимой 10%"),
    ("discount amount", "Скидку на чайник дадите?", "На чайник Kitfort KT-6140 сделаем скидку 1 000 ₽!", "discount",
     "скидка «1 000 ₽» — это 30,4% от цены «Чайник электрический Kitfort KT-6140», больше допустимой 10%"),
    ("a gift the knowledge base does not offer", COFFEE_Q,
     "Кофемашина DeLonghi Magnifica S стоит 45 990 ₽, кофемолка в подарок!", "discount",
     "ответ обещает «в подарок», а в базе знаний такого нет"),
    ("delivery tomorrow to Kazan", "Как быстро доставите в Казань?", "Доставим ваш заказ в Казань уже завтра!",
     "terms", "срок доставки в ответе «завтра», а в базе знаний «2–7 дней»"),
    ("delivery in 3 days", "Как быстро доставите в Казань?", "В Казань доставим за 3 дня.", "terms",
     "срок доставки в ответе «3 дня», а в базе знаний «2–7 дней»"),
    ("same-day Moscow", "Когда привезёте по Москве?", "Курьер привезёт по Москве сегодня же!", "terms",
     "срок доставки в ответе «сегодня», а в базе знаний «на следующий день»"),
    ("warranty 5 years", "Какая гарантия на кофемашину?", "На кофемашину DeLonghi Magnifica S гарантия 5 лет.",
     "terms", "срок гарантии в ответе «5 лет», а в базе знаний «12 месяцев»"),
    ("warranty in words", "Какая гарантия на кофемашину?", "Гарантия на кофемашину — два года.", "terms", None),
    ("return period", "Сколько дней на возврат?", "Вернуть товар можно в течение 30 дней.", "terms",
     "срок возврата в ответе «30 дней», а в базе знаний «14 дней»"),
    ("a knowledge-base figure as a product price", "Сколько стоит кофемашина? И доставка по Москве?",
     "Кофемашина DeLonghi Magnifica S стоит 10 000 ₽.", "prices", "цена 10 000 не совпадает с каталогом"),
    ("a knowledge-base figure, product named once", "Сколько стоит кофемашина? И доставка по Москве?",
     "Кофемашина DeLonghi Magnifica S — 10 000 ₽.", "prices", None),
    ("a fee of Moscow for Kazan", "Сколько стоит доставка в Казань?", "Доставка в Казань — 390 рублей.", "prices",
     None),
    ("an address the knowledge base does not give", "Где можно забрать заказ?",
     "Самовывоз бесплатно: ул. Ленина, 5, с 10:00 до 21:00.", "addresses",
     "адреса «ул. Ленина, 5» нет в найденных статьях базы знаний"),
    ("another house number", "Где можно забрать заказ?", "Самовывоз из магазина на ул. Тверская, 15.", "addresses",
     None),
    ("%username%", COFFEE_Q, "Здравствуйте, %username%! Кофемашина DeLonghi Magnifica S стоит 45 990 ₽.", "template",
     "в ответе остался шаблон: %username%"),
    ("{name}", COFFEE_Q, "Здравствуйте, {имя клиента}!", "template", "в ответе остался шаблон: {имя клиента}"),
    ("<name>", COFFEE_Q, "Здравствуйте, <Name>!", "template", "в ответе остался шаблон: <Name>"),
    ("$name", COFFEE_Q, "Здравствуйте, $first_name!", "template", "в ответе остался шаблон: $first_name"),
    ("{{x}}", COFFEE_Q, "Здравствуйте, {{client}}!", "template", "в ответе остался шаблон: {{client}}"),
    ("[x]", COFFEE_Q, "Здравствуйте, [Имя]!", "template", "в ответе остался шаблон: [Имя]"),
    ("forbidden topic inflected", COFFEE_Q,
     "Мы вне политических споров, а кофемашина DeLonghi Magnifica S стоит 45 990 ₽.", "forbidden_topics",
     "запрещённая тема в ответе: «политика»"),
    ("forbidden topic from the customer", "А кредитование у вас есть?", "Кофемашина стоит 45 990 ₽.",
     "forbidden_topics", "клиент затрагивает запрещённую тему «кредит»"),
    ("a sentence in another language", COFFEE_Q,
     "Кофемашина DeLonghi Magnifica S стоит 45 990 ₽, в наличии 4 шт. Пишите, если будут вопросы! "
     "Please let us know if you need anything else.", "language", None),
]


@pytest.mark.parametrize("case, customer, reply, rule, reason", UNSAFE, ids=[u[0] for u in UNSAFE])
def test_unsafe_claims_fail_with_a_reason(case, customer, reply, rule, reason):
    problems = failed(reply, customer)
    assert rule in problems, problems
    if reason is not None:
        assert reason in problems[rule], problems


def test_discounts_off_refuse_relative_discounts_too():
    assert failed("Робот-пылесос Xiaomi Robot Vacuum S10 за полцены!", VACUUM_Q, allow_discounts=False) == {
        "discount": ["«за полцены» — это скидка, а скидки в магазине выключены"]}


SAFE = [
    ("price in words", VACUUM_Q,
     "Робот-пылесос Xiaomi Robot Vacuum S10 стоит двадцать четыре тысячи девятьсот девяносто рублей."),
    ("price in digits", VACUUM_Q, "Робот-пылесос Xiaomi Robot Vacuum S10 — 24 990 ₽, в наличии 9 шт."),
    ("bare price", VACUUM_Q, "Робот-пылесос Xiaomi Robot Vacuum S10 за 24 990 — отличный выбор!"),
    ("price, thousands and digits", VACUUM_Q, "Робот-пылесос Xiaomi Robot Vacuum S10 стоит 24 тысячи 990 рублей."),
    ("two products", "Что лучше, кофемашина или кофемолка?",
     "Кофемашина DeLonghi Magnifica S — 45 990 ₽, кофемолка Bork J700 — 12 490 ₽."),
    ("a price without naming it again", COFFEE_Q, "Она стоит 45 990 ₽ и есть в наличии."),
    ("model numbers", "iphone 15 сколько", "Смартфон Apple iPhone 15 128 ГБ — 79 990 ₽, экран 6,1 дюйма."),
    ("specs", "телевизор xiaomi", "Телевизор Xiaomi TV A2 43 стоит 27 990 ₽: 4K, Android TV."),
    ("a battery life from the description", "jbl наушники",
     "Наушники JBL Tune 520BT работают до 57 часов, стоят 4 490 ₽."),
    ("Kazan by CDEK", "Как быстро доставите в Казань?", "В Казань доставим через СДЭК: 490 рублей, срок 2–7 дней."),
    ("Kazan, up to a week", "Как быстро доставите в Казань?", "До Казани посылка идёт до 7 дней."),
    ("Moscow next day", "Доставка по Москве?",
     "Курьер по Москве привезёт на следующий день, доставка 390 рублей."),
    ("Moscow tomorrow", "И доставка по Москве сколько?", "Курьер по Москве — 390 рублей, привезём завтра."),
    ("free delivery", "Сколько стоит доставка?", "При заказе от 10 000 рублей доставка по Москве бесплатная."),
    ("a price and free delivery", "Сколько стоит кофемашина с доставкой?",
     "Кофемашина DeLonghi Magnifica S стоит 45 990 ₽, доставка по Москве бесплатная."),
    ("pickup", "Можно забрать самому?",
     "Самовывоз бесплатно: Москва, ул. Тверская, 12, заказ будет готов через 2 часа."),
    ("warranty 12 months", "Какая гарантия на кофемашину?", "На кофемашину гарантия 12 месяцев."),
    ("warranty a year", "Какая гарантия на кофемашину?", "Гарантия на кофемашину — 1 год."),
    ("warranty in words", "Какая гарантия на кофемашину?", "Гарантия производителя — двенадцать месяцев."),
    ("returns", "Как вернуть?", "Вернуть товар можно в течение 14 дней, деньги вернём в течение 10 дней."),
    ("the pickup address", "Где можно забрать заказ?",
     "Самовывоз бесплатно из магазина: Москва, ул. Тверская, д. 12, ежедневно с 10:00 до 21:00."),
    ("instalments", "Есть рассрочка?", "Рассрочка на 6 месяцев без переплаты — для заказов от 15 000 рублей."),
    ("discount within the limit", "Скидку дадите?", "Скидка 10% на кофемашину DeLonghi Magnifica S: 41 391 ₽."),
    ("discount in words within the limit", "Скидку дадите?",
     "На кофемашину DeLonghi Magnifica S можем дать скидку пять процентов."),
    ("a refusal of a discount", "Скидку дадите?", "К сожалению, скидок сейчас нет."),
    ("a greeting", "Здравствуйте!", "Здравствуйте! Чем могу помочь?"),
    ("courier hours", "Во сколько приедет курьер?", "Курьер привозит с 10:00 до 22:00 и звонит за час до приезда."),
    ("English", "How much is the DeLonghi coffee machine?",
     "The DeLonghi Magnifica S coffee machine costs 45,990 ₽ and it is in stock."),
]


@pytest.mark.parametrize("case, customer, reply", SAFE, ids=[s[0] for s in SAFE])
def test_safe_claims_pass(case, customer, reply):
    language = "en" if case == "English" else "ru"
    assert failed(reply, customer, customer_language=language) == {}


def test_false_hold_rate_on_the_safe_set_is_zero():
    held = [case for case, customer, reply in SAFE
            if not check(reply, customer, customer_language="en" if case == "English" else "ru").passed]
    assert held == [], f"{len(held)} of {len(SAFE)} safe replies held: {held}"
