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
    "привет здравствуйте спасибо пожалуйста еще или только очень все всё".split()
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
