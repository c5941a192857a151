"""One way to cut a long text into messages, for every destination: a post in a manager group (bot/render.py), a
reply through VK, a Telegram account or a Telegram Business connection (userbots/gateway.py). Sending and editing a
reply cut it the same way (userbots.gateway.edit_plan relies on it), so each part can be matched to the message it
became.

Each destination passes its own limit and how it counts length: Telegram counts UTF-16 code units (an emoji outside
the Basic Multilingual Plane is 2), VK counts characters.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

PARAGRAPH, LINE, WORD = "\n\n", "\n", " "
ZWJ = "\u200d"


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def _fits(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """How many characters of `text` fit in `limit` as `measure` counts them (never splitting a character)."""
    if measure is len:
        return min(len(text), limit)
    if measure is utf16_len:
        units = 0
        for n, c in enumerate(text):
            units += 2 if ord(c) > 0xFFFF else 1
            if units > limit:
                return n
        return len(text)
    lo, hi = 0, len(text)  # any other measure: the longest prefix that fits (measures grow with the prefix)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if measure(text[:mid]) <= limit else (lo, mid - 1)
    return lo


def _clings(before: str, after: str) -> bool:
    """Whether cutting between these two characters would break one visible symbol: a combining mark, a variation
    selector, an emoji modifier or a tag belongs to the character before it, a zero-width joiner glues an emoji
    sequence."""
    if after == ZWJ or before == ZWJ or unicodedata.combining(after) or unicodedata.category(after) == "Me":
        return True
    code = ord(after)
    return 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F


def _flag_half(c: str) -> bool:
    return 0x1F1E6 <= ord(c) <= 0x1F1FF  # a regional indicator: two of them make one flag


def _hard_cut(text: str, end: int) -> int:
    """`end`, moved back (a few characters at most) so that it does not cut a symbol in two."""
    cut = end
    while 0 < cut < len(text) and end - cut < 16 and _clings(text[cut - 1], text[cut]):
        cut -= 1
    if 0 < cut < len(text) and _flag_half(text[cut]) and _flag_half(text[cut - 1]):
        start = cut  # a run of regional indicators pairs up from its start: cut between pairs
        while start > 0 and _flag_half(text[start - 1]):
            start -= 1
        cut -= (cut - start) % 2
    return cut if cut > 0 else end


def split_text(text: str, limit: int, *, measure: Callable[[str], int] = len) -> list[str]:
    """Parts of at most `limit` (as `measure` counts), cut at a paragraph break, else a line break, else a space —
    the last one in the part, provided it leaves the part at least half full; else the part is cut at the limit
    (never inside a character or an emoji sequence). The whitespace of a break is dropped; nothing else is.
    An empty text has no parts."""
    if limit < 2:
        raise ValueError("a part must hold at least two characters")
    parts: list[str] = []
    rest = text
    while measure(rest) > limit:
        end = _fits(rest, limit, measure)
        window = rest[:end]
        cut = next((c for c in (window.rfind(sep) for sep in (PARAGRAPH, LINE, WORD)) if c >= end // 2), None)
        if cut is None:
            cut = _hard_cut(rest, end)
            part, rest = rest[:cut], rest[cut:]
        else:
            part, rest = rest[:cut].rstrip(" \n"), rest[cut:].lstrip(" \n")
        if part:
            parts.append(part)
    if rest:
        parts.append(rest)
    return parts
