"""Text helpers the AI pipeline shares: Russian-aware tokens and stems, language detection, money figures.

Deliberately dependency-free and fast: they run on every customer message, in the self-check and in the local
embedder, and must behave the same on every machine.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)

# Longest first: the first ending that leaves a stem of at least 3 letters is cut. Good enough to make
# «доставка», «доставки», «доставку», «доставкой» one stem, which is all retrieval and matching need.
_RU_ENDINGS = sorted(
    {
        "иями", "ями", "ами", "ого", "его", "ому", "ему", "ыми", "ими", "ете", "ите", "ешь", "ишь", "ают", "яют",
        "уют", "ала", "ило", "ила", "ены", "ена", "ено", "ость", "ости", "иться", "ться", "ется", "ится",
        "ая", "яя", "ой", "ей", "ий", "ый", "ое", "ее", "ые", "ие", "ов", "ев", "ам", "ям", "ах", "ях", "ом", "ем",
        "ую", "юю", "ия", "ию", "ье", "ья", "ть", "ет", "ит", "ут", "ют", "ат", "ят", "ал", "ил", "ла", "ли", "ло",
        "а", "я", "о", "е", "ы", "и", "у", "ю", "ь", "й",
    },
    key=len,
    reverse=True,
)
_EN_ENDINGS = ("ing", "ies", "ed", "es", "s")
_MIN_STEM = 3


def normalize(text: str) -> str:
    return text.lower().replace("ё", "е")


def words(text: str) -> list[str]:
    return WORD_RE.findall(normalize(text))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Cut one inflectional ending (Russian or English). Digits and short words stay as they are."""
    if len(word) <= _MIN_STEM or word.isdigit():
        return word
    endings = _RU_ENDINGS if _is_cyrillic(word[-1]) else _EN_ENDINGS
    for ending in endings:
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_STEM:
            return word[: -len(ending)]
    return word


def stems(text: str) -> list[str]:
    return [stem(w) for w in words(text)]


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


# ------------------------------------------------------------------------------------------ language detection

_RU_STOP = frozenset(
    "и в во не на с со что это да нет вы мы я ты он она они у по для есть как а но за из от до ли же бы уже "
    "так там тут вам вас нам нас ваш ваша мой моя если когда где куда сколько можно нужно будет был была "
    "привет здравствуйте спасибо пожалуйста еще или только очень все всё перед после через около между под над "
    "при про об о к ко".split()
)
_EN_STOP = frozenset(
    "the a an and or is are was were be to of in on for with you your we our it this that yes no not can "
    "will would do does have has hello hi thanks thank please how what when where much many price".split()
)
_UK_LETTERS = frozenset("іїєґ")
STOP_WORDS = _RU_STOP | _EN_STOP


def content_words(text: str) -> list[str]:
    """Words without function words ("у вас есть" says nothing about which product)."""
    return [w for w in words(text) if w not in STOP_WORDS]


def detect_language(text: str) -> str | None:
    """'ru', 'uk', 'en', or None when the text has too few words to tell (e.g. "ок", "15", an emoji).

    Product names are Latin in Russian replies («iPhone 15 Pro в наличии»), so capitalised Latin words and words
    with digits count as names, not as English; function words weigh double."""
    score = {"ru": 0.0, "en": 0.0}
    uk_hint = False
    for raw in WORD_RE.findall(text):
        word = raw.lower()
        if any(ch.isdigit() for ch in word):
            continue
        if _is_cyrillic(word[0]):
            uk_hint = uk_hint or any(ch in _UK_LETTERS for ch in word)
            score["ru"] += 2 if word.replace("ё", "е") in _RU_STOP else 1
        elif word.isascii():
            if word in _EN_STOP:
                score["en"] += 2
            elif not raw[0].isupper():
                score["en"] += 1
    if max(score.values()) < 2:
        return None
    best = max(score, key=score.get)
    if best == "ru" and uk_hint:
        return "uk"
    return best


# ------------------------------------------------------------------------------------------------- money

_THOUSANDS = "[ \u00a0\u202f.,']"
AMOUNT = rf"(?:\d{{1,3}}(?:{_THOUSANDS}\d{{3}})+|\d+)(?:[.,]\d{{1,2}})?"
_AMOUNT_RE = re.compile(AMOUNT)


def parse_amount(raw: str) -> Decimal | None:
    """'45 000,00' → 45000.00; '45000.00 ₽' → 45000.00; '1.234,5' → 1234.5; '45,000.50' → 45000.50.

    A separator followed by exactly three digits is a thousands separator; a trailing separator with one or
    two digits is the decimal mark."""
    text = raw.strip()
    match = _AMOUNT_RE.search(text)
    if not match:
        return None
    figure = match.group(0)
    decimals = ""
    tail = re.search(r"[.,](\d{1,2})$", figure)
    if tail:
        decimals = tail.group(1)
        figure = figure[: tail.start()]
    digits = re.sub(r"\D", "", figure)
    if not digits:
        return None
    try:
        return Decimal(f"{digits}.{decimals}" if decimals else digits)
    except InvalidOperation:
        return None


def format_amount(value: Decimal) -> str:
    """Russian style: 45 000 or 45 000,50 (narrow no-break space as the thousands separator)."""
    quantized = value.quantize(Decimal("0.01"))
    whole, frac = f"{quantized:.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", "\u00a0")
    return grouped if frac == "00" else f"{grouped},{frac}"


CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€", "KZT": "₸", "BYN": "Br", "UAH": "₴"}


def format_price(value: Decimal, currency: str) -> str:
    return f"{format_amount(value)} {CURRENCY_SIGNS.get(currency.upper(), currency.upper())}"


# ---------------------------------------------------------------------------------------- colloquial names

# How customers name products in Russian chat: brands in Cyrillic («айфон», «сяоми», «дайсон»), short words
# («телек», «ноут», «велик») and other words for the same kind («микроволновка», «читалка»). Keys are prefixes of the
# customer's word (after ё → е); values are words a catalog name would use. Used only to find which product a
# question names, never to write a reply.
COLLOQUIAL: dict[str, tuple[str, ...]] = {
    # brands and models
    "айфон": ("iphone", "apple"), "айфо": ("iphone", "apple"), "афон": ("iphone",), "эпл": ("apple",),
    "эппл": ("apple",), "аппл": ("apple",), "апл": ("apple",), "эйпл": ("apple",),
    "сяоми": ("xiaomi",), "ксиаоми": ("xiaomi",), "ксяоми": ("xiaomi",), "шаоми": ("xiaomi",),
    "редми": ("redmi",), "дайсон": ("dyson",), "самсунг": ("samsung",), "самсун": ("samsung",),
    "галакси": ("galaxy",), "филипс": ("philips",), "сони": ("sony",), "делонги": ("delonghi",),
    "борк": ("bork",), "тефаль": ("tefal",), "редмонд": ("redmond",), "китфорт": ("kitfort",),
    "асус": ("asus",), "макбук": ("macbook",), "макбу": ("macbook",), "аймак": ("imac",), "айпад": ("ipad",),
    "эйрподс": ("airpods",), "аирподс": ("airpods",), "эирподс": ("airpods",), "аирпод": ("airpods",),
    "эйрпод": ("airpods",), "подсы": ("airpods",), "джибиэль": ("jbl",), "джбл": ("jbl",), "жбл": ("jbl",),
    "лджи": ("lg",), "элджи": ("lg",), "найнбот": ("ninebot",), "нинебот": ("ninebot",), "покетбук": ("pocketbook",),
    "вотч": ("watch",), "эйр": ("air",), "эир": ("air",), "найн": ("nine",), "макс": ("max",), "орал": ("oral",), "алиса": ("станция", "яндекс"), "алис": ("станция",),
    "стелс": ("stels",), "стэлс": ("stels",), "форвард": ("forward",), "мерида": ("merida",), "шимано": ("shimano",),
    "кьюб": ("cube",), "джайент": ("giant",),
    "шульц": ("shulz",), "шульз": ("shulz",), "кугу": ("kugoo",), "куго": ("kugoo",),
    # kinds of products
    "телек": ("телевизор",), "телик": ("телевизор",), "ноут": ("ноутбук",),
    "телефон": ("смартфон",), "мобил": ("смартфон",), "мобильник": ("смартфон",), "трубк": ("смартфон",),
    "микроволн": ("микроволновая",), "свч": ("микроволновая",), "печк": ("печь",),
    "читалк": ("книга",), "электронк": ("книга",), "ридер": ("книга",),
    "пылик": ("пылесос",), "самокат": ("электросамокат",), "кофеварк": ("кофемашина",),
    "бритв": ("электробритва",),
    "часик": ("часы",), "велик": ("велосипед",), "электровелик": ("электровелосипед",),
}
_COLLOQUIAL_KEYS = sorted(COLLOQUIAL, key=len, reverse=True)

_TRANSLIT = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i", "й": "i",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
    "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "iu",
    "я": "ia",
})
_SOUNDS = [("ph", "f"), ("gh", "g"), ("ck", "k"), ("qu", "kv"), ("x", "ks"), ("q", "k"), ("w", "v"), ("y", "i"),
           ("j", "i"), ("oo", "u"), ("ee", "i"), ("ce", "se"), ("ci", "si"), ("c", "k")]


def translit(word: str) -> str:
    """Plain Cyrillic → Latin letters («гармин» → garmin)."""
    return normalize(word).translate(_TRANSLIT)


@lru_cache(maxsize=100_000)
def sound_key(word: str) -> str:
    """A rough spelling-independent key, so «делонги» and «DeLonghi», «филипс» and «Philips», «самсунг» and
    «Samsung» meet: Cyrillic transliterated, a few Latin spellings made one, double letters collapsed."""
    key = normalize(word).translate(_TRANSLIT)
    for a, b in _SOUNDS:
        key = key.replace(a, b)
    return re.sub(r"(.)\1+", r"\1", key)


@lru_cache(maxsize=100_000)
def colloquial(word: str) -> tuple[str, ...]:
    """Catalog words a customer's word stands for («айфона» → iphone, apple; «телек» → телевизор); () if none."""
    word = normalize(word)
    for key in _COLLOQUIAL_KEYS:
        if word.startswith(key) and (len(word) - len(key) <= 3 or len(key) >= 6):
            return COLLOQUIAL[key]
    return ()


def expanded_stems(text: str) -> set[str]:
    """The stems of a text's words plus the stems of the catalog words its colloquial words stand for."""
    out: set[str] = set()
    for w in words(text):
        out.add(stem(w))
        out.add(w)  # brands lose letters to the stemmer («сони» → «сон»); the word itself still sounds like «Sony»
        for alias in colloquial(w):
            out.add(stem(alias))
    return out
