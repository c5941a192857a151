"""The retrieval-grounded responder: drafts a reply with no language model, only from the catalog products and
knowledge-base chunks retrieval found, in the tenant's tone and address form.

It answers what was asked, part by part: a question is cut into its parts («Сколько стоит кофемашина? И доставка
в Екатеринбург?»), each part gets the product line it names or the knowledge-base sentences that answer it — the
sentence, not the whole paragraph; the named city's terms (or the whole country's), never another city's; the
defects section for a scratch, the warranty page for a warranty. Every figure it writes is copied from the catalog
or the knowledge base, so its drafts pass the self-check.

Confidence is coverage: a part answered by the topic it asks about, with the figure it asks for (a term for «как
быстро», a fee for «сколько стоит доставка»), is sure; a part answered loosely is not; a part left unanswered caps the
whole reply below any sensible t_auto, and nothing answered at all is «уточню у менеджера». Its drafts still never
autosend unless the tenant allows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..models import AddressForm, DocType, Tenant, Tone
from . import claims, texts
from .intents import KEYWORDS
from .retrieval import Hit, ProductFact, ProductMatch, name_match, rank_products
from .textutil import STOP_WORDS, colloquial, format_price, normalize, stem, words

# Which knowledge answers which topic, best first.
INTENT_DOC_TYPES: dict[str, list[str]] = {
    "shipping": [DocType.DELIVERY.value, DocType.FAQ.value, DocType.POLICY.value],
    "delivery_time": [DocType.DELIVERY.value, DocType.FAQ.value, DocType.POLICY.value],
    "warranty": [DocType.POLICY.value, DocType.FAQ.value, DocType.RETURNS.value],
    "return": [DocType.RETURNS.value, DocType.POLICY.value, DocType.FAQ.value],
    "complaint": [DocType.RETURNS.value, DocType.POLICY.value, DocType.FAQ.value],
    "payment": [DocType.PAYMENT.value, DocType.FAQ.value, DocType.POLICY.value],
    "discount": [DocType.POLICY.value, DocType.FAQ.value, DocType.PAYMENT.value],
    "order_status": [DocType.DELIVERY.value, DocType.FAQ.value],
    "purchase": [DocType.PAYMENT.value, DocType.FAQ.value],
    "other": [DocType.FAQ.value, DocType.POLICY.value, DocType.DELIVERY.value, DocType.PAYMENT.value,
              DocType.RETURNS.value, DocType.OTHER.value, DocType.SCRIPT.value],
}
PRODUCT_TOPICS = {"price", "availability", "purchase"}
KB_TOPICS = {"shipping", "delivery_time", "warranty", "return", "payment", "discount", "order_status"}
ALSO_MAX = 2
MAX_SENTENCES = 3
MAX_PART_CHARS = 420

SURE = 0.9  # a part answered by its own topic with the figure it asks for
LOOSE = 0.7  # answered, but by words in common rather than by topic, or without the figure asked for
CAP_UNANSWERED = 0.45  # a part left for a manager
CAP_MANIPULATION = 0.5  # the customer tries to instruct the responder

# Where one question ends and the next begins inside a message: «…? И сколько стоит доставка…», «…, а гарантия?».
_PART_SPLIT = re.compile(
    r"(?<=[?!.…])\s+|\s*\n+\s*|\s*;\s*"
    r"|,?\s+(?:и|а|а\s+также|а\s+ещ[её]|ещ[её]|плюс|также|и\s+ещ[её])\s+(?=(?:сколько|как|когда|где|есть|можно|"
    r"какая|какой|какие|какую|каков\w*|будет|доставит\w*|доставляет\w*|привез\w*|принимает\w*|почем|что\s+с|"
    r"что\s+по|гарант\w*|доставк\w*|оплат\w*|возврат\w*|вернуть|рассрочк\w*|скидк\w*|самовывоз\w*)\b)",
    re.IGNORECASE)
_DEFECT = re.compile(r"царапин|скол[аыо]?\b|сколот|трещин|поврежд|брак|неисправ|не\s+работает|не\s+включа|сломал|"
                     r"разбит|вмятин|дефект|помят|broken|damaged|defect|scratch", re.IGNORECASE)
_PAYMENT = re.compile(r"оплат|оплач|карт[аоуыe]|наличн|сбп|рассрочк|кредит|сч[её]т|реквизит|сплит|долями|"
                      r"\bpay|card|cash|installment", re.IGNORECASE)
_DISCOUNT = re.compile(r"скидк|скидоч|промокод|акци|дешевле|discount|promo", re.IGNORECASE)
_TO_ORDER = re.compile(r"под\s+заказ|предзаказ|to\s+order", re.IGNORECASE)
_REGION = re.compile(r"област|\bкад\b|пригород|region", re.IGNORECASE)
_COUNTRY_WIDE = re.compile(r"росси|регион|других\s+город|всей\s+стран|по\s+стране|межгород|russia", re.IGNORECASE)
_MANIPULATION = re.compile(
    r"игнорир\w*|забудь\w*|забудьте|инструкци\w*|системн\w+\s+(?:промпт|сообщени|инструкц)|промпт\w*|"
    r"ты\s+теперь|теперь\s+ты|представь,?\s+что\s+ты|притворись|веди\s+себя\s+как|отвечай\s+только|"
    r"напиши,?\s+что|скажи,?\s+что|подтверди,?\s+что|ignore\s+(?:all|previous|the)|system\s+prompt|"
    r"you\s+are\s+now|pretend|jailbreak|developer\s+mode", re.IGNORECASE)
# Words of a question that say nothing about which sentence answers it.
_QUESTION_WORDS = frozenset(stem(w) for w in (
    "сколько какой какая какие какую каков какова как когда где куда можно ли есть вы вас ваш ваши у нам мне "
    "меня хочу хотел хотела подскажите скажите расскажите пожалуйста будет будут делаете делать что это этот эта "
    "этого такой нужно надо нужен нужна если могу можете быстро скоро очень ещё еще тоже также либо или "
    "товар товара товары вещь заказ заказа магазин магазине здравствуйте привет добрый день вечер спасибо "
    "стоит стоят стоимость цена сумма рублей руб долго"
).split())


@dataclass
class Draft:
    text: str
    confidence: float
    basis: str  # what the draft was built from: "product", "knowledge", "mixed", "greeting", "handoff", "not_found"
    product_ids: list[int] = field(default_factory=list)
    chunk_ids: list[int] = field(default_factory=list)


@dataclass
class _Part:
    """One answered part of the question."""

    lines: list[str]
    confidence: float
    kind: str  # "product" | "knowledge"
    product_ids: list[int] = field(default_factory=list)
    chunk_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Sentence:
    text: str
    chunk_id: int
    doc_type: str
    index: int  # position in its chunk
    heading: str
    stems: frozenset[str]
    head_stems: frozenset[str]
    topics: frozenset[str]
    places: frozenset[str]
    head_places: frozenset[str]
    has_money: bool
    has_term: bool
    country_wide: bool


# ------------------------------------------------------------------------------------------------- parts

def split_parts(question: str) -> list[str]:
    """The questions inside a message, in order; fragments too short to ask anything join the previous part."""
    pieces = [p.strip(" ,.;") for p in _PART_SPLIT.split(question) if p and p.strip(" ,.;!?")]
    parts: list[str] = []
    pending = ""  # a greeting or a word of its own («Привет!») joins the part after it
    for piece in pieces:
        empty = len(_content_stems(piece)) == 0 and not _topics(piece)
        if empty and parts:
            parts[-1] = f"{parts[-1]} {piece}"
        elif empty:
            pending = f"{pending} {piece}".strip()
        else:
            parts.append(f"{pending} {piece}".strip())
            pending = ""
    if pending:
        parts.append(pending)
    return parts or [question.strip()]


def _keyword_hits(keys: tuple[str, ...], norm: str, tokens: list[str]) -> bool:
    for key in keys:
        if not key.isalnum():
            if key in norm:
                return True
        elif any(t == key if len(key) <= 3 else t.startswith(key) for t in tokens):
            return True
    return False


def _topics(part: str, context: set[str] | None = None) -> set[str]:
    """Every topic a part asks about (a part may ask two: «сколько стоит и когда привезёте»)."""
    norm, tokens = normalize(part), words(part)
    found = {name for name, keys in KEYWORDS.items() if _keyword_hits(keys, norm, tokens)}
    if "delivery_time" in found and "shipping" not in found and not (context and "shipping" in context) and \
            not re.search(r"привез|достав|придет|приедет|получ|ехать|идет|отправ|how long|how soon|arriv|deliver",
                          norm):
        found.discard("delivery_time")
    if _DEFECT.search(part):
        found.add("defect")
    found.discard("greeting")
    return found


def _content_stems(text_: str) -> set[str]:
    return {s for s in (stem(w) for w in words(text_) if w not in STOP_WORDS and len(w) >= 3)
            if s not in _QUESTION_WORDS}


_TOPIC_KEYS = tuple(k for keys in KEYWORDS.values() for k in keys if k.isalnum() and len(k) >= 4)


def _topic_word(word: str) -> bool:
    """A word that names a topic («доставка», «гарантию», «оплатить»), not what the question is about."""
    return any(word.startswith(k) for k in _TOPIC_KEYS) or bool(_DEFECT.search(word))


def _subject_stems(text_: str) -> set[str]:
    """What a part asks about beyond its topic and question words: «подарочную» in «купить подарочную карту»."""
    return {stem(w) for w in words(text_) if w not in STOP_WORDS and len(w) >= 3 and not _topic_word(w)
            and stem(w) not in _QUESTION_WORDS}


# ------------------------------------------------------------------------------------------- knowledge

def _split_chunk(hit: Hit) -> tuple[str, str]:
    """(heading, body) of a chunk: «Доставка — По Москве: …» (core.ai.indexing.chunk_document), «Вопрос: … Ответ:
    …» (questions and answers), or a product chunk as it is."""
    body = hit.text
    if body.startswith("Вопрос:") and "Ответ:" in body:
        question, answer = body.split("Ответ:", 1)
        return question.removeprefix("Вопрос:").strip(), answer.strip()
    head, sep, rest = body.partition(": ")
    if sep and len(head) <= 160 and "\n" not in head and not any(ch in head for ch in ".!?"):
        return head, rest
    return hit.title or "", body


def _clean(sentence: str) -> str:
    sentence = re.sub(r"[*_`#>]+", "", sentence)
    sentence = re.sub(r"^\s*[-•]\s*", "", sentence)
    sentence = " ".join(sentence.split()).rstrip(";")
    if sentence and sentence[-1] not in ".!?…:":
        sentence += "."
    return sentence


# «ул. Тверская, 12», «д. 5», «т. е.»: a full stop after these ends no sentence.
_ABBREVIATION = re.compile(r"(?:^|\s)(?:ул|д|г|пр|пер|просп|стр|корп|тел|т|е|д|п|руб|коп|мин|см|кг|шт|им|св|пл|наб|"
                           r"ш|б-р|р|тыс|млн|обл|р-н|кв|оф|э)\.$", re.IGNORECASE)


def split_sentences(text_: str) -> list[str]:
    out: list[str] = []
    for piece in re.split(r"(?<=[.!?…])\s+", text_.strip()):
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        elif piece.strip():
            out.append(piece)
    return out


def _sentences_of(hit: Hit) -> list[_Sentence]:
    heading, body = _split_chunk(hit)
    lines = [ln for ln in body.splitlines() if ln.strip()]
    raw: list[str] = []
    for line in lines:
        raw += split_sentences(line)
    head_stems = frozenset(_content_stems(heading))
    head_topics = claims.topics(heading)
    head_places = frozenset(claims.places(heading))
    out = []
    for index, sentence in enumerate(raw):
        text_ = _clean(sentence)
        if len(words(text_)) < 2:
            continue
        nums = claims.numbers(text_)
        topics = set(claims.topics(text_)) | head_topics
        if _PAYMENT.search(text_) or _PAYMENT.search(heading):
            topics.add("payment")
        if _DISCOUNT.search(text_):
            topics.add("discount")
        if _DEFECT.search(text_) or _DEFECT.search(heading):
            topics.add("defect")
        if _TO_ORDER.search(text_):
            topics.add("to_order")
        out.append(_Sentence(
            text=text_, chunk_id=hit.chunk_id, doc_type=hit.doc_type, index=index, heading=heading,
            stems=frozenset(_content_stems(text_)), head_stems=head_stems, topics=frozenset(topics),
            places=frozenset(claims.places(text_)), head_places=head_places,
            has_money=bool(claims.money(text_, nums)), has_term=bool(claims.durations(text_, nums)),
            country_wide=bool(_COUNTRY_WIDE.search(text_) or _COUNTRY_WIDE.search(heading)),
        ))
    return out


def _shares(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> int:
    return sum(1 for x in a if any(x == y or min(len(x), len(y)) >= 5 and (x.startswith(y) or y.startswith(x))
                                   for y in b))


_TOPIC_OF_SENTENCE = {"shipping": "delivery", "delivery_time": "delivery", "warranty": "warranty",
                      "return": "return", "payment": "payment", "discount": "discount", "defect": "defect",
                      "order_status": "delivery"}


def _score(s: _Sentence, topic: str, part_stems: set[str], cities: set[str], wants_money: bool,
           wants_term: bool) -> tuple[float, bool] | None:
    """How well a sentence answers a part about `topic`, and whether it answers it by topic (not just by words);
    None when it must not be used (another city's terms)."""
    places = s.places or s.head_places
    if cities and places and not (places & cities):
        return None  # Moscow's courier terms are not Kazan's
    score = 0.0
    on_topic = False
    wanted = _TOPIC_OF_SENTENCE.get(topic)
    if wanted and wanted in s.topics:
        score += 3
        on_topic = True
    if topic == "return" and "defect" in s.topics:
        score += 0.5
    if topic == "defect":
        if "defect" in s.topics:
            score += 4
            on_topic = True
        elif "return" in s.topics:
            score += 1
    if topic in ("shipping", "delivery_time") and "to_order" in s.topics and "to_order" not in part_stems:
        score -= 1
    overlap = _shares(part_stems, s.stems)
    head_overlap = _shares(part_stems, s.head_stems)
    score += overlap + 0.75 * head_overlap
    if cities:
        if places & cities:
            score += 3
        elif s.country_wide:
            score += 2
        elif _REGION.search(s.text) or _REGION.search(s.heading):
            score -= 2  # the home region's terms («за КАД … по области») are not another city's
    if wants_money and s.has_money:
        score += 1.5
    if wants_term and s.has_term:
        score += 1.5
    if topic == "other":
        on_topic = False
    if score <= 0:
        return None
    return score, on_topic


def _knowledge_part(topic: str, part: str, question: str, sentences: list[_Sentence],
                    product: ProductFact | None) -> _Part | None:
    part_stems = _content_stems(part)
    # A product's kind picks the warranty sentence («на шлемы … 6 месяцев»), weighing less than the part's own words.
    kind_stems = _content_stems(product.name) - part_stems if product is not None and topic == "warranty" else set()
    cities = claims.places(part) or claims.places(question)
    low = normalize(part)
    wants_money = topic == "shipping" and bool(re.search(r"сколько|стоим|цен|почем|платн|бесплатн|how much|cost",
                                                         low))
    wants_term = topic == "delivery_time" or (topic == "warranty" and bool(re.search(r"сколько|срок|какая|how long",
                                                                                       low)))
    wanted_types = INTENT_DOC_TYPES.get(topic, INTENT_DOC_TYPES["other"])
    scored: list[tuple[float, bool, _Sentence]] = []
    for s in sentences:
        result = _score(s, topic, part_stems, cities, wants_money, wants_term)
        if result is None:
            continue
        score, on_topic = result
        score += 2 * _shares(part_stems, s.stems) + 0.5 * _shares(kind_stems, s.stems | s.head_stems)
        if s.doc_type in wanted_types:
            score += 0.5 * (len(wanted_types) - wanted_types.index(s.doc_type)) / len(wanted_types)
        scored.append((score, on_topic, s))
    if not scored:
        return None
    scored.sort(key=lambda x: (-x[0], x[2].chunk_id, x[2].index))
    best_score, best_on_topic, best = scored[0]
    overlap = _shares(part_stems, best.stems | best.head_stems)
    if not best_on_topic:
        # Words in common only: a loose answer, and only when the sentence shares enough with the question (one
        # word is enough only for a question of one or two words: «Собираете велосипеды?»).
        if overlap < 2 and not (overlap == 1 and len(part_stems) <= 2):
            return None
        subject = _subject_stems(part)
        if subject and _shares(subject, best.stems | best.head_stems) <= 0.5 * len(subject):
            return None  # «прокат велосипедов» is not answered by «сборка … входят в цену велосипеда»
    # Neighbours that answer the same thing (the rest of the section: «Заменим на новый или вернём деньги»).
    chosen = [best]
    for score, on_topic, s in scored[1:]:
        if len(chosen) >= MAX_SENTENCES:
            break
        if s.chunk_id != best.chunk_id or score < best_score - 2.5 or (best_on_topic and not on_topic):
            continue
        if sum(len(c.text) for c in chosen) + len(s.text) > MAX_PART_CHARS:
            continue
        chosen.append(s)
    chosen.sort(key=lambda s: s.index)
    # Is the figure asked for there? Is the city's answer there?
    confident = best_on_topic
    if wants_money and not any(s.has_money for s in chosen):
        confident = False
    if wants_term and not any(s.has_term for s in chosen):
        confident = False
    if topic in ("shipping", "delivery_time") and not cities:
        # No city named: sections for different places (Moscow, the rest of the country) answer differently.
        places = {p for s in sentences if "delivery" in s.topics for p in (s.places or s.head_places)}
        if places and any(s.places or s.head_places for s in chosen):
            confident = False
    # Something the part asks about that the answer does not mention («подарочную карту» answered by payment methods).
    said = {x for x in _subject_stems(part) if not claims.places(x)} - (kind_stems or set())
    if product is not None:
        said = {x for x in said if name_match({x}, product.name)[0] == 0}
    covered = set().union(*(c.stems | c.head_stems for c in chosen))
    if said and _shares(said, covered) < len(said):
        confident = False
    lines = [s.text for s in chosen]
    if cities and any((s.places or s.head_places) & cities or s.country_wide for s in chosen) and \
            topic in ("shipping", "delivery_time"):
        city = sorted(cities)[0]
        if not any(city in (s.places or s.head_places) for s in chosen):
            lines[0] = _lower_first(lines[0])
            lines.insert(0, "\x00city:" + city)
    return _Part(lines, SURE if confident else LOOSE, "knowledge", chunk_ids=list(dict.fromkeys(s.chunk_id
                                                                                                 for s in chosen)))


def _lower_first(text_: str) -> str:
    """«Доставка до …» → «доставка до …», «В другие города» → «в другие города»; «СДЭК …» stays."""
    first = text_.split(" ", 1)[0]
    if first[:1].isupper() and (len(first) == 1 or first[1:].islower()):
        return text_[0].lower() + text_[1:]
    return text_


# ------------------------------------------------------------------------------------------------ products

def _variant_lines(product: ProductFact, part: str, phrase) -> list[str] | None:
    """Lines for a product with priced variants: the one the part names, else all of them from the lowest."""
    priced = [(n, p) for n, p in product.variants if p is not None]
    if not priced:
        return None
    part_words = set(words(part))
    part_stems = {stem(w) for w in part_words}
    named = [(n, p) for n, p in priced if words(n) and all(w in part_words or stem(w) in part_stems
                                                            for w in words(n))]
    if len(named) == 1:
        n, p = named[0]
        return [phrase("variant_price", name=product.name, variant=n, price=format_price(p, product.currency))]
    low = min(p for _, p in priced)
    items = ", ".join(f"{n} — {format_price(p, product.currency)}" for n, p in priced[:6])
    return [phrase("price_from", name=product.name, price=format_price(low, product.currency), items=items)]


def _product_part(matches: list[ProductMatch], topics: set[str], part: str, phrase, inferred: bool) -> _Part:
    top = matches[0]
    product = top.product
    lines = _variant_lines(product, part, phrase) or \
        [phrase("price_line", name=product.name, price=format_price(product.price, product.currency))]
    to_order = False
    if product.stock is None:
        lines.append(phrase("stock_line_unknown"))
    elif product.stock > 0:
        lines.append(phrase("stock_line_in", stock=product.stock))
    elif _TO_ORDER.search(product.description or "") or _TO_ORDER.search(product.delivery or ""):
        lines.append(phrase("to_order"))
        to_order = True
    else:
        lines.append(phrase("stock_line_out"))
    # Products the question names just as well (two TVs for "a TV") are offered too, with their prices.
    ties = [m for m in matches[1:] if m.matched >= top.matched]
    if ties:
        items = ", ".join(f"{m.product.name} — {format_price(m.product.price, m.product.currency)}"
                          for m in ties[:ALSO_MAX])
        lines.append(phrase("also", items=items))
    # Sure when the question singles the product out by name; less so when it names a kind several share, when
    # the stock is unknown and the part asks about stock, or when the product was named in another part.
    confidence = SURE if not ties and top.matched >= 1 else LOOSE
    if ties and top.matched < 2:
        confidence = 0.6
    if "availability" in topics and product.stock is None:
        confidence = min(confidence, LOOSE)
    if inferred:
        confidence = min(confidence, 0.85)
    part = _Part(lines, confidence, "product", product_ids=[product.id, *[m.product.id for m in ties[:ALSO_MAX]]])
    part.to_order = to_order  # type: ignore[attr-defined]
    return part


# ------------------------------------------------------------------------------------------------- respond

def manipulation(question: str) -> bool:
    """The customer tries to instruct the responder («забудь инструкции», «скажи, что…»)."""
    return bool(_MANIPULATION.search(question))


def respond(tenant: Tenant, intent: str, question: str, hits: list[Hit], language: str | None) -> Draft:
    language = "en" if language == "en" else "ru"
    address, tone = AddressForm(tenant.address_form), Tone(tenant.tone)

    def phrase(key: str, **values) -> str:
        return texts.offline_phrase(key, address=address, tone=tone, language=language, **values)

    if intent == "greeting":
        return Draft(phrase("greeting"), 0.9, "greeting")
    if intent == "human_request":
        return Draft(phrase("handoff"), 0.5, "handoff")

    sentences = [s for h in hits if h.product is None for s in _sentences_of(h)]
    matches_all = [m for m in rank_products(question, hits) if m.matched > 0]
    parts = split_parts(question)
    answered: list[_Part] = []
    missed = 0
    context: set[str] = set()
    last_product: list[ProductMatch] = []
    discount_asked = False
    for part in parts:
        topics = _topics(part, context) or ({intent} if len(parts) == 1 and intent not in ("other", "complaint")
                                             else set())
        context |= topics
        named = [m for m in rank_products(part, hits) if m.matched > 0]
        inferred = False
        if not named and last_product and topics & (PRODUCT_TOPICS | {"discount"}):
            named, inferred = last_product, True  # «А есть в наличии?» after naming the product
        if named:
            last_product = named
        results: list[_Part] = []
        kb_topics = [t for t in ("defect", "return", "warranty", "delivery_time", "shipping", "payment",
                                 "order_status") if t in topics]
        if "defect" in kb_topics and "return" in kb_topics:
            kb_topics.remove("return")
        if "delivery_time" in kb_topics and "shipping" in kb_topics:
            kb_topics.remove("shipping")
        product_wanted = bool(named) and _names_most(part, named[0].product) and (
            bool(topics & PRODUCT_TOPICS) or not kb_topics and "discount" not in topics)
        if product_wanted:
            found_product = _product_part(named, topics, part, phrase, inferred)
            if getattr(found_product, "to_order", False):
                terms = [s for s in sentences if "to_order" in s.topics]
                if terms:
                    found_product.lines.append(terms[0].text)
                    found_product.chunk_ids.append(terms[0].chunk_id)
            results.append(found_product)
        product = named[0].product if named else None
        for topic in kb_topics:
            found = _knowledge_part(topic, part, question, sentences, product)
            if found is not None and topic == "order_status":
                found.confidence = min(found.confidence, 0.4)
            results.append(found) if found is not None else None
            if found is None:
                missed += 1
        if "discount" in topics:
            discount_asked = True
            found = _knowledge_part("discount", part, question, sentences, product)
            if found is not None and any(_DISCOUNT.search(line) for line in found.lines):
                found.confidence = min(found.confidence, 0.6)
                results.append(found)
        if not results and not kb_topics and "discount" not in topics:
            found = _knowledge_part(_fallback_topic(intent, topics), part, question, sentences, product)
            if found is not None:
                results.append(found)
            else:
                missed += 1
        if "order_status" in topics:
            results.append(_Part([phrase("order_status")], 0.3, "knowledge"))
        answered += results

    if discount_asked:
        # The responder never promises a discount: a person decides, within the tenant's limit.
        if matches_all and not tenant.allow_discounts:
            answered.append(_Part([phrase("discount_none")], 0.6, "knowledge"))
        else:
            answered.append(_Part([phrase("discount_manager")], 0.4, "handoff"))

    if intent == "complaint":
        defects = [p for p in answered if p.kind == "knowledge" and p.chunk_ids]
        lines = [line for p in defects for line in p.lines]
        text_ = _join(lines + [phrase("handoff")], phrase)
        return Draft(text_, 0.5, "handoff", chunk_ids=[c for p in defects for c in p.chunk_ids])

    if not any(p.chunk_ids or p.product_ids for p in answered):
        if discount_asked:
            return Draft(_join([line for p in answered for line in p.lines], phrase), 0.4, "handoff")
        return Draft(phrase("not_found"), 0.2, "not_found")

    lines = [line for p in answered for line in p.lines]
    confidence = min(p.confidence for p in answered)
    if missed:
        lines.append(phrase("rest_manager"))
        confidence = min(confidence, CAP_UNANSWERED)
    if any(p.kind == "product" for p in answered) and not discount_asked and intent != "order_status":
        in_stock = any(p.kind == "product" and p.lines and not getattr(p, "to_order", False)
                       and phrase("stock_line_out") not in p.lines for p in answered)
        if in_stock:
            lines.append(phrase("offer_order"))
    if manipulation(question):
        confidence = min(confidence, CAP_MANIPULATION)
    kinds = {p.kind for p in answered if p.chunk_ids or p.product_ids}
    basis = "mixed" if len(kinds) > 1 else kinds.pop()
    product_ids = list(dict.fromkeys(i for p in answered for i in p.product_ids))
    chunk_ids = list(dict.fromkeys(i for p in answered for i in p.chunk_ids))
    return Draft(_join(lines, phrase), round(confidence, 2), basis, product_ids=product_ids, chunk_ids=chunk_ids)


def _names_most(part: str, product: ProductFact) -> bool:
    """A part is about a product only when most of what it asks about names it: «Кофемашина DeLonghi?», «Сколько
    стоит шлем?»; «трейд-ин старого телефона» names a smartphone by one word of three and asks something else,
    «сколько стоит техническое обслуживание велосипеда» asks about a service."""
    said = _subject_words(part)
    if not said:
        return True
    variant_words = {stem(w) for name, _ in product.variants for w in words(name)}
    named = sum(1 for w in said if w.isdigit() or stem(w) in variant_words or _names(w, product))
    return named > 0.5 * len(said)


def _names(word: str, product: ProductFact) -> bool:
    """The word names the product or says what it is («беспроводные наушники»: the description says wireless)."""
    said = {word, stem(word), *(stem(a) for a in colloquial(word))}
    return name_match(said, product.name)[0] > 0 or name_match(said, product.description)[0] > 0


def _subject_words(text_: str) -> list[str]:
    return list(dict.fromkeys(w for w in words(text_) if w not in STOP_WORDS and (len(w) >= 3 or w.isdigit())
                              and not _topic_word(w) and stem(w) not in _QUESTION_WORDS))


def _fallback_topic(intent: str, topics: set[str]) -> str:
    if intent in INTENT_DOC_TYPES and intent not in ("purchase", "complaint"):
        return intent
    return "other"


def _join(lines: list[str], phrase) -> str:
    out: list[str] = []
    for line in dict.fromkeys(lines):
        if line.startswith("\x00city:"):
            out.append(phrase("for_city", city=line.removeprefix("\x00city:")))
        else:
            out.append(line)
    return " ".join(out)
