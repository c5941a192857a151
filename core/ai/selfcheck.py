"""The self-check a reply must pass before it may ever leave automatically.

Every price and stock figure must be one the catalog (or the retrieved knowledge) states; no discount beyond the
tenant's maximum (none at all when discounts are off); no forbidden topic; the customer's language; not empty, no
template leftovers, within length bounds. Each rule reports ok + details; a failure carries a reason for the card.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from . import texts
from .retrieval import ProductFact, name_match
from .textutil import AMOUNT, detect_language, format_amount, parse_amount, stem, words

MIN_REPLY_CHARS = 2
# A chat reply longer than this is a wall of text: a person should look at it first.
MAX_REPLY_CHARS = 1500

_CURRENCY_AFTER = r"(?:₽|руб(?:\.|лей|ля|ль|\b)|р\.|р\b|rub\b|rubles?\b|\$|usd\b|€|eur\b|евро\b|долл\w*|dollars?\b|₸|тенге)"
_CURRENCY_BEFORE = r"(?:\$|€|₽|USD|RUB|EUR)"
_NOT_A_PRICE_UNIT = r"(?!\s*(?:%|процент|шт|штук|дн|день|дня|дней|час|мин|сек|лет|год|мес|недел|км|кг|г\b|м\b|см|мм|гб|gb|" \
                    r"тб|tb|мп|mp|вт|w\b|мач|mah|дюйм|\"|''|x\b|х\b))"
_PRICE_WORDS = r"(?:стоит|стоят|стоимость\w*|цена\w*|ценой|по цене|обойд\w+\s+в|будет|price(?:\s+is)?|costs?)"

PRICE_PATTERNS = [
    re.compile(rf"({AMOUNT})\s*{_CURRENCY_AFTER}", re.IGNORECASE),
    re.compile(rf"{_CURRENCY_BEFORE}\s*({AMOUNT})", re.IGNORECASE),
    re.compile(rf"{_PRICE_WORDS}\s*[:—–-]?\s*(?:всего\s+|лишь\s+|только\s+|от\s+)?({AMOUNT}){_NOT_A_PRICE_UNIT}",
               re.IGNORECASE),
]
STOCK_PATTERNS = [
    re.compile(r"(\d+)\s*(?:шт\b|шт\.|штук\w*|единиц\w*|pcs\b|pieces\b|units?\b)", re.IGNORECASE),
    re.compile(r"(?:в наличии|остал\w*|на складе|in stock)\s*[:—–-]?\s*(?:всего\s+|только\s+|ещё\s+|еще\s+)?(\d+)"
               r"(?!\s*(?:%|₽|руб|р\.|\$|€|\d))", re.IGNORECASE),
]
PERCENT_RE = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:%|процент\w*|percent)", re.IGNORECASE)
MINUS_PERCENT_RE = re.compile(r"[-−–]\s?(\d+(?:[.,]\d+)?)\s*%")
DISCOUNT_WORDS = re.compile(r"скид|дисконт|промокод|уценк|дешевле|уступ|discount|promo|coupon|% off|sale\b", re.IGNORECASE)
NEGATION = re.compile(r"\b(?:нет|не|без|никаких|no|not|cannot|can't|unfortunately|к сожалению)\b", re.IGNORECASE)
IN_STOCK_CLAIM = re.compile(r"(?:есть\s+в\s+наличии|в\s+наличии|на\s+складе|in\s+stock|available)", re.IGNORECASE)
OUT_OF_STOCK = re.compile(r"(?:нет\s+в\s+наличии|не\s+в\s+наличии|закончил|out\s+of\s+stock|not\s+available|нет\s+на\s+складе)",
                          re.IGNORECASE)
TEMPLATE_PATTERNS = [
    re.compile(r"\{\{.*?\}\}|\{\{|\}\}|\{%|%\}|\$\{[^}]*\}"),
    re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}"),  # {name}
    re.compile(r"\[[^\]\n]{1,40}\](?!\()"),  # [Имя клиента], [name], [sandbox]; markdown links [text](url) are fine
    re.compile(r"<(?:name|имя|product|товар|price|цена)>", re.IGNORECASE),
    re.compile(r"%s|%\(\w+\)s"),
    re.compile(r"\b(?:lorem ipsum|XXX)\b", re.IGNORECASE),
]
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…\n])\s+")


@dataclass
class CheckFacts:
    """What the reply is checked against: the catalog products in play and the knowledge text retrieved."""

    products: list[ProductFact]
    knowledge_texts: list[str]
    allow_discounts: bool
    max_discount_percent: int
    forbidden_topics: list[str]
    customer_text: str
    customer_language: str | None


@dataclass
class CheckReport:
    checks: dict[str, dict] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def add(self, name: str, problems: list[str], **info) -> None:
        self.checks[name] = {"ok": not problems, "problems": problems, **info}
        self.failures.extend(problems)


def _figures(text_: str, patterns: list[re.Pattern]) -> list[tuple[str, Decimal]]:
    found: list[tuple[str, Decimal]] = []
    taken: list[tuple[int, int]] = []
    for pattern in patterns:
        for match in pattern.finditer(text_):
            span = match.span(1)
            if any(a <= span[0] < b for a, b in taken):
                continue
            value = parse_amount(match.group(1))
            if value is not None:
                taken.append(span)
                found.append((match.group(1).strip(), value))
    return found


def price_figures(text_: str) -> list[tuple[str, Decimal]]:
    return _figures(text_, PRICE_PATTERNS)


def stock_figures(text_: str) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    taken: set[int] = set()
    for pattern in STOCK_PATTERNS:
        for match in pattern.finditer(text_):
            if match.start(1) in taken:
                continue
            taken.add(match.start(1))
            found.append((match.group(0).strip(), int(match.group(1))))
    return found


def products_named(text_: str, products: list[ProductFact]) -> list[ProductFact]:
    """The products a text names best (most name words in common); several when they tie ("наушники")."""
    stems_ = {stem(w) for w in words(text_)}
    scored = [(name_match(stems_, p.name)[0], p) for p in products]
    best = max((score for score, _ in scored), default=0.0)
    return [p for score, p in scored if score > 0 and score == best]


def _sentences(text_: str) -> list[str]:
    return [s for s in _SENTENCE_SPLIT.split(text_) if s.strip()]


def _topic_present(topic: str, text_stems: list[str]) -> bool:
    topic_stems = [stem(w) for w in words(topic) if len(w) >= 3]
    if not topic_stems:
        return False
    return all(any(s == t or (len(t) >= 4 and s.startswith(t)) for s in text_stems) for t in topic_stems)


def check_reply(reply: str, facts: CheckFacts) -> CheckReport:
    report = CheckReport()
    stripped = reply.strip()

    # Not empty, length bounds.
    if not stripped:
        report.add("not_empty", [texts.check_failure("empty")])
    else:
        report.add("not_empty", [])
    length_problems = []
    if stripped and len(stripped) < MIN_REPLY_CHARS:
        length_problems.append(texts.check_failure("too_short"))
    if len(stripped) > MAX_REPLY_CHARS:
        length_problems.append(texts.check_failure("too_long", limit=MAX_REPLY_CHARS, length=len(stripped)))
    report.add("length", length_problems, length=len(stripped))

    # Template leftovers.
    leftovers = []
    for pattern in TEMPLATE_PATTERNS:
        leftovers.extend(m.group(0) for m in pattern.finditer(stripped))
    report.add("template", [texts.check_failure("template", found=", ".join(dict.fromkeys(leftovers)))]
               if leftovers else [])

    # Language.
    reply_language = detect_language(stripped)
    language_problems = []
    if reply_language and facts.customer_language and reply_language != facts.customer_language:
        language_problems.append(texts.check_failure("language", reply=reply_language,
                                                     customer=facts.customer_language))
    report.add("language", language_problems, reply=reply_language, customer=facts.customer_language)

    # Prices and stock are checked against the product they are about: the products the sentence names, else the
    # last product named before it, else the products the customer asked about, else every product in play.
    # The knowledge figures retrieved (a delivery fee) are allowed anywhere. The customer's own figures are not:
    # "sell it for 100?" — "ok, 100 ₽" must fail.
    knowledge_prices = {value for t in facts.knowledge_texts for _, value in price_figures(t)}
    context = products_named(facts.customer_text, facts.products) or list(facts.products)
    price_problems: list[str] = []
    stock_problems: list[str] = []
    for sentence in _sentences(stripped):
        named = products_named(sentence, facts.products)
        if named:
            context = named
        allowed_prices = knowledge_prices | {p.price for p in context} | {v for p in context for v in p.variant_prices}
        price_problems += [texts.check_failure("price", figure=raw) for raw, value in price_figures(sentence)
                           if value not in allowed_prices]
        allowed_stock = {p.stock for p in context if p.stock is not None}
        stock_problems += [texts.check_failure("stock", figure=raw) for raw, value in stock_figures(sentence)
                           if value not in allowed_stock]
        if IN_STOCK_CLAIM.search(sentence) and not OUT_OF_STOCK.search(sentence):
            stock_problems += [texts.check_failure("in_stock_claim", product=p.name) for p in named if p.stock == 0]
    report.add("prices", price_problems)
    report.add("stock", stock_problems)

    # Discounts.
    discount_problems = []
    for sentence in _sentences(stripped):
        percents = [Decimal(p.replace(",", ".")) for p in MINUS_PERCENT_RE.findall(sentence)]
        mentions_discount = bool(DISCOUNT_WORDS.search(sentence)) or bool(percents)
        if not mentions_discount:
            continue
        if DISCOUNT_WORDS.search(sentence):
            percents += [Decimal(p.replace(",", ".")) for p in PERCENT_RE.findall(sentence)]
        negated = bool(NEGATION.search(sentence)) and not percents
        if not facts.allow_discounts and not negated:
            discount_problems.append(texts.check_failure("discount_off"))
        elif facts.allow_discounts:
            discount_problems.extend(
                texts.check_failure("discount_over", percent=format_amount(p), limit=facts.max_discount_percent)
                for p in percents if p > facts.max_discount_percent
            )
    report.add("discount", list(dict.fromkeys(discount_problems)))

    # Forbidden topics, in the reply and in what the customer asked.
    reply_stems = [stem(w) for w in words(stripped)]
    customer_stems = [stem(w) for w in words(facts.customer_text)]
    topic_problems = []
    for topic in facts.forbidden_topics:
        if _topic_present(topic, reply_stems):
            topic_problems.append(texts.check_failure("forbidden_reply", topic=topic))
        elif _topic_present(topic, customer_stems):
            topic_problems.append(texts.check_failure("forbidden_customer", topic=topic))
    report.add("forbidden_topics", topic_problems)
    return report
