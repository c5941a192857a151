"""Intent of a customer message: the LLM with structured output when configured, a local keyword classifier
otherwise (and whenever the LLM is unavailable), so routing rules (force handoff, autosend allow-list, few-shot
selection) always have an intent to work with."""

from __future__ import annotations

import logging
import re
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

# Word prefixes (one word) or phrases (several words or punctuation, matched as a substring of the normalised text).
# The order is the tie-break: a person asking for a human or complaining outranks everything else, a question about
# an order's whereabouts outranks delivery in general, delivery time outranks delivery, and delivery outranks price
# («Сколько стоит доставка?» is about delivery).
KEYWORDS: dict[str, tuple[str, ...]] = {
    "human_request": ("менеджер", "оператор", "человек", "живой", "позовите", "позови", "соедините", "manager",
                      "operator", "human", "real person"),
    "complaint": ("жалоб", "ужас", "безобраз", "обман", "недовол", "плохо", "брак", "сломал", "разбит",
                  "не работает", "претензи", "кошмар", "отвратител", "хамств", "нахам", "хамит", "нагруб", "бешенств", "complaint", "broken",
                  "terrible", "awful"),
    "order_status": ("где мой заказ", "где заказ", "мой заказ", "статус заказа", "статус", "трек", "отследить",
                     "отслеж", "номер заказа", "заказ №", "заказ номер", "уже отправили", "когда отправите",
                     "еще не пришел", "до сих пор не", "не пришел", "order status", "my order", "tracking"),
    "return": ("возврат", "вернуть", "верните", "верну", "обмен", "обменять", "не подош", "царапин", "сколы", "сколом", "сколот",
               "трещин", "поврежд", "неисправ", "дефект", "вмятин", "return", "refund", "exchange", "damaged",
               "scratch", "defect"),
    "warranty": ("гарант", "warranty", "guarantee"),
    "discount": ("скидк", "скидоч", "дешевле", "промокод", "уступите", "торг", "акци", "discount", "promo",
                 "cheaper"),
    "delivery_time": ("как быстро", "как скоро", "сколько дней", "сколько идет", "сколько ехать", "срок",
                      "когда привез", "когда доставит", "когда достав", "когда придет", "за сколько", "быстро",
                      "завтра", "сегодня", "how long", "how fast", "how soon"),
    "shipping": ("доставк", "доставл", "достав", "отправ", "курьер", "самовывоз", "пункт выдачи", "сдэк", "cdek",
                 "почтой", "почта", "почту", "привез", "shipping", "delivery", "deliver", "courier"),
    "payment": ("оплат", "оплач", "картой", "карту", "наличн", "налом", "сбп", "рассрочк", "кредит", "счет",
                "реквизит", "перевод", "сплит", "долями", "pay", "payment", "card", "cash", "installment"),
    "price": ("сколько стоит", "сколько стоят", "сколько будет стоить", "цена", "цену", "цены", "ценник",
              "стоимост", "почем", "по чем", "прайс", "price", "cost", "how much"),
    "availability": ("наличи", "есть ли", "есть?", "остал", "склад", "появится", "закончил", "под заказ",
                     "available", "in stock", "stock"),
    "purchase": ("купить", "куплю", "покупк", "беру", "возьму", "оформ", "заказ", "buy", "order", "checkout",
                 "purchase"),
    "greeting": ("привет", "здравствуй", "добрый день", "добрый вечер", "доброе утро", "добрый", "hello", "hi",
                 "hey", "good morning"),
}
_PRIORITY = list(KEYWORDS)
# Intents that stay first whatever a tenant adds: a person asked for, a complaint.
_HANDOFF_FIRST = ("human_request", "complaint")
CUSTOM_INTENT_NAME = re.compile(r"[a-z][a-z0-9_]{1,23}")


@dataclass(frozen=True)
class IntentResult:
    intent: str
    confidence: float
    source: str  # "llm" | "local"
    chat: ChatResult | None = None  # the LLM call, for spend
    error: str | None = None  # why the LLM was not used, if it failed


def tenant_intents(tenant) -> dict[str, tuple[str, ...]]:
    """A tenant's own intents: Tenant.extra["intents"] = {"installation": ["установк", "монтаж"], ...} — a name
    (lower-case latin, digits, underscores, ≤ 24) and the words or phrases that mean it. Built-in names and
    malformed entries are ignored."""
    raw = ((getattr(tenant, "extra", None) or {}).get("intents") or {}) if tenant is not None else {}
    out: dict[str, tuple[str, ...]] = {}
    if not isinstance(raw, dict):
        return out
    for name, keys in raw.items():
        if not isinstance(name, str) or not CUSTOM_INTENT_NAME.fullmatch(name) or name in INTENTS:
            continue
        if isinstance(keys, str):
            keys = [keys]
        cleaned = tuple(dict.fromkeys(normalize(k).strip() for k in keys or [] if isinstance(k, str) and k.strip()))
        if cleaned:
            out[name] = cleaned
    return out


def all_intents(custom: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    return INTENTS + [name for name in (custom or {}) if name not in INTENTS]


def _hits(keys: tuple[str, ...], norm: str, tokens: list[str]) -> int:
    """Phrases ("сколько стоит", "есть?") as often as the text has them; words once each, however many keys they
    match («доставка» is one hit, not one for «доставк» and one for «достав»)."""
    hits = sum(norm.count(key) for key in keys if not key.isalnum())
    words_ = [key for key in keys if key.isalnum()]
    # Short keys ("hi", "pay") match whole words only, or they would fire inside other words.
    hits += sum(1 for t in tokens if any(t == key if len(key) <= 3 else t.startswith(key) for key in words_))
    return hits


def classify_local(text: str, custom: dict[str, tuple[str, ...]] | None = None) -> IntentResult:
    """Keyword scores per intent; the most hits wins, ties go by KEYWORDS' order. A tenant's own intents (`custom`)
    rank right after a request for a person and a complaint."""
    norm = normalize(text)
    tokens = words(text)
    table = dict(KEYWORDS)
    priority = list(_PRIORITY)
    for name, keys in reversed(list((custom or {}).items())):
        if name not in table:
            table[name] = keys
            priority.insert(len(_HANDOFF_FIRST), name)
    scores: dict[str, int] = {}
    for intent, keys in table.items():
        hits = _hits(keys, norm, tokens)
        if hits:
            scores[intent] = hits
    # A greeting followed by a question is about the question.
    if "greeting" in scores and len(scores) > 1:
        del scores["greeting"]
    # «Когда привезёте?» is about delivery even without the word; «быстро» alone («быстро ответьте») is not.
    if "delivery_time" in scores and "shipping" not in scores and not re.search(
            r"привез|достав|придет|приедет|получ|ехать|идет|отправ|how long|how soon|arriv|deliver", norm):
        del scores["delivery_time"]
    if not scores:
        return IntentResult(Intent.OTHER.value, 0.3, "local")
    best = max(scores, key=lambda i: (scores[i], -priority.index(i)))
    runner_up = max((v for k, v in scores.items() if k != best), default=0)
    confidence = min(0.8, 0.55 + 0.1 * (scores[best] - runner_up))
    return IntentResult(best, round(confidence, 2), "local")


def intent_schema(intents: list[str]) -> dict:
    if intents == INTENTS:
        return INTENT_SCHEMA
    schema = {**INTENT_SCHEMA["schema"], "properties": {**INTENT_SCHEMA["schema"]["properties"],
                                                         "intent": {"type": "string", "enum": intents}}}
    return {**INTENT_SCHEMA, "schema": schema}


async def classify(llm: LLM | None, text: str, recent: list[dict], *,
                   custom: dict[str, tuple[str, ...]] | None = None) -> IntentResult:
    """`recent` is the dialog tail as chat messages ({"role", "content"}), oldest first, ending with `text`.
    `custom` is the tenant's own intents (tenant_intents(tenant)): the model may answer them too."""
    if llm is None:
        return classify_local(text, custom)
    intents = all_intents(custom)
    system = render("intent.j2", intents=intents, custom=[{"name": n, "words": ", ".join(k)}
                                                          for n, k in (custom or {}).items()])
    messages = [{"role": "system", "content": system}, *recent[-6:]]
    if not recent or recent[-1].get("content") != text:
        messages.append({"role": "user", "content": text})
    try:
        chat = await llm.chat(messages, schema=intent_schema(intents), temperature=0.0)
    except AIUnavailable as exc:
        local = classify_local(text, custom)
        return IntentResult(local.intent, local.confidence, "local", error=exc.reason)
    parsed = chat.parsed or {}
    intent = parsed.get("intent")
    if intent not in intents:
        local = classify_local(text, custom)
        return IntentResult(local.intent, local.confidence, "local", chat=chat,
                            error=f"the model answered an unknown intent {intent!r}")
    confidence = _clamp(parsed.get("confidence"))
    return IntentResult(intent, confidence, "llm", chat=chat)


def _clamp(value) -> float:
    try:
        return max(0.0, min(1.0, float(value)))
    except (TypeError, ValueError):
        return 0.0


# ---------------------------------------------------------------------------------------- a tenant's own intents

MAX_TENANT_INTENTS = 30
MAX_INTENT_WORDS = 30


async def set_tenant_intent(session, tenant_id: int, name: str, words_: list[str], *,
                            actor_staff_id: int | None = None) -> dict[str, tuple[str, ...]]:
    """Define (or redefine) one of the tenant's own intents: its name and the words or phrases that mean it. Recorded
    as an "intents_changed" event. Never commits. Returns the tenant's intents after the change."""
    from .. import events
    from ..errors import UserError
    from ..models import Tenant

    name = name.strip().lower().replace("-", "_")
    if not CUSTOM_INTENT_NAME.fullmatch(name) or name in INTENTS:
        raise UserError(f"an intent name is 2–24 latin letters, digits or _ and not a built-in one: {name}",
                        code="ai.intents.bad-name", name=name)
    cleaned = list(dict.fromkeys(normalize(w).strip() for w in words_ if w.strip()))
    if not cleaned or len(cleaned) > MAX_INTENT_WORDS:
        raise UserError(f"an intent needs 1–{MAX_INTENT_WORDS} words", code="ai.intents.bad-words",
                        max=MAX_INTENT_WORDS)
    tenant = await session.get(Tenant, tenant_id, with_for_update=True)
    current = {k: list(v) for k, v in tenant_intents(tenant).items()}
    if name not in current and len(current) >= MAX_TENANT_INTENTS:
        raise UserError(f"at most {MAX_TENANT_INTENTS} intents", code="ai.intents.too-many", max=MAX_TENANT_INTENTS)
    old = current.get(name)
    current[name] = cleaned
    tenant.extra = {**(tenant.extra or {}), "intents": current}
    events.record(session, "intents_changed", tenant_id=tenant_id, actor_staff_id=actor_staff_id, intent=name,
                  old=old, new=cleaned)
    return tenant_intents(tenant)


async def remove_tenant_intent(session, tenant_id: int, name: str, *,
                               actor_staff_id: int | None = None) -> dict[str, tuple[str, ...]]:
    from .. import events
    from ..errors import UserError
    from ..models import Tenant

    tenant = await session.get(Tenant, tenant_id, with_for_update=True)
    current = {k: list(v) for k, v in tenant_intents(tenant).items()}
    if name not in current:
        raise UserError(f"no intent {name}", code="ai.intents.unknown", name=name)
    old = current.pop(name)
    tenant.extra = {**(tenant.extra or {}), "intents": current}
    events.record(session, "intents_changed", tenant_id=tenant_id, actor_staff_id=actor_staff_id, intent=name,
                  old=old, new=None)
    return tenant_intents(tenant)
