"""Intent of a customer message: the LLM with structured output when configured, a local keyword classifier
otherwise (and whenever the LLM is unavailable), so routing rules (force handoff, autosend allow-list, few-shot
selection) always have an intent to work with."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..models import Intent
from ..ports import LLM, ChatResult
from .prompting import render
from .providers import AIUnavailable
from .textutil import normalize, words

log = logging.getLogger(__name__)

INTENTS = [i.value for i in Intent]

INTENT_SCHEMA = {
    "name": "intent",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {
            "intent": {"type": "string", "enum": INTENTS},
            "confidence": {"type": "number"},
        },
        "required": ["intent", "confidence"],
        "additionalProperties": False,
    },
}

# Word prefixes (one word) or phrases (several words, matched as a substring of the normalised text).
# The order is the tie-break: a person asking for a human or complaining outranks everything else.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "human_request": ("менеджер", "оператор", "человек", "живой", "позовите", "позови", "соедините", "manager",
                      "operator", "human", "real person"),
    "complaint": ("жалоб", "ужас", "безобраз", "обман", "недовол", "плохо", "брак", "сломал", "разбит",
                  "не работает", "претензи", "кошмар", "отвратител", "complaint", "broken", "terrible", "awful"),
    "return": ("возврат", "вернуть", "верните", "верну", "обмен", "обменять", "return", "refund", "exchange"),
    "discount": ("скидк", "скидоч", "дешевле", "промокод", "уступите", "торг", "discount", "promo", "cheaper"),
    "shipping": ("доставк", "доставл", "достав", "отправ", "курьер", "самовывоз", "пункт выдачи", "сдэк", "cdek",
                 "почтой", "почта", "почту", "когда придет", "когда привез", "shipping", "delivery", "deliver", "courier"),
    "price": ("сколько стоит", "сколько стоят", "цена", "цену", "цены", "ценник", "стоимост", "почем", "прайс",
              "price", "cost", "how much"),
    "availability": ("наличи", "есть ли", "есть?", "остал", "склад", "появится", "закончил", "available",
                     "in stock", "stock"),
    "purchase": ("купить", "куплю", "покупк", "беру", "возьму", "оформ", "заказ", "оплат", "оплач", "счет",
                 "реквизит", "перевод", "buy", "order", "pay", "payment", "checkout", "purchase"),
    "greeting": ("привет", "здравствуй", "добрый день", "добрый вечер", "доброе утро", "добрый", "hello", "hi",
                 "hey", "good morning"),
}
_PRIORITY = list(KEYWORDS)


@dataclass(frozen=True)
class IntentResult:
    intent: str
    confidence: float
    source: str  # "llm" | "local"
    chat: ChatResult | None = None  # the LLM call, for spend
    error: str | None = None  # why the LLM was not used, if it failed


def classify_local(text: str) -> IntentResult:
    norm = normalize(text)
    tokens = words(text)
    scores: dict[str, int] = {}
    for intent, keys in KEYWORDS.items():
        hits = 0
        for key in keys:
            if not key.isalnum():  # a phrase ("сколько стоит", "есть?"): matched in the text as written
                hits += norm.count(key)
            else:
                # Short keys ("hi", "pay") match whole words only, or they would fire inside other words.
                hits += sum(1 for t in tokens if (t == key if len(key) <= 3 else t.startswith(key)))
        if hits:
            scores[intent] = hits
    # A greeting followed by a question is about the question.
    if "greeting" in scores and len(scores) > 1:
        del scores["greeting"]
    if not scores:
        return IntentResult(Intent.OTHER.value, 0.3, "local")
    best = max(scores, key=lambda i: (scores[i], -_PRIORITY.index(i)))
    runner_up = max((v for k, v in scores.items() if k != best), default=0)
    confidence = min(0.8, 0.55 + 0.1 * (scores[best] - runner_up))
    return IntentResult(best, round(confidence, 2), "local")


async def classify(llm: LLM | None, text: str, recent: list[dict]) -> IntentResult:
    """`recent` is the dialog tail as chat messages ({"role", "content"}), oldest first, ending with `text`."""
    if llm is None:
        return classify_local(text)
    messages = [{"role": "system", "content": render("intent.j2", intents=INTENTS)}, *recent[-6:]]
    if not recent or recent[-1].get("content") != text:
        messages.append({"role": "user", "content": text})
    try:
        chat = await llm.chat(messages, schema=INTENT_SCHEMA, temperature=0.0)
    except AIUnavailable as exc:
        local = classify_local(text)
        return IntentResult(local.intent, local.confidence, "local", error=exc.reason)
    parsed = chat.parsed or {}
    intent = parsed.get("intent")
    if intent not in INTENTS:
        local = classify_local(text)
        return IntentResult(local.intent, local.confidence, "local", chat=chat,
                            error=f"the model answered an unknown intent {intent!r}")
    confidence = _clamp(parsed.get("confidence"))
    return IntentResult(intent, confidence, "llm", chat=chat)


def _clamp(value) -> float:
    try:
        return max(0.0, min(1.0, float(value)))
    except (TypeError, ValueError):
        return 0.0
