"""The deterministic handoff detector: requests for a person, legal words, threats, refund demands and payment
disputes in their Russian word forms and in English; everyday questions that share words with them stay out.
And the decision engine escalates on it whatever the intent says."""

from __future__ import annotations

import pytest

from core.ai import decision as engine
from core.ai.handoff import CHARGEBACK, HUMAN, LEGAL, REFUND, THREAT, detect, reason
from core.models import Decision

HUMAN_REQUESTS = [
    "Позовите менеджера", "позови менеджера!", "Позовите, пожалуйста, живого человека", "Позовите человека",
    "позвать менеджера можно?", "Соедините с оператором", "соедините меня с менеджером", "Переключите на оператора",
    "переключите на живого оператора", "Хочу поговорить с человеком", "хочу пообщаться с живым человеком",
    "Можно с менеджером пообщаться?", "Дайте менеджера!", "дайте мне живого человека", "Нужен живой человек",
    "нужен оператор", "где ваш менеджер?", "Менеджеру передайте", "передайте менеджеру", "Передайте администратору",
    "Свяжите меня с руководством", "свяжите с руководителем", "Хочу поговорить с начальником",
    "позовите вашего директора", "пригласите консультанта", "подключите специалиста", "позовите сотрудника",
    "с менеджером можно?", "мне нужен менеджер", "ваш менеджер обещал скидку", "оператора!", "Администратора позовите",
    "Вы бот?", "ты робот что ли", "это бот отвечает?", "не хочу общаться с ботом", "не буду говорить с роботом",
    "Перезвоните мне", "перезвоните, пожалуйста", "позвоните мне", "свяжитесь со мной",
    "I want to talk to a real person", "Get me a manager", "can I speak to someone?", "talk to a human please",
    "I need a live agent", "Are you a bot?", "call me back", "supervisor please", "customer service representative",
]
LEGAL_WORDS = [
    "подам в суд", "Подам на вас в суд!", "Увидимся в суде", "через суд", "судом решим", "буду судиться",
    "судимся", "засужу вас", "засудим", "отсужу всё", "обращусь в прокуратуру", "жалоба в прокуратуру",
    "прокурору напишу", "напишу в Роспотребнадзор", "Роспотребнадзору сообщу", "жалоба в роспотребнадзоре",
    "мой юрист с вами свяжется", "с юристом приду", "передам юристам", "юристу покажу", "адвокат уже в курсе",
    "пришлю претензию", "Претензию направлю", "претензия отправлена", "досудебная претензия",
    "по закону о защите прав потребителей", "иск подам", "исковое заявление", "заявление в полицию",
    "Обращусь в полицию", "I will sue you", "my lawyer will contact you", "see you in court",
    "consumer protection agency", "my attorney", "legal action",
]
THREATS = [
    "вы мошенники", "мошенничество!", "обманщики", "жулики", "кидалы", "вас кинули меня", "лохотрон",
    "напишу отзыв везде", "оставлю отзыв на отзовике", "расскажу всем в соцсетях", "вы пожалеете",
    "this is a scam", "you are frauds", "I will report you", "I'll leave a bad review",
]
REFUNDS = [
    "верните деньги", "Верните мне мои деньги", "верните деньги немедленно", "вернёте деньги?", "вернете деньги?",
    "хочу вернуть деньги за товар", "когда вернут деньги?", "деньги назад верните", "деньги верните",
    "верните оплату", "верните предоплату", "требую возврат денег", "требую вернуть деньги", "возврат средств когда?",
    "возврат денег за заказ", "отдайте мои деньги", "I want a refund", "give me my money back", "refund me",
]
CHARGEBACKS = [
    "сделаю чарджбэк", "чарджбек оформлю", "оспорю платёж через банк", "оспорю платеж", "отменю оплату через банк",
    "опротестую операцию", "через банк верну", "отзову платёж", "I'll file a chargeback", "dispute the charge",
    "I will dispute this payment",
]

EVERYDAY = [
    "Сколько стоит робот-пылесос?", "Это робот-пылесос с влажной уборкой?", "Это робот пылесос?",
    "Спасибо, претензий нет", "претензий не имею", "без претензий, всё отлично", "Менеджер не нужен, просто скажите цену",
    "не надо менеджера", "Как вернуть товар?", "Можно вернуть товар, если не подошёл?", "Какой срок возврата?",
    "Посуда есть?", "Судя по отзывам, хороший", "Для юридических лиц выставляете счёт?", "На 4 человек хватит?",
    "Хочу купить кофемашину", "Сколько стоит доставка в Казань?", "Кинул в корзину", "Курьер позвонит?",
    "Можно оплатить при получении?", "Какая гарантия?", "Нужен чайник для дачи", "Спасибо, всё пришло!",
    "Человек пять будет пользоваться", "Есть кофемолка для дома?", "Скидку дадите?", "Оформите заказ",
    "how much is the coffee machine?", "human hair dryer?", "Is it in stock?", "what is the return policy?",
    "Искать долго не хочу, посоветуйте", "Отправьте номер заказа", "сколько стоит суши-машина?",
]


@pytest.mark.parametrize("kind, texts_", [
    (HUMAN, HUMAN_REQUESTS), (LEGAL, LEGAL_WORDS), (THREAT, THREATS), (REFUND, REFUNDS), (CHARGEBACK, CHARGEBACKS),
], ids=["human", "legal", "threat", "refund", "chargeback"])
def test_every_form_is_caught(kind, texts_):
    missed = [text_ for text_ in texts_ if kind not in {s.kind for s in detect(text_)}]
    assert missed == []


@pytest.mark.parametrize("text_", EVERYDAY)
def test_everyday_questions_are_not_handed_off(text_):
    assert detect(text_) == []


def test_signals_quote_the_customer_and_come_once_per_kind():
    signals = detect("Позовите менеджера! Менеджера сюда! Иначе подам в суд и напишу в Роспотребнадзор.")
    assert [(s.kind, s.phrase) for s in signals] == [(HUMAN, "Позовите менеджера"), (LEGAL, "суд")]


def test_reasons_are_shown_in_the_readers_language():
    [signal] = detect("Верните деньги!")
    assert reason(signal) == "Клиент требует вернуть деньги: «Верните деньги»"
    assert reason(signal, "en") == "The customer demands their money back: “Верните деньги”"


OPEN = dict(intent="price", confidence=0.95, t_auto=0.6, t_escalate=0.2, global_autosend=True,
            tenant_autosend=True, dialog_mode="auto", intents_autosend=["price"], intents_force_handoff=[],
            offline=False, offline_autosend_allowed=False, within_hours=True, night_mode="auto_reply")


def test_the_detector_escalates_whatever_the_intent_classifier_said():
    assert engine.decide(engine.DecisionInputs(**OPEN)).decision == Decision.AUTO_SEND
    why = reason(detect("Позовите менеджера")[0])
    result = engine.decide(engine.DecisionInputs(**OPEN, handoff_reasons=[why]))
    assert result.decision == Decision.ESCALATE
    assert result.reason == "Клиент просит живого человека: «Позовите менеджера»"
    assert result.locks["handoff"] is False


def test_a_force_handoff_intent_is_still_named_first():
    why = reason(detect("Подам в суд")[0])
    result = engine.decide(engine.DecisionInputs(**{**OPEN, "intent": "complaint",
                                                    "intents_force_handoff": ["complaint"]}, handoff_reasons=[why]))
    assert result.decision == Decision.ESCALATE
    assert result.reasons[:2] == ["Тема «жалоба» всегда передаётся человеку",
                                  "Клиент говорит о суде, юристах или надзорных органах: «суд»"]
