"""The working week in text: days and hours as people type them ("mon-fri 09:00-21:00, sat 10:00-18:00, sun closed",
in English or Russian) read into {"mon": ["09:00", "21:00"], ...}, written back in the same form, and HoursKind, the
setting kind for working_hours that also takes the week as JSON."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ...i18n import t
from .base import SettingsError, hhmm, quoted
from .kinds import Kind

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

DAY_WORDS: dict[str, str] = {}
for _day, _words in {
    "mon": ("mon", "monday", "пн", "пон", "понедельник"),
    "tue": ("tue", "tues", "tuesday", "вт", "вторник"),
    "wed": ("wed", "wednesday", "ср", "среда"),
    "thu": ("thu", "thur", "thurs", "thursday", "чт", "четверг"),
    "fri": ("fri", "friday", "пт", "пятница"),
    "sat": ("sat", "saturday", "сб", "суббота"),
    "sun": ("sun", "sunday", "вс", "воскресенье"),
}.items():
    for _word in _words:
        DAY_WORDS[_word] = _day
EVERY_DAY_WORDS = frozenset({"daily", "everyday", "ежедневно"})
CLOSED_WORDS = frozenset({"closed", "off", "выходной", "закрыто", "нерабочий"})
_DASHES = re.compile(r"\s*[-–—]\s*")


def _span(key: str, start: str, end: str, shown: str) -> list[str]:
    a, b = hhmm(start), hhmm(end)
    if a is None or b is None or a == b:
        raise SettingsError(key, "value", accepts=("settings.accepts.hours", {}), value=quoted(shown))
    return [a.strftime("%H:%M"), b.strftime("%H:%M")]


def _days(key: str, token: str, shown: str) -> list[str]:
    if token in EVERY_DAY_WORDS:
        return list(WEEKDAYS)
    ends = token.split("-")
    if len(ends) == 1 and token in DAY_WORDS:
        return [DAY_WORDS[token]]
    if len(ends) == 2 and all(e in DAY_WORDS for e in ends):
        first, last = WEEKDAYS.index(DAY_WORDS[ends[0]]), WEEKDAYS.index(DAY_WORDS[ends[1]])
        return [WEEKDAYS[(first + i) % 7] for i in range((last - first) % 7 + 1)]
    raise SettingsError(key, "value", accepts=("settings.accepts.hours", {}), value=quoted(shown))


def parse_hours(text: str, key: str = "working_hours") -> dict[str, list[str]]:
    """"mon-fri 09:00-21:00, sat 10:00-18:00, sun closed" → {"mon": ["09:00", "21:00"], ...}; days not named are
    closed (absent), a later entry overrides an earlier one."""
    entries = [e.strip() for e in re.split(r"[,;\n]", text) if e.strip()]
    if not entries:
        raise SettingsError(key, "value", accepts=("settings.accepts.hours", {}), value=quoted(text))
    hours: dict[str, list[str] | None] = {}
    for entry in entries:
        tokens = _DASHES.sub("-", entry.lower()).split()
        spec, day_tokens = tokens[-1], tokens[:-1]
        if spec in CLOSED_WORDS:
            span = None
        else:
            ends = spec.split("-")
            if len(ends) != 2:
                raise SettingsError(key, "value", accepts=("settings.accepts.hours", {}), value=quoted(entry))
            span = _span(key, ends[0], ends[1], entry)
        days = [d for token in day_tokens for d in _days(key, token, entry)] if day_tokens else list(WEEKDAYS)
        for day in days:
            hours[day] = span
    return {d: hours[d] for d in WEEKDAYS if hours.get(d)}


def format_hours(hours: Mapping[str, list[str]] | None, locale: str | None = None) -> str:
    """The week in the text form parse_hours reads: runs of days with the same hours, closed days named.
    With a locale, the day names and words are that language's (the bot's panel); without, the canonical form."""
    hours = hours or {}

    def word(name: str) -> str:
        return t(f"settings.day.{name}", locale) if locale else name

    def spec(span) -> str:
        return f"{span[0]}-{span[1]}" if span else word("closed")

    runs: list[tuple[int, int, tuple | None]] = []
    for index, day in enumerate(WEEKDAYS):
        span = tuple(hours[day]) if hours.get(day) else None
        if runs and runs[-1][2] == span:
            runs[-1] = (runs[-1][0], index, span)
        else:
            runs.append((index, index, span))
    if len(runs) == 1:
        return f"{word('daily')} {spec(runs[0][2])}"
    parts = []
    for first, last, span in runs:
        days = word(WEEKDAYS[first]) if first == last else f"{word(WEEKDAYS[first])}-{word(WEEKDAYS[last])}"
        parts.append(f"{days} {spec(span)}")
    return ", ".join(parts)


class HoursKind(Kind):
    accepts_key = "settings.accepts.hours"

    def parse(self, key, text):
        return parse_hours(text, key)

    def typed(self, key, value):
        if not isinstance(value, Mapping):
            raise self.bad(key, value)
        hours: dict[str, list[str]] = {}
        for day, span in value.items():
            if day not in WEEKDAYS:
                raise self.bad(key, day)
            if span is None or (isinstance(span, str) and span.strip().lower() in CLOSED_WORDS):
                continue
            if isinstance(span, str):
                span = re.split(r"\s*[-–—]\s*", span.strip())
            if not isinstance(span, (list, tuple)) or len(span) != 2 or not all(isinstance(s, str) for s in span):
                raise self.bad(key, f"{day} {span}")
            hours[day] = _span(key, span[0], span[1], f"{day} {span[0]}-{span[1]}")
        return {d: hours[d] for d in WEEKDAYS if d in hours}

    def to_text(self, value):
        return format_hours(value)
