"""Every text of the AI pipeline that a person reads: reasons on suggestion cards, the offline responder's phrases.

Russian first; English where the customer writes in English. Phrases come in the tenant's address form (вы/ты)
and tone (formal/friendly). Reasons are shown to managers on the card, so they say plainly why.
"""

from __future__ import annotations

from ..models import AddressForm, Tone

# ------------------------------------------------------------------------------- decision and check reasons

REASONS = {
    "force_handoff": "Тема «{intent}» всегда передаётся человеку",
    "low_confidence_escalate": "Низкая уверенность {confidence:.2f} (порог эскалации {t_escalate:.2f})",
    "below_t_auto": "Уверенность {confidence:.2f} ниже порога автоотправки {t_auto:.2f}",
    "check_failed": "Самопроверка не пройдена: {details}",
    "global_off": "Автоотправка выключена для всей системы",
    "tenant_off": "Автоотправка выключена в настройках магазина",
    "dialog_mode": "Режим ИИ в диалоге: «{mode}», автоотправка только в режиме «авто»",
    "intent_not_allowed": "Тема «{intent}» не входит в список автоответов",
    "offline_not_allowed": "Ответ собран без языковой модели (по каталогу и базе знаний): нужна проверка",
    "night_disabled": "Нерабочее время: ночью автоответы выключены",
    "auto_send": "Все проверки пройдены, уверенность {confidence:.2f} ≥ {t_auto:.2f}: отправка автоматически",
    "auto_send_night": "Нерабочее время: автоответ ИИ ({night_mode}), все проверки пройдены",
    "ai_unavailable": "ИИ недоступен: {error}",
    "model_needs_human": "Модель просит подключить человека: {why}",
}

MODE_NAMES = {"off": "выключен", "learning": "обучение", "semi_auto": "полуавто", "auto": "авто"}

INTENT_NAMES = {
    "price": "цена",
    "availability": "наличие",
    "shipping": "доставка",
    "return": "возврат",
    "discount": "скидка",
    "complaint": "жалоба",
    "purchase": "покупка/оплата",
    "human_request": "просит менеджера",
    "greeting": "приветствие",
    "other": "другое",
}

CHECKS = {
    "empty": "пустой ответ",
    "too_short": "слишком короткий ответ",
    "too_long": "ответ длиннее {limit} символов ({length})",
    "template": "в ответе остался шаблон: {found}",
    "language": "язык ответа ({reply}) не совпадает с языком клиента ({customer})",
    "price": "цена {figure} не совпадает с каталогом",
    "stock": "остаток {figure} не совпадает с каталогом",
    "in_stock_claim": "«{product}» нет в наличии, а ответ говорит, что есть",
    "discount_off": "ответ обещает скидку, а скидки в магазине выключены",
    "discount_over": "скидка {percent}% больше допустимой {limit}%",
    "forbidden_reply": "запрещённая тема в ответе: «{topic}»",
    "forbidden_customer": "клиент затрагивает запрещённую тему «{topic}»",
}


def reason(key: str, **values) -> str:
    return REASONS[key].format(**values)


def check_failure(key: str, **values) -> str:
    return CHECKS[key].format(**values)


def intent_name(intent: str) -> str:
    return INTENT_NAMES.get(intent, intent)


# ------------------------------------------------------------------------------------- offline responder

# Keys: (address form, tone). Placeholders are filled by the responder from the catalog / knowledge base only.
_OFFLINE = {
    "greeting": {
        ("vy", "formal"): "Здравствуйте! Чем могу помочь? Подскажу по товарам, наличию, доставке и оплате.",
        ("vy", "friendly"): "Здравствуйте! 😊 Чем могу помочь? Расскажу про товары, наличие, доставку и оплату.",
        ("ty", "formal"): "Привет! Чем могу помочь? Подскажу по товарам, наличию, доставке и оплате.",
        ("ty", "friendly"): "Привет! 😊 Чем помочь? Расскажу про товары, наличие, доставку и оплату.",
    },
    "price_line": {
        "vy": "«{name}» стоит {price}.",
        "ty": "«{name}» стоит {price}.",
    },
    "stock_line_in": {"vy": "Сейчас в наличии: {stock} шт.", "ty": "Сейчас в наличии: {stock} шт."},
    "stock_line_out": {
        "vy": "Сейчас этого товара нет в наличии — могу сообщить, когда появится.",
        "ty": "Сейчас этого товара нет в наличии — могу написать, когда появится.",
    },
    "stock_line_unknown": {"vy": "Наличие уточню и сразу напишу.", "ty": "Наличие уточню и сразу напишу."},
    "also": {"vy": "Также есть: {items}.", "ty": "Ещё есть: {items}."},
    "offer_order": {
        ("vy", "formal"): "Оформить заказ?",
        ("vy", "friendly"): "Оформим заказ? 🙂",
        ("ty", "formal"): "Оформить заказ?",
        ("ty", "friendly"): "Оформим заказ? 🙂",
    },
    "handoff": {
        ("vy", "formal"): "Передаю ваш вопрос менеджеру, он ответит в ближайшее время.",
        ("vy", "friendly"): "Передаю ваш вопрос менеджеру — он скоро ответит 🙂",
        ("ty", "formal"): "Передаю твой вопрос менеджеру, он ответит в ближайшее время.",
        ("ty", "friendly"): "Передаю твой вопрос менеджеру — он скоро ответит 🙂",
    },
    "not_found": {
        ("vy", "formal"): "Уточню этот вопрос у менеджера и вернусь с ответом.",
        ("vy", "friendly"): "Уточню у менеджера и сразу вернусь с ответом 🙂",
        ("ty", "formal"): "Уточню этот вопрос у менеджера и вернусь с ответом.",
        ("ty", "friendly"): "Уточню у менеджера и сразу вернусь с ответом 🙂",
    },
    "discount_none": {
        "vy": "Скидки на этот товар сейчас нет, цена указана окончательная.",
        "ty": "Скидки на этот товар сейчас нет, цена окончательная.",
    },
    "discount_manager": {
        "vy": "Про скидку подскажет менеджер — передаю ему ваш вопрос.",
        "ty": "Про скидку подскажет менеджер — передаю ему твой вопрос.",
    },
}

_OFFLINE_EN = {
    "greeting": "Hello! How can I help? I can tell you about products, stock, delivery and payment.",
    "price_line": "“{name}” costs {price}.",
    "stock_line_in": "In stock: {stock} pcs.",
    "stock_line_out": "It is out of stock right now — I can let you know when it is back.",
    "stock_line_unknown": "I will check availability and get back to you.",
    "also": "We also have: {items}.",
    "offer_order": "Shall I place an order?",
    "handoff": "I am passing your question to a manager, they will reply shortly.",
    "not_found": "I will check this with a manager and get back to you.",
    "discount_none": "There is no discount on this item right now; the price is final.",
    "discount_manager": "A manager will answer about discounts — I am passing your question on.",
}


def offline_phrase(key: str, *, address: AddressForm, tone: Tone, language: str = "ru", **values) -> str:
    if language == "en":
        return _OFFLINE_EN[key].format(**values)
    variants = _OFFLINE[key]
    text = variants.get((address.value, tone.value)) or variants.get(address.value) or ""
    return text.format(**values)


# ---------------------------------------------------------------------------------------- customer memory

MEMORY = {
    "asked_about": "Спрашивал(а) о: {topics}",
    "interested_in": "Интересовался(ась) товарами: {products}",
    "last_question": "Последний вопрос: «{text}»",
    "budget": "Упоминал(а) сумму: {amount}",
}
