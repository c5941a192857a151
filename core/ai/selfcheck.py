"""The self-check a reply must pass before it may ever leave automatically. It checks claims, not formats.

- Prices, in any form (core/ai/claims.py: digits with or without a currency, words, «25к»), are compared with the
  catalog price and variants of the product they are about: the product the clause or sentence names, else the one
  named last, else the ones the customer asked about. A figure of the knowledge base (a delivery fee) backs a
  clause only when the clause is about the same thing (shares a word with the knowledge sentence, for the same
  city) and is not a product's price («Кофемашина стоит 10 000 ₽» is never backed by «заказ от 10 000 рублей»).
- Discounts in any form («15%», «-10%», «пятнадцать процентов», «за полцены», «в два раза дешевле», «скидка
  5 000 ₽») against the tenant's switch and maximum; gifts («в подарок», «бесплатно») need the knowledge base.
- Delivery times, warranty and return periods are compared with the retrieved knowledge base: the same topic, the
  same city (or a page for the whole country), the same longest term. Street addresses must be the knowledge
  base's too.
- Stock figures and in-stock claims against the catalog; template leftovers in any bracket style; the customer's
  language (and no sentence in another); forbidden topics in the reply and in the customer's text; not empty,
  within length bounds.
Each rule reports ok + problems; every problem is a sentence a manager understands (legacy texts in texts.py, the
rest in core/locales/*/safety.ftl).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, lru_cache

from . import claims, texts
from .reasons import Reason
from .retrieval import ProductFact, name_match
from .textutil import content_words, detect_language, format_amount, format_price, stem, words

MIN_REPLY_CHARS = 2
# A chat reply longer than this is a wall of text: a person should look at it first.
MAX_REPLY_CHARS = 1500

STOCK_PATTERNS = [
    re.compile(r"(\d+)\s*(?:шт\b|шт\.|штук\w*|единиц\w*|pcs\b|pieces\b|units?\b)", re.IGNORECASE),
    re.compile(r"(?:в наличии|остал\w*|на складе|in stock)\s*[:—–-]?\s*(?:всего\s+|только\s+|ещё\s+|еще\s+)?(\d+)"
               r"(?!\s*(?:%|₽|руб|р\.|\$|€|\d))", re.IGNORECASE),
]
NEGATION = re.compile(r"\b(?:нет|не|без|никаких|no|not|cannot|can't|unfortunately|к сожалению)\b", re.IGNORECASE)
IN_STOCK_CLAIM = re.compile(r"(?:есть\s+в\s+наличии|в\s+наличии|на\s+складе|in\s+stock|available)", re.IGNORECASE)
OUT_OF_STOCK = re.compile(r"(?:нет\s+в\s+наличии|не\s+в\s+наличии|закончил|out\s+of\s+stock|not\s+available|нет\s+на\s+складе)",
                          re.IGNORECASE)
TEMPLATE_PATTERNS = [
    re.compile(r"\{\{.*?\}\}|\{\{|\}\}|\{%|%\}|\$\{[^}]*\}|#\{[^}]*\}|<<[^<>\n]{1,40}>>|\[\[[^\]\n]{1,40}\]\]"),
    re.compile(r"\{[^{}\n]{1,40}\}"),  # {name}, {имя клиента}, { $name }, {0}
    re.compile(r"\[[^\]\n]{1,40}\](?!\()"),  # [Имя клиента], [name], [sandbox]; markdown links [text](url) are fine
    re.compile(r"(?<![\d\w])%[^\W\d][\w.-]{0,30}%"),  # %username%, %ИМЯ%
    re.compile(r"<[^\W\d][\w .:-]{0,30}>"),  # <name>, <имя>, <product name>
    re.compile(r"(?<![\w$])\$[A-Za-z_][A-Za-z0-9_]*"),  # $name, $product (a price is «$120», a digit)
    re.compile(r"\b__[A-Za-z][\w]*__\b|%s\b|%d\b|%\(\w+\)[sd]"),
    re.compile(r"\b(?:lorem ipsum|XXX|TODO|TBD|FIXME)\b", re.IGNORECASE),
]
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…\n])\s+")
_CLAUSE_SPLIT = re.compile(r"[,;]\s+|\s+(?:а|но|but)\s+")
# Words that say nothing about what a knowledge-base figure is for: a clause must share something else with the
# knowledge sentence («доставка», «Москва», «рассрочка») for the sentence's figure to back it.
_GENERIC_STEMS = frozenset(stem(w) for w in (
    "стоит стоят стоимость цена цены цену ценой рублей рубля рубль руб всего только лишь при заказ заказе заказа "
    "товар товара товары магазин магазине наш наша ваш ваша вам вас нам нас сейчас можно будет также ещё еще "
    "price cost costs only just order shop our your rub rubles"
).split())
_MIN_SENTENCE_WORDS_FOR_LANGUAGE = 4


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
    tenant_language: str | None = None  # what the reply must be in when the customer's language is unknown
    locale: str | None = None  # the language of the reasons (the card's reader); Russian by default


@dataclass
class CheckReport:
    checks: dict[str, dict] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def add(self, name: str, problems: list[str], **info) -> None:
        problems = list(dict.fromkeys(problems))
        self.checks[name] = {"ok": not problems, "problems": problems, **info}
        self.failures.extend(problems)


# ----------------------------------------------------------------------------------------- knowledge base

@dataclass(frozen=True)
class KnowledgeSentence:
    text: str
    stems: frozenset[str]
    money: frozenset[Decimal]
    durations: tuple[claims.Duration, ...]
    topics: frozenset[str]
    places: frozenset[str]
    gift: bool


def _split_chunk(chunk: str) -> tuple[str, str]:
    """(heading, body) of a chunk: «Доставка — По Москве: …» (see indexing.chunk_document) or «Вопрос: … Ответ: …»."""
    if chunk.startswith("Вопрос:") and "Ответ:" in chunk:
        question, answer = chunk.split("Ответ:", 1)
        return question.removeprefix("Вопрос:").strip(), answer.strip()
    head, sep, body = chunk.partition(": ")
    if sep and len(head) <= 160 and "\n" not in head and not any(ch in head for ch in ".!?"):
        return head, body
    return "", chunk


def knowledge_sentences(knowledge_texts: list[str]) -> list[KnowledgeSentence]:
    return [k for chunk in knowledge_texts for k in _chunk_sentences(chunk)]


@lru_cache(maxsize=4096)
def _chunk_sentences(chunk: str) -> tuple[KnowledgeSentence, ...]:
    """A chunk's claims, read once per process: the same policy pages are retrieved for most questions."""
    heading, body = _split_chunk(chunk)
    chunk_topics = claims.topics(heading)
    chunk_places = claims.places(chunk)
    out = []
    for sentence in _sentences(body):
        nums = claims.numbers(sentence)
        out.append(KnowledgeSentence(
            text=sentence, stems=frozenset(_topic_stems(sentence)),
            money=frozenset(m.value for m in claims.money(sentence, nums)),
            durations=tuple(claims.durations(sentence, nums)),
            topics=frozenset(claims.topics(sentence) | chunk_topics),
            places=frozenset(claims.places(sentence) or chunk_places),
            gift=bool(claims.GIFT_WORDS.search(sentence)),
        ))
    return tuple(out)


def _topic_stems(text_: str) -> set[str]:
    return {s for s in (stem(w) for w in content_words(text_) if not any(ch.isdigit() for ch in w))
            if len(s) >= 3 and s not in _GENERIC_STEMS}


def _stems_share(a: set[str], b: set[str]) -> bool:
    return any(x == y or (min(len(x), len(y)) >= 4 and (x.startswith(y) or y.startswith(x))) for x in a for y in b)


def _same_place(claim_places: set[str], known_places: set[str]) -> bool:
    """A page for the whole country (no city) backs any city; a city's page backs only that city."""
    return not claim_places or not known_places or bool(claim_places & known_places)


# ------------------------------------------------------------------------------------------------ products

def products_named(text_: str, products: list[ProductFact]) -> list[ProductFact]:
    """The products a text names best (most name words in common); several when they tie ("наушники")."""
    stems_ = {stem(w) for w in words(text_)}
    if not stems_:
        return []
    scored = [(_name_score(frozenset(stems_), p.name), p) for p in products]
    best = max((score for score, _ in scored), default=0.0)
    return [p for score, p in scored if score > 0 and score == best]


@lru_cache(maxsize=65536)
def _name_score(stems_: frozenset[str], name: str) -> float:
    return name_match(set(stems_), name)[0]


def _catalog_prices(products: list[ProductFact]) -> set[Decimal]:
    return {p.price for p in products} | {v for p in products for v in p.variant_prices}


def _name_stems(products: list[ProductFact]) -> set[str]:
    return {stem(w) for p in products for w in words(p.name)}


# ------------------------------------------------------------------------------------------------- helpers

def _sentences(text_: str) -> list[str]:
    return [s for s in _SENTENCE_SPLIT.split(text_) if s.strip()]


def _clauses(sentence: str) -> list[str]:
    return [c for c in _CLAUSE_SPLIT.split(sentence) if c.strip()]


def _topic_present(topic: str, text_stems: list[str]) -> bool:
    """Every word of the topic is in the text, in any form: «политика» in «политики», «политическ…»; «кредит» in
    «кредитование», «в кредит»."""
    topic_stems = [stem(w) for w in words(topic) if len(w) >= 3]
    if not topic_stems:
        return False

    def present(t_: str) -> bool:
        head = t_[:-1] if len(t_) >= 6 else t_
        return any(s == t_ or (len(t_) >= 4 and s.startswith(head)) for s in text_stems)

    return all(present(t_) for t_ in topic_stems)


def price_figures(text_: str) -> list[tuple[str, Decimal]]:
    """The money figures of a text: (the figure as written, its value)."""
    return [(m.figure.strip(), m.value) for m in claims.money(text_)]


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


def _pct(value: Decimal) -> str:
    """15 → «15», 30.395 → «30,4»."""
    return f"{value:.1f}".removesuffix(".0").replace(".", ",")


# --------------------------------------------------------------------------------------------------- check

class _Checker:
    def __init__(self, reply: str, facts: CheckFacts):
        self.reply = reply
        self.facts = facts
        self.locale = facts.locale
        self.customer_places = claims.places(facts.customer_text)
        self.customer_topics = claims.topics(facts.customer_text)
        self.price_problems: list[str] = []
        self.stock_problems: list[str] = []
        self.discount_problems: list[str] = []
        self.term_problems: list[str] = []

    @cached_property
    def knowledge(self) -> list[KnowledgeSentence]:
        # Read only when a figure, a gift or a term needs backing: most replies have none, and reading the retrieved
        # chunks' claims cost ~2 ms of the decision when they were not read before (the cache is per chunk text).
        return knowledge_sentences(self.facts.knowledge_texts)

    def t(self, key: str, **values) -> Reason:
        # A code with its arguments, not only words: the card puts it into its reader's language.
        return Reason(key, values, locale=self.locale)

    # -- prices and stock ------------------------------------------------------------------------------------

    def run(self) -> None:
        facts = self.facts
        # The customer's own figures never back a price: "sell it for 100?" — "ok, 100 ₽" must fail.
        context = products_named(facts.customer_text, facts.products) or list(facts.products)
        for sentence in _sentences(self.reply):
            named = products_named(sentence, facts.products)
            if named:
                context = named
            nums = claims.numbers(sentence)
            found_discounts, discount_amounts = claims.discounts(sentence, nums)
            sentence_places = claims.places(sentence)
            for clause in _clauses(sentence):
                clause_named = products_named(clause, facts.products)
                in_play = clause_named or context
                self._check_prices(clause, sentence, in_play, bool(clause_named), sentence_places,
                                   skip={m for m in discount_amounts})
                self._check_gifts(clause, sentence_places)
            self._check_discounts(sentence, found_discounts, context)
            self._check_stock(sentence, named, context)
            self._check_terms(sentence, context)

    def _check_prices(self, clause: str, sentence: str, products: list[ProductFact], named_here: bool,
                      sentence_places: set[str], skip: set[int]) -> None:
        facts = self.facts
        allowed = _catalog_prices(products)
        low = claims.lowered(clause)
        offset = sentence.find(clause)
        clause_places = claims.places(clause) or sentence_places or self.customer_places
        clause_stems = _topic_stems(clause) - _name_stems(products)
        for m in claims.money(clause):
            if offset >= 0 and offset + m.start in skip:
                continue  # a discount amount, checked as a discount
            if m.value in allowed:
                continue
            if facts.allow_discounts and claims.DISCOUNT_WORDS.search(claims.lowered(sentence)) and any(
                    p * (100 - facts.max_discount_percent) / 100 - 1 <= m.value < p for p in allowed):
                continue  # a discounted price within the tenant's maximum
            governed = bool(claims.PRICE_CUES.search(low[max(0, m.start - 40):m.start]))
            if not (named_here and governed) and any(
                    m.value in k.money and _same_place(clause_places, k.places) and _stems_share(clause_stems, k.stems)
                    for k in self.knowledge):
                continue  # a figure of the knowledge base, about what the knowledge sentence is about
            self.price_problems.append(self._price_problem(m, products))

    def _price_problem(self, m: claims.Money, products: list[ProductFact]) -> str:
        if m.explicit and not m.spelled:
            return texts.check_failure("price", figure=m.figure.strip())
        if len(products) == 1:
            p = products[0]
            return self.t("safety.check.price-product", figure=m.raw.strip(), value=format_amount(m.value),
                          product=p.name, price=format_price(p.price, p.currency))
        return self.t("safety.check.price-unbacked", figure=m.raw.strip(), value=format_amount(m.value))

    def _check_stock(self, sentence: str, named: list[ProductFact], context: list[ProductFact]) -> None:
        allowed_stock = {p.stock for p in context if p.stock is not None}
        self.stock_problems += [texts.check_failure("stock", figure=raw) for raw, value in stock_figures(sentence)
                                if value not in allowed_stock]
        if IN_STOCK_CLAIM.search(sentence) and not OUT_OF_STOCK.search(sentence):
            self.stock_problems += [texts.check_failure("in_stock_claim", product=p.name)
                                    for p in named if p.stock == 0]

    # -- discounts and gifts ---------------------------------------------------------------------------------

    def _check_discounts(self, sentence: str, found: list[claims.Discount], context: list[ProductFact]) -> None:
        facts = self.facts
        low = claims.lowered(sentence)
        mentions = bool(claims.DISCOUNT_WORDS.search(low)) or bool(found)
        if not mentions:
            return
        if not facts.allow_discounts:
            if found:
                for d in found:
                    if d.raw.endswith("%") or d.percent is None:
                        self.discount_problems.append(texts.check_failure("discount_off"))
                    else:
                        self.discount_problems.append(self.t("safety.check.discount-off", phrase=d.raw))
            elif not NEGATION.search(sentence):
                self.discount_problems.append(texts.check_failure("discount_off"))
            return
        limit = Decimal(facts.max_discount_percent)
        for d in found:
            if d.percent is not None:
                if d.percent <= limit:
                    continue
                if re.fullmatch(r"[\d\s.,]+%", d.raw):
                    self.discount_problems.append(texts.check_failure("discount_over", percent=format_amount(d.percent),
                                                                      limit=facts.max_discount_percent))
                else:
                    self.discount_problems.append(self.t("safety.check.discount-phrase", phrase=d.raw,
                                                         percent=_pct(d.percent), limit=facts.max_discount_percent))
                continue
            # An amount: measured against the cheapest product it may be about (the largest share).
            priced = [p for p in context if p.price > 0]
            if not priced:
                continue
            product = min(priced, key=lambda p: p.price)
            percent = d.amount * 100 / product.price
            if percent > limit:
                self.discount_problems.append(self.t("safety.check.discount-amount", phrase=d.raw,
                                                     percent=_pct(percent), limit=facts.max_discount_percent,
                                                     product=product.name))

    def _check_gifts(self, clause: str, sentence_places: set[str]) -> None:
        match = claims.GIFT_WORDS.search(claims.lowered(clause))
        if not match or NEGATION.search(clause[:match.start()][-12:]):
            return
        clause_places = claims.places(clause) or sentence_places or self.customer_places
        clause_stems = _topic_stems(clause)
        if any(k.gift and _same_place(clause_places, k.places) and _stems_share(clause_stems, k.stems)
               for k in self.knowledge):
            return
        self.discount_problems.append(self.t("safety.check.gift", phrase=clause[match.start():match.end()].strip()))

    # -- terms -----------------------------------------------------------------------------------------------

    def _check_terms(self, sentence: str, context: list[ProductFact]) -> None:
        sentence_topics = claims.topics(sentence)
        sentence_places = claims.places(sentence)
        descriptions = [d for p in context for d in claims.durations(p.description)] if context else []
        for clause in _clauses(sentence):
            terms = claims.durations(clause)
            if not terms:
                continue
            topics_ = claims.topics(clause) or sentence_topics or self.customer_topics
            if not topics_:
                continue  # «до 60 минут работы», «сегодня в наличии»: not a promise about delivery or warranty
            clause_places = claims.places(clause) or sentence_places or self.customer_places
            for term in terms:
                if any(term.matches(d) for d in descriptions):
                    continue  # the product's own description says so (a battery life, a heating time)
                self._check_term(term, topics_, clause_places)

    def _check_term(self, term: claims.Duration, topics_: set[str], clause_places: set[str]) -> None:
        on_topic = [k for k in self.knowledge if k.topics & topics_ and k.durations]
        here = [k for k in on_topic if _same_place(clause_places, k.places)]
        if any(term.matches(d) for k in here for d in k.durations):
            return
        topic = sorted(topics_ & {t_ for k in on_topic for t_ in k.topics} or topics_)[0]
        elsewhere = [k for k in on_topic if k not in here and any(term.matches(d) for d in k.durations)]
        if here:
            known = next(d.raw for k in here for d in k.durations if topic in k.topics) if any(
                topic in k.topics for k in here) else here[0].durations[0].raw
            self.term_problems.append(self.t("safety.check.term-differs", topic=topic, claim=term.raw.strip(),
                                             known=known.strip()))
        elif elsewhere:
            place = ", ".join(sorted(elsewhere[0].places))
            self.term_problems.append(self.t("safety.check.term-place", topic=topic, claim=term.raw.strip(),
                                             place=place))
        else:
            self.term_problems.append(self.t("safety.check.term-unknown", topic=topic, claim=term.raw.strip()))


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

    # Template leftovers, in any bracket style.
    leftovers: list[str] = []
    taken: list[tuple[int, int]] = []
    for pattern in TEMPLATE_PATTERNS:
        for m in pattern.finditer(stripped):
            if any(a <= m.start() < b for a, b in taken):
                continue
            taken.append(m.span())
            leftovers.append(m.group(0))
    report.add("template", [texts.check_failure("template", found=", ".join(dict.fromkeys(leftovers)))]
               if leftovers else [])

    # Language: the customer's (or, when it cannot be told, the tenant's), in every sentence.
    expected = facts.customer_language or facts.tenant_language
    reply_language = detect_language(stripped)
    language_problems = []
    if reply_language and expected and reply_language != expected:
        language_problems.append(texts.check_failure("language", reply=reply_language, customer=expected))
    elif expected:
        for sentence in _sentences(stripped):
            other = detect_language(sentence)
            if other and other != expected and len(words(sentence)) >= _MIN_SENTENCE_WORDS_FOR_LANGUAGE:
                language_problems.append(Reason("safety.check.language-mixed", {
                    "language": other, "sentence": sentence.strip()}, locale=facts.locale))
    report.add("language", language_problems, reply=reply_language, customer=expected)

    checker = _Checker(stripped, facts)
    checker.run()
    report.add("prices", checker.price_problems)
    report.add("stock", checker.stock_problems)
    report.add("discount", checker.discount_problems)
    report.add("terms", checker.term_problems)

    # Addresses: a street and house number the knowledge base gives (a pickup point, a shop).
    report.add("addresses", [
        Reason("safety.check.address", {"address": a.raw}, locale=facts.locale) for a in claims.addresses(stripped)
        if not any(claims.address_in(a, chunk) for chunk in facts.knowledge_texts)
    ])

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
