"""What a reply claims, read the way a customer reads it: figures in digits or in words, the money, percentages and
relative discounts among them, durations (delivery times, warranty and return periods) and the cities a sentence
is about. The self-check compares these claims with the catalog and the retrieved knowledge base.

Figures: «24 990», «24990», «24.990», «24 990,50», «24,9 тыс.», «25к», «двадцать четыре тысячи девятьсот
девяносто», «полторы тысячи», «24 тысячи 990». A figure is money when a currency stands next to it, or when a price
word governs it («за 21 990 — лучшая цена», «стоит двадцать тысяч»); model numbers («iPhone 15», «KT-6140»,
«8/256»), times, dates, phone numbers and order numbers are never figures.

Durations: «2–7 дней», «от 2 до 7 дней», «в течение 14 дней», «12 месяцев», «год», «полгода», «завтра», «сегодня»,
«на следующий день», «за час», «within 3 days», «tomorrow»: each becomes a range of days.

Dependency-free and deterministic: it runs on every drafted reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from .textutil import AMOUNT, parse_amount

# --------------------------------------------------------------------------------------- number words

def _soft_forms(nominative: str, oblique: str | None = None) -> list[str]:
    """«пять» → пять, пяти, пятью; «восемь» → восемь, восьми, восемью, восьмью."""
    stem_ = oblique or nominative[:-1]
    return [nominative, stem_ + "и", stem_ + "ью", nominative + "ю"]


_UNITS: dict[int, list[str]] = {
    0: ["ноль", "нуль", "ноля", "нуля"],
    1: ["один", "одна", "одно", "одного", "одной", "одну", "одному", "одним", "одном", "одними"],
    2: ["два", "две", "двух", "двум", "двумя"],
    3: ["три", "трех", "трем", "тремя"],
    4: ["четыре", "четырех", "четырем", "четырьмя"],
    5: _soft_forms("пять"), 6: _soft_forms("шесть"), 7: _soft_forms("семь"),
    8: _soft_forms("восемь", "восьм"), 9: _soft_forms("девять"),
}
_TEENS: dict[int, list[str]] = {
    10: _soft_forms("десять"), 11: _soft_forms("одиннадцать"), 12: _soft_forms("двенадцать"),
    13: _soft_forms("тринадцать"), 14: _soft_forms("четырнадцать"), 15: _soft_forms("пятнадцать"),
    16: _soft_forms("шестнадцать"), 17: _soft_forms("семнадцать"), 18: _soft_forms("восемнадцать"),
    19: _soft_forms("девятнадцать"),
}
_TENS: dict[int, list[str]] = {
    20: _soft_forms("двадцать"), 30: _soft_forms("тридцать"), 40: ["сорок", "сорока"],
    50: ["пятьдесят", "пятидесяти", "пятьюдесятью"], 60: ["шестьдесят", "шестидесяти", "шестьюдесятью"],
    70: ["семьдесят", "семидесяти", "семьюдесятью"], 80: ["восемьдесят", "восьмидесяти", "восемьюдесятью"],
    90: ["девяносто", "девяноста"],
}
_HUNDREDS: dict[int, list[str]] = {
    100: ["сто", "ста", "сотня", "сотню", "сотни"], 200: ["двести", "двухсот", "двумстам", "двумястами"],
    300: ["триста", "трехсот", "тремстам"], 400: ["четыреста", "четырехсот", "четыремстам"],
    500: ["пятьсот", "пятисот", "пятистам"], 600: ["шестьсот", "шестисот", "шестистам"],
    700: ["семьсот", "семисот", "семистам"], 800: ["восемьсот", "восьмисот", "восьмистам"],
    900: ["девятьсот", "девятисот", "девятистам"],
}
_MULTIPLIERS: dict[int, list[str]] = {
    1000: ["тысяча", "тысячи", "тысяч", "тысячу", "тысячей", "тысячью", "тысячам", "тысячами", "тысячах", "тыс",
           "тысч", "thousand", "thousands", "k", "к"],
    1_000_000: ["миллион", "миллиона", "миллионов", "миллиону", "миллионом", "млн", "million", "millions"],
}
_HALF_MORE = ["полтора", "полторы", "полутора"]  # one and a half: «полторы тысячи» = 1 500
_EN_SMALL = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}

# word → (value, place): place 1 units, 10 tens, 100 hundreds, 0 a multiplier, -1 «полтора».
NUMBER_WORDS: dict[str, tuple[int, int]] = {}
for _table, _place in ((_UNITS, 1), (_TEENS, 10), (_TENS, 10), (_HUNDREDS, 100), (_MULTIPLIERS, 0)):
    for _value, _forms in _table.items():
        for _form in _forms:
            NUMBER_WORDS.setdefault(_form, (_value, _place))
for _form in _HALF_MORE:
    NUMBER_WORDS[_form] = (1, -1)
for _form, _value in _EN_SMALL.items():
    NUMBER_WORDS[_form] = (_value, 1 if _value < 10 else 10)
NUMBER_WORDS["hundred"] = (100, 100)
NUMBER_WORDS["hundreds"] = (100, 100)
# «к»/«k» multiply only a figure written right before them («25к»), never start a number or follow a word number.
_DIGIT_ONLY_MULTIPLIERS = {"k", "к"}
# Words that never begin a number: abbreviations and «к» («тыс. руб.» alone is no figure), and English «hundred».
_STARTLESS = _DIGIT_ONLY_MULTIPLIERS | {"тыс", "тысч", "млн", "hundred", "hundreds", "thousands", "millions"}


@dataclass(frozen=True)
class Number:
    value: Decimal
    start: int
    end: int
    raw: str
    spelled: bool  # written (at least partly) in words


_TOKEN_RE = re.compile(rf"(?P<num>{AMOUNT})|(?P<word>[^\W\d_]+)", re.UNICODE)


def lowered(text: str) -> str:
    """Lower case with ё → е, the same length as `text` so spans stay valid."""
    low = text.lower().replace("ё", "е")
    if len(low) != len(text):  # a character whose lower case is longer (İ): fold one by one
        low = "".join(ch.lower()[:1] if ch.lower() else ch for ch in text).replace("ё", "е")
    return low


def _mask(low: str, spans: list[tuple[int, int]]) -> str:
    chars = list(low)
    for a, b in spans:
        for i in range(a, b):
            chars[i] = " "
    return "".join(chars)


_NOT_FIGURES = [
    re.compile(r"\b\d{1,2}:\d{2}\b"),  # 10:00
    re.compile(r"\b\d{1,2}\.\d{1,2}\.\d{2,4}\b"),  # 18.11.2026
    re.compile(r"(?:\+\d|\b8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}\b"),  # +7 (495) 123-45-67
    re.compile(r"\b\d+(?:/\d+)+\b"),  # 8/256
    re.compile(r"(?:№|#|\bномер\w*|\bартикул\w*|\bкод\w*|\bтрек\w*|\border|\bsku|\bзаказ\w*\s+№)\s*[\w-]*\d[\w-]*"),
    # s10, hd07, kt-6140, wh-1000xm5, 55ur78006lk; not a figure glued to its currency or multiplier («990р», «25к»)
    re.compile(r"\b(?!\d+(?:[.,]\d+)?(?:руб\w*|р|к|k|тыс\w*|rub|usd|eur|млн)\b)(?=[\w-]*[^\W\d_])(?=[\w-]*\d)"
               r"\w+(?:-\w+)*\b"),
    re.compile(r"\b\d+(?:-[^\W\d_]+)+\b"),  # 4-х, 10-дневный
]
# A number right after one of these Latin words is a model number («iPhone 15», «Series 9»), unless the word is
# one that introduces a price.
_LATIN_PRICE_WORDS = frozenset("price prices cost costs costing is are was only just for at now from total of "
                               "about around under over rub usd eur".split())


def _model_number(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \u00a0")
    if len(before) == len(text[:start]):  # not separated by a space: part of something else
        return False
    match = re.search(r"([A-Za-z][A-Za-z0-9+]*)$", before)
    if not match:
        return False
    word = match.group(1)
    if word.lower() in _LATIN_PRICE_WORDS:
        return False
    return any(ch.isupper() for ch in word) or any(ch.isdigit() for ch in word)


def numbers(text: str) -> list[Number]:
    """Every figure of `text`, in digits, in words, or both («24 тысячи 990»), in order."""
    low = lowered(text)
    masked = _mask(low, [m.span() for pattern in _NOT_FIGURES for m in pattern.finditer(low)])
    tokens = [(m.start(), m.end(), m.lastgroup, m.group()) for m in _TOKEN_RE.finditer(masked)]
    found: list[Number] = []
    i = 0
    while i < len(tokens):
        start, end, kind, value = tokens[i]
        is_number = kind == "num" or (value in NUMBER_WORDS and value not in _STARTLESS)
        if not is_number or (kind == "num" and _model_number(text, start)):
            i += 1
            continue
        number, used = _read_number(tokens, i, masked)
        if number is None:
            i += 1
            continue
        last_end = tokens[i + used - 1][1]
        # «тыс.»: the abbreviation's full stop belongs to the figure.
        if masked[last_end:last_end + 1] == "." and tokens[i + used - 1][3] in ("тыс", "млн"):
            last_end += 1
        spelled = any(tokens[j][2] == "word" for j in range(i, i + used))
        found.append(Number(number, start, last_end, text[start:last_end], spelled))
        i += used
    return found


def _gap_ok(masked: str, a_end: int, b_start: int) -> bool:
    """Tokens of one number are separated by spaces only (or nothing: «25к»)."""
    return masked[a_end:b_start].strip(" \u00a0\u202f") == "" and b_start - a_end <= 2


def _read_number(tokens: list, i: int, masked: str) -> tuple[Decimal | None, int]:
    """Read one number starting at token i: (value, tokens used). Words must come in falling places (hundreds,
    tens, units: «двести сорок пять»), a multiplier closes a group («двадцать четыре тысячи»), digits may form a
    group («24 тысячи 990»); anything else ends the number («пять двадцать» is two numbers)."""
    total = Decimal(0)
    group: Decimal | None = None  # the part after the last multiplier
    smallest = 1000  # the smallest place filled in the group; the next word must be smaller
    group_is_digits = False
    last_multiplier: int | None = None
    used = 0
    prev_end: int | None = None
    for j in range(i, len(tokens)):
        start, end, kind, value = tokens[j]
        if prev_end is not None and not _gap_ok(masked, prev_end, start):
            break
        if kind == "num":
            amount = parse_amount(value)
            if group is not None or amount is None or (last_multiplier is not None and amount >= last_multiplier):
                break
            group, smallest, group_is_digits = amount, 0, True
        elif value in NUMBER_WORDS:
            number, place = NUMBER_WORDS[value]
            if place == 0:  # тысяча, миллион, «к» after digits
                if value in _DIGIT_ONLY_MULTIPLIERS and not (group_is_digits and prev_end == start):
                    break
                if last_multiplier is not None and number >= last_multiplier:
                    break
                total += (group if group is not None else Decimal(1)) * number
                group, smallest, group_is_digits, last_multiplier = None, 1000, False, number
            elif place == -1:  # полтора: a whole group by itself
                if group is not None:
                    break
                group, smallest = Decimal("1.5"), 0
            elif value.startswith("hundred"):  # «two hundred»
                if group is None or group >= 10 or group_is_digits:
                    break
                group, smallest = group * 100, 100
            else:
                if group_is_digits or place >= smallest:
                    break
                group = (group or Decimal(0)) + number
                smallest = 1 if 10 <= number < 20 else place  # a teen fills the units too
        else:
            break
        used += 1
        prev_end = end
    if not used:
        return None, 0
    return total + (group or Decimal(0)), used


# ------------------------------------------------------------------------------------------------ money

CURRENCY_AFTER = re.compile(
    r"\s*(?:₽|руб(?:лей|ля|ль|\.|\b)|р\.|р\b|rub(?:les?)?\b|\$|usd\b|€|eur\b|euros?\b|евро\b|долл\w*|dollars?\b|"
    r"₸|тенге\b|тг\b|br\b|byn\b|₴|грн\b|uah\b)", re.IGNORECASE)
CURRENCY_BEFORE = re.compile(r"(?:\$|€|₽|usd|rub|eur)\s*$", re.IGNORECASE)
PERCENT_AFTER = re.compile(r"\s*(?:%|процент\w*|проц\.|percent\b|pct\b)", re.IGNORECASE)
# Words that introduce a price: a bare figure after them is money («за 21 990 — лучшая цена»).
PRICE_CUES = re.compile(
    r"(?:\bза|\bпо|\bвсего|\bлишь|\bтолько|\bот|\bстои\w*|\bстоят|\bстоимост\w*|\bцен[аеуыо]\w*|\bобойд\w*(?:\s+в)?|"
    r"\bотдад\w*|\bотдам|\bпродад\w*|\bпродам|\bпрода\w*\s+за|\bбудет|\bprice[ds]?(?:\s+is)?|\bcosts?|\bfor|"
    r"\bonly|\bjust|"
    r"\bat)\s*(?:всего|лишь|только|[:—–-])?\s*$", re.IGNORECASE)
PRICE_WORDS = re.compile(r"\b(?:стои\w*|стоят|стоимост\w*|цен[аеуыо]\w*|ценник\w*|руб\w*|прайс\w*|price\w*|"
                         r"costs?)\b|₽", re.IGNORECASE)
# After a bare figure, these words still leave it a price («за 24 990 и доставка»); any other word is its unit.
_CONNECTORS = frozenset("и или а но с со без вместо это то же уже вот плюс and or but with plus".split())


@dataclass(frozen=True)
class Money:
    raw: str  # as written, with its currency
    figure: str  # the figure alone («39 990»)
    value: Decimal
    start: int
    end: int
    explicit: bool  # a currency stands next to it
    spelled: bool


def _word_after(low: str, end: int) -> str | None:
    match = re.match(r"[\s\u00a0]*([^\W\d_]+)", low[end:])
    return match.group(1) if match else None


def _is_range_start(low: str, end: int) -> bool:
    return bool(re.match(r"\s*[–—-]\s*\d", low[end:])) or bool(re.match(r"\s*до\s+\d", low[end:]))


def money(text: str, nums: list[Number] | None = None) -> list[Money]:
    """The figures of `text` that are money: with a currency, or governed by a price word and followed by no unit."""
    low = lowered(text)
    out: list[Money] = []
    for n in nums if nums is not None else numbers(text):
        after = CURRENCY_AFTER.match(low, n.end)
        before = CURRENCY_BEFORE.search(low[max(0, n.start - 6):n.start])
        if after or before:
            end = after.end() if after else n.end
            start = n.start - len(before.group(0)) if before and not after else n.start
            out.append(Money(text[start:end].strip(), n.raw, n.value, start, end, True, n.spelled))
            continue
        if PERCENT_AFTER.match(low, n.end):
            continue
        if n.value < 100:
            continue
        unit = _word_after(low, n.end)
        if unit is not None and low[n.end:n.end + 1].isalpha():
            continue  # glued to a word: «100шт»
        if unit is not None and unit not in _CONNECTORS and not re.match(r"[\s\u00a0]*[,;.!?—–-]", low[n.end:]):
            continue  # «2800 Вт», «500 отзывов», «двадцать минут»
        if _is_range_start(low, n.end):
            continue
        if PRICE_CUES.search(low[max(0, n.start - 40):n.start]):
            out.append(Money(text[n.start:n.end], n.raw, n.value, n.start, n.end, False, n.spelled))
    return out


# -------------------------------------------------------------------------------------------- discounts

@dataclass(frozen=True)
class Discount:
    raw: str
    percent: Decimal | None  # None: an amount (see `amount`), to be set against the product's price
    amount: Decimal | None = None
    start: int = 0


DISCOUNT_WORDS = re.compile(r"скид|дисконт|промокод|уценк|дешевл|уступ|распродаж|акци[яиюей]|минус|\bsale\b|"
                            r"discount|promo|coupon|\boff\b|cheaper|markdown|reduced", re.IGNORECASE)
_TIMES_WORDS = {"два": 2, "две": 2, "2": 2, "три": 3, "3": 3, "четыре": 4, "4": 4, "пять": 5, "5": 5,
                "полтора": Fraction(3, 2), "1,5": Fraction(3, 2), "1.5": Fraction(3, 2), "десять": 10, "10": 10}
_FOLD_WORDS = {"вдвое": 2, "втрое": 3, "вчетверо": 4, "впятеро": 5, "вдесятеро": 10}
RELATIVE_DISCOUNTS: list[tuple[re.Pattern, object]] = [
    (re.compile(r"\b(?:за\s+|в\s+)?(?:пол\s*-?\s*цены|половин\w*\s+(?:от\s+)?(?:цены|стоимост\w*)|"
                r"half\s*-?\s*price|half\s+off|50\s*/\s*50)", re.IGNORECASE), Decimal(50)),
    (re.compile(r"\bв\s+(два|две|2|три|3|четыре|4|пять|5|полтора|1[.,]5|десять|10)\s+раз[а]?\s+"
                r"(?:дешевле|меньше|ниже)", re.IGNORECASE), "times"),
    (re.compile(r"\b(вдвое|втрое|вчетверо|впятеро|вдесятеро)\s+(?:дешевле|меньше|ниже)", re.IGNORECASE), "fold"),
    (re.compile(r"\bна\s+треть\s+(?:дешевле|меньше|ниже)|\bскидк\w*\s+(?:в\s+)?треть", re.IGNORECASE), Decimal(33)),
    (re.compile(r"\bна\s+четверть\s+(?:дешевле|меньше|ниже)|\bскидк\w*\s+(?:в\s+)?четверть", re.IGNORECASE),
     Decimal(25)),
    (re.compile(r"\bна\s+половину\s+(?:дешевле|меньше)", re.IGNORECASE), Decimal(50)),
    (re.compile(r"\b(half|twice)\s+(?:as\s+)?(?:cheap|cheaper|the price)", re.IGNORECASE), Decimal(50)),
]
GIFT_WORDS = re.compile(r"\bв\s+подар\w*|\bбесплатн\w*|\bдаром\b|\bfor\s+free\b|\bfree\s+of\s+charge\b|"
                        r"\bfree\b|\bgift\b|\bза\s+наш\s+сч[её]т", re.IGNORECASE)
# An amount is a discount (not a price) when the words around it say so: «скидка 5 000 ₽», «на 3 000 ₽ дешевле».
_AMOUNT_IS_DISCOUNT_BEFORE = re.compile(r"(?:скидк\w*|дисконт\w*|минус|уступ\w*|[-−])\s*(?:в|на)?\s*$",
                                        re.IGNORECASE)
_AMOUNT_IS_DISCOUNT_AFTER = re.compile(r"\s*(?:дешевле|меньше|скидк\w*|off\b|cheaper)", re.IGNORECASE)


def _times(word: str):
    word = word.lower()
    return _FOLD_WORDS.get(word) or _TIMES_WORDS.get(word.replace(" ", ""), 2)


def discounts(text: str, nums: list[Number] | None = None,
              money_: list[Money] | None = None) -> tuple[list[Discount], set[int]]:
    """The discounts a text offers: percentages in a discount context («скидка 15%», «-10%», «пятнадцать
    процентов скидки»), relative phrases («за полцены», «в два раза дешевле») and amounts («скидка 5 000 ₽»).
    Returns them and the start offsets of the money figures that are discount amounts, not prices."""
    low = lowered(text)
    nums = nums if nums is not None else numbers(text)
    money_ = money_ if money_ is not None else money(text, nums)
    found: list[Discount] = []
    in_context = bool(DISCOUNT_WORDS.search(low))
    for n in nums:
        percent = PERCENT_AFTER.match(low, n.end)
        if not percent:
            continue
        minus = re.search(r"[-−–]\s?$", low[max(0, n.start - 2):n.start])
        if in_context or minus:
            found.append(Discount(text[n.start:percent.end()].strip(), n.value, start=n.start))
    for pattern, value in RELATIVE_DISCOUNTS:
        for match in pattern.finditer(low):
            if value == "times":
                percent = Decimal(round(float(100 - Fraction(100) / Fraction(_times(match.group(1))))))
            elif value == "fold":
                percent = Decimal(round(float(100 - Fraction(100) / _FOLD_WORDS[match.group(1).lower()])))
            else:
                percent = value
            found.append(Discount(text[match.start():match.end()].strip(), percent, start=match.start()))
    amounts: set[int] = set()
    for m in money_:
        if (_AMOUNT_IS_DISCOUNT_BEFORE.search(low[max(0, m.start - 20):m.start])
                or _AMOUNT_IS_DISCOUNT_AFTER.match(low, m.end)):
            found.append(Discount(m.raw, None, m.value, start=m.start))
            amounts.add(m.start)
    found.sort(key=lambda d: d.start)
    return found, amounts


# -------------------------------------------------------------------------------------------- durations

@dataclass(frozen=True)
class Duration:
    raw: str
    low: Fraction  # days
    high: Fraction | None  # days; None: open-ended («от 2 дней»)
    start: int
    end: int

    def matches(self, other: Duration) -> bool:
        """The same term: the same longest wait («до 7 дней», «7 дней» and «2–7 дней» all say a week at most;
        «12 месяцев» is «год»; «завтра» is not «2–7 дней»), or the same open-ended start («от 2 дней»)."""
        if self.high is None or other.high is None:
            return self.high == other.high and self.low == other.low
        return self.high == other.high


_UNIT_DAYS: list[tuple[re.Pattern, Fraction]] = [
    (re.compile(r"минут\w*|мин\b\.?|minutes?\b|mins?\b"), Fraction(1, 1440)),
    (re.compile(r"час(?:а|ов|у|ом)?\b|ч\b\.?|hours?\b|hrs?\b"), Fraction(1, 24)),
    (re.compile(r"сут(?:ки|ок|кам|ками)\b"), Fraction(1)),
    (re.compile(r"д(?:ень|ня|ней|ням|нями|нях)\b|дн\.|days?\b"), Fraction(1)),
    (re.compile(r"недел\w*|нед\.|weeks?\b"), Fraction(7)),
    (re.compile(r"месяц\w*|мес\.?|months?\b"), Fraction(30)),
    (re.compile(r"год(?:а|у|ом|ы|ов)?\b|лет\b|years?\b"), Fraction(360)),
]
_UNIT_RE = re.compile(r"(?:(?:рабоч|календарн|business|working|calendar)\w*\s+)?"
                      r"(?P<unit>минут\w*|мин\b\.?|час(?:а|ов|у|ом)?\b|ч\b\.?|сут(?:ки|ок|кам|ками)\b|"
                      r"д(?:ень|ня|ней|ням|нями|нях)\b|дн\.|недел\w*|нед\.|месяц\w*|мес\b\.?|"
                      r"год(?:а|у|ом|ы|ов)?\b|лет\b|minutes?\b|mins?\b|hours?\b|hrs?\b|days?\b|weeks?\b|"
                      r"months?\b|years?\b)")
_UPTO_BEFORE = re.compile(r"(?:в\s+течени[ие]|в\s+пределах|не\s+более|не\s+дольше|не\s+позднее|максимум|\bдо|"
                          r"\bза|within|up\s+to|no\s+more\s+than|in\s+under|under|at\s+most)\s*$")
_FROM_BEFORE = re.compile(r"(?:\bот|не\s+менее|не\s+раньше|минимум|from|at\s+least)\s*$")
# A duration these words follow is not a term of the business: «за час до приезда», «3 дня назад», «до 60 минут
# работы» (a battery), «нагрев за 30 секунд».
_NOT_A_TERM_AFTER = re.compile(r"\s*(?:до\s+(?:приезд|доставк|начал|встреч|отправ|окончан|конц)\w*|назад\b|"
                               r"работ\w*|автономн\w*|без\s+подзаряд\w*|заряд\w*|воспроизв\w*|ago\b|of\s+battery|"
                               r"battery|playback)")
# Implicit «1»: «за час», «в течение года», «на год»; only after a preposition, never «добрый день».
_IMPLICIT_ONE = re.compile(r"(?:\bв\s+течени[ие]|\bв\s+пределах|\bза|\bчерез|\bна|\bоколо|\bwithin|\bin\s+an?|"
                           r"\bfor\s+an?|\bгаранти\w*(?:\s*[:—–-])?|\bwarranty(?:\s+is)?(?:\s*[:—–-])?)\s+"
                           r"(?P<unit>час(?:а|у)?|сутки|суток|день|дня|недел[июья]|месяц(?:а|у)?|год(?:а|у)?|"
                           r"hour|day|week|month|year)\b")
_HALF_UNITS = re.compile(r"\b(?P<half>пол\s*-?\s*|полу)(?P<unit>часа|года|месяца|суток|дня)\b|"
                         r"\b(?P<more>полтора|полторы|полутора)\s+(?P<unit2>час\w*|год\w*|месяц\w*|недел\w*|д\w+|сут\w+)")
_RELATIVE: list[tuple[re.Pattern, Fraction, Fraction]] = [
    (re.compile(r"\bпослезавтра\b|\bthe\s+day\s+after\s+tomorrow\b"), Fraction(2), Fraction(2)),
    (re.compile(r"\bзавтра\b|\bна\s+следующий\s+день\b|\bна\s+другой\s+день\b|\btomorrow\b|\bnext[\s-]day\b"),
     Fraction(1), Fraction(1)),
    (re.compile(r"\bсегодня\b|\bв\s+тот\s+же\s+день\b|\bв\s+день\s+(?:заказа|обращения|оплаты)\b|"
                r"\bдень\s+в\s+день\b|\btoday\b|\bsame[\s-]day\b"), Fraction(0), Fraction(0)),
    (re.compile(r"\bв\s+течение\s+(?:этого\s+)?дня\b|\bwithin\s+(?:the|a)\s+day\b"), Fraction(0), Fraction(1)),
]


def _unit_days(unit: str) -> Fraction:
    for pattern, days in _UNIT_DAYS:
        if pattern.fullmatch(unit) or pattern.match(unit):
            return days
    return Fraction(1)


def durations(text: str, nums: list[Number] | None = None) -> list[Duration]:
    """Every term in `text`, each a range of days."""
    low = lowered(text)
    nums = nums if nums is not None else numbers(text)
    found: list[Duration] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, lo: Fraction, hi: Fraction | None) -> None:
        if _NOT_A_TERM_AFTER.match(low, end):
            return
        if any(a < end and start < b for a, b in taken):
            return
        before = low[max(0, start - 30):start]
        if _UPTO_BEFORE.search(before) and lo == hi:
            lo = Fraction(0)
        elif _FROM_BEFORE.search(before) and lo == hi:
            hi = None
        taken.append((start, end))
        found.append(Duration(text[start:end], lo, hi, start, end))

    by_start = sorted(nums, key=lambda n: n.start)
    for k, n in enumerate(by_start):
        unit = _UNIT_RE.match(low, _skip_space(low, n.end))
        if unit:
            days = _unit_days(unit.group("unit"))
            value = Fraction(str(n.value))
            first = _range_start(low, by_start, k)
            if first is not None:
                add(first.start, unit.end(), Fraction(str(first.value)) * days, value * days)
            else:
                add(n.start, unit.end(), value * days, value * days)
    for match in _HALF_UNITS.finditer(low):
        unit = match.group("unit") or match.group("unit2")
        factor = Fraction(1, 2) if match.group("half") else Fraction(3, 2)
        days = _unit_days(unit) * factor
        add(match.start(), match.end(), days, days)
    for pattern, lo, hi in _RELATIVE:
        for match in pattern.finditer(low):
            add(match.start(), match.end(), lo, hi)
    for match in _IMPLICIT_ONE.finditer(low):
        days = _unit_days(match.group("unit"))
        start = match.start("unit")
        prefix = low[match.start():start]
        lo = Fraction(0) if re.match(r"\s*(?:в\s+течени|в\s+пределах|за|within|in)", prefix) else days
        if any(a < match.end() and start < b for a, b in taken):
            continue
        if _NOT_A_TERM_AFTER.match(low, match.end()):
            continue
        taken.append((start, match.end()))
        found.append(Duration(text[start:match.end()], lo, days, start, match.end()))
    found.sort(key=lambda d: d.start)
    return found


def _skip_space(low: str, i: int) -> int:
    while i < len(low) and low[i] in " \u00a0\u202f":
        i += 1
    return i


def _range_start(low: str, nums: list[Number], k: int) -> Number | None:
    """The first figure of a range ending with nums[k]: «2–7 дней», «от 2 до 7 дней», «2 - 7 days»."""
    if k == 0:
        return None
    prev, n = nums[k - 1], nums[k]
    between = low[prev.end:n.start]
    if re.fullmatch(r"\s*(?:[–—-]|до|to|and|или|or)\s*", between) and prev.value < n.value:
        return prev
    return None


# ------------------------------------------------------------------------------------------------ places

# Cities by stem (matched in lower case, ё → е), by the name a manager reads. A sentence «по Москве» is about Moscow; «по России» names no city.
CITIES: dict[str, str] = {
    "Москва": r"москв\w*|мкад|moscow",
    "Санкт-Петербург": r"петербург\w*|питер\w*|спб|st\.?\s*petersburg|saint\s+petersburg",
    "Казань": r"казан[ьиюе]\w*|kazan",
    "Екатеринбург": r"екатеринбург\w*|екб|ekaterinburg|yekaterinburg",
    "Новосибирск": r"новосибирск\w*|novosibirsk",
    "Нижний Новгород": r"нижн\w+\s+новгород\w*|nizhny\s+novgorod",
    "Самара": r"самар[аеуы]\w*|samara",
    "Омск": r"омск\w*|omsk",
    "Томск": r"томск\w*|tomsk",
    "Ростов-на-Дону": r"ростов\w*|rostov",
    "Уфа": r"уф[аеуы]|уфой|ufa",
    "Красноярск": r"красноярск\w*|krasnoyarsk",
    "Пермь": r"перм[ьиюе]\w*|perm",
    "Воронеж": r"воронеж\w*|voronezh",
    "Волгоград": r"волгоград\w*|volgograd",
    "Краснодар": r"краснодар\w*|krasnodar",
    "Саратов": r"саратов\w*|saratov",
    "Тюмень": r"тюмен\w*|tyumen",
    "Тольятти": r"тольятти",
    "Ижевск": r"ижевск\w*",
    "Барнаул": r"барнаул\w*",
    "Ульяновск": r"ульяновск\w*",
    "Иркутск": r"иркутск\w*|irkutsk",
    "Хабаровск": r"хабаровск\w*|khabarovsk",
    "Ярославль": r"ярославл\w*|yaroslavl",
    "Владивосток": r"владивосток\w*|vladivostok",
    "Махачкала": r"махачкал\w*",
    "Оренбург": r"оренбург\w*",
    "Кемерово": r"кемерово",
    "Новокузнецк": r"новокузнецк\w*",
    "Рязань": r"рязан\w*",
    "Астрахань": r"астрахан\w*",
    "Пенза": r"пенз[аеуы]\w*",
    "Липецк": r"липецк\w*",
    "Калининград": r"калининград\w*|kaliningrad",
    "Тула": r"тул[аеуы]|тулой",
    "Курск": r"курск\w*",
    "Сочи": r"сочи|sochi",
    "Ставрополь": r"ставропол\w*",
    "Тверь": r"твер[ьиюе]\w*",
    "Брянск": r"брянск\w*",
    "Белгород": r"белгород\w*",
    "Сургут": r"сургут\w*",
    "Архангельск": r"архангельск\w*",
    "Смоленск": r"смоленск\w*",
    "Калуга": r"калуг\w*",
    "Мурманск": r"мурманск\w*",
    "Чебоксары": r"чебоксар\w*",
    "Киров": r"киров(?:а|е|у|ом)?",
    "Минск": r"минск\w*|minsk",
    "Алматы": r"алматы|almaty",
    "Астана": r"астан[аеуы]\w*|astana",
}
_CITY_NAMES = list(CITIES)
_CITIES_RE = re.compile("|".join(rf"\b(?P<c{i}>{pattern})\b" for i, pattern in enumerate(CITIES.values())))
# «Тверская улица» is a street of Moscow, not Tver.
_STREET_LIKE = re.compile(r"\bтверск\w*\s+(?:ул|улиц|пл)|\b(?:ул|улица|ул\.)\s+\w+")


def places(text: str) -> set[str]:
    low = lowered(text)
    low = _STREET_LIKE.sub(" ", low)
    return {_CITY_NAMES[int(m.lastgroup[1:])] for m in _CITIES_RE.finditer(low)}


# ------------------------------------------------------------------------------------------------ topics

TOPICS: dict[str, re.Pattern] = {
    "delivery": re.compile(r"\b(?:достав\w*|привез\w*|привоз\w*|курьер\w*|сдэк\w*|cdek|почт[аоуыей]\w*|отправ\w*|"
                           r"выдач\w*|самовывоз\w*|придет|придут|приедет|доед\w*|получите\s+заказ|ship\w*|"
                           r"deliver\w*|courier|arriv\w*|dispatch\w*|pick\s*-?up)", re.IGNORECASE),
    "warranty": re.compile(r"\b(?:гарант\w*|warrant\w*|guarantee\w*)", re.IGNORECASE),
    "return": re.compile(r"\b(?:возвра\w*|вернуть|верн[её]м|верните|вернут|обмен\w*|обменя\w*|return\w*|refund\w*|"
                         r"exchange\w*)", re.IGNORECASE),
}


def topics(text: str) -> set[str]:
    low = lowered(text)
    return {name for name, pattern in TOPICS.items() if pattern.search(low)}


# --------------------------------------------------------------------------------------------- addresses

@dataclass(frozen=True)
class Address:
    raw: str
    street: str  # the street's name, lower case, without its ending («тверск»)
    number: str  # the house number («12», «12а»)


_STREET_KIND = (r"ул\.|улица|улице|улицу|пр-т|просп\.|проспект\w*|пер\.|переул\w*|ш\.|шоссе|б-р|бульвар\w*|"
                r"наб\.|набережн\w*|пл\.|площад\w*|street|st\.|avenue|ave\.|road|rd\.")
_ADDRESS_RE = re.compile(
    rf"(?:\b|(?<=\W))(?:{_STREET_KIND})\s*(?P<name>[А-ЯЁA-Z][\w-]+(?:\s+[А-ЯЁA-Z][\w-]+)?)[,\s]+"
    rf"(?:д\.\s*|дом\s+)?(?P<number>\d+[а-яa-z]?(?:/\d+)?)\b"
    rf"|(?P<name2>[А-ЯЁ][\w-]+(?:ая|ой|ий|ый|ого|ей))\s+(?:улиц\w*|ул\.|проспект\w*|шоссе|площад\w*)[,\s]+"
    rf"(?:д\.\s*|дом\s+)?(?P<number2>\d+[а-яa-z]?)\b")


def addresses(text: str) -> list[Address]:
    """Street addresses: «ул. Тверская, 12», «улица Ленина, д. 5», «Тверская улица, 12», «Main St. 5»."""
    out = []
    for match in _ADDRESS_RE.finditer(text):
        name = match.group("name") or match.group("name2")
        number = match.group("number") or match.group("number2")
        word = lowered(name.split()[0])
        stem_ = re.sub(r"(?:ая|ой|ий|ый|ого|ей|ую|ом|а|у|е|ы)$", "", word) if len(word) > 5 else word
        out.append(Address(" ".join(match.group(0).split()), stem_, number.lower()))
    return out


def address_in(address: Address, text: str) -> bool:
    """`text` names the same street and house number."""
    low = lowered(text)
    return any(a.street == address.street and a.number == address.number for a in addresses(text)) or bool(
        re.search(rf"\b{re.escape(address.street)}\w*[,\s]+(?:д\.\s*|дом\s+)?{re.escape(address.number)}\b", low))
