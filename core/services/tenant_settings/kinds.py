"""The kinds of value a setting can hold, each knowing how it is read from text (the CLI, the bot) or from a typed
value (the Mini App's JSON), how it is shown (what `show` prints is what `set` accepts back) and how it goes into
JSON: Kind, the base every kind extends, and the general kinds — yes/no, numbers, a choice of words, text, a time of
day, a list of another kind, a Telegram chat id. Kinds that check against something outside the value are in
domain_kinds, the working week in hours."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import time
from typing import Any

from .base import SettingsError, hhmm, number_text, quoted

class Kind:
    """How one kind of value is read from text or a typed value, shown, and put in JSON."""

    accepts_key = "settings.accepts.text"
    null_words: frozenset[str] = frozenset()

    def __init__(self, *, nullable: bool = False):
        self.nullable = nullable

    def accepts(self) -> tuple[str, dict]:
        return self.accepts_key, {}

    def bad(self, key: str, value: Any) -> SettingsError:
        return SettingsError(key, "value", accepts=self.accepts(), value=quoted(value))

    def from_text(self, key: str, raw: str) -> Any:
        text = raw.strip()
        if self.nullable and text.lower() in ({"", "-"} | self.null_words):
            return None
        return self.parse(key, text)

    def from_value(self, key: str, value: Any) -> Any:
        if isinstance(value, str):
            return self.from_text(key, value)
        if value is None:
            if self.nullable:
                return None
            raise self.bad(key, "null")
        return self.typed(key, value)

    def parse(self, key: str, text: str) -> Any:
        raise NotImplementedError

    def typed(self, key: str, value: Any) -> Any:
        raise self.bad(key, value)

    def to_json(self, value: Any) -> Any:
        return value

    def to_text(self, value: Any) -> str:
        return "-" if value is None else str(value)


class BoolKind(Kind):
    accepts_key = "settings.accepts.bool"
    TRUE = frozenset({"true", "yes", "on", "1", "y", "да", "вкл", "включено"})
    FALSE = frozenset({"false", "no", "off", "0", "n", "нет", "выкл", "выключено"})

    def parse(self, key, text):
        word = text.lower()
        if word in self.TRUE:
            return True
        if word in self.FALSE:
            return False
        raise self.bad(key, text)

    def typed(self, key, value):
        if isinstance(value, bool):
            return value
        raise self.bad(key, value)

    def to_text(self, value):
        return "true" if value else "false"


class NumberKind(Kind):
    accepts_key = "settings.accepts.number"

    def __init__(self, low: float, high: float, *, percent: bool = False, integer: bool = False, **kw):
        super().__init__(**kw)
        self.low, self.high, self.percent, self.integer = low, high, percent, integer
        if integer:
            self.accepts_key = "settings.accepts.integer"

    def accepts(self):
        return self.accepts_key, {"min": number_text(self.low), "max": number_text(self.high)}

    def parse(self, key, text):
        body = text.replace(",", ".").replace(" ", "")
        scale = 1.0
        if body.endswith("%"):
            body = body[:-1]
            scale = 1.0 if self.integer else 0.01
            if not self.percent and not self.integer:
                raise self.bad(key, text)
        try:
            number = float(body) * scale
        except ValueError:
            raise self.bad(key, text) from None
        return self._checked(key, number, text)

    def typed(self, key, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.bad(key, value)
        return self._checked(key, float(value), value)

    def _checked(self, key, number: float, shown) -> float | int:
        if not math.isfinite(number) or not (self.low <= number <= self.high):
            raise self.bad(key, shown)
        if self.integer:
            if number != int(number):
                raise self.bad(key, shown)
            return int(number)
        return round(number, 6)

    def to_text(self, value):
        return "-" if value is None else number_text(value)


class ChoiceKind(Kind):
    accepts_key = "settings.accepts.choice"

    def __init__(self, values: Iterable[str], enum: type | None = None, **kw):
        super().__init__(**kw)
        self.values = tuple(values)
        self.enum = enum

    def accepts(self):
        return self.accepts_key, {"choices": " | ".join(self.values)}

    def parse(self, key, text):
        word = text.lower().replace("-", "_")
        if word not in self.values:
            raise self.bad(key, text)
        return self.enum(word) if self.enum else word

    def typed(self, key, value):
        if self.enum is not None and isinstance(value, self.enum):
            return value
        raise self.bad(key, value)

    def to_json(self, value):
        return getattr(value, "value", value)

    def to_text(self, value):
        return str(self.to_json(value))


class TimeKind(Kind):
    """A time of day, HH:MM; nullable ("off") for reports that are not sent."""

    accepts_key = "settings.accepts.time"
    null_words = frozenset({"off", "none", "выкл", "нет"})

    def parse(self, key, text):
        parsed = hhmm(text)
        if parsed is None:
            raise self.bad(key, text)
        return parsed

    def typed(self, key, value):
        if isinstance(value, time) and value.second == 0 and value.microsecond == 0 and value.tzinfo is None:
            return value
        raise self.bad(key, value)

    def to_json(self, value):
        return None if value is None else value.strftime("%H:%M")

    def to_text(self, value):
        return "off" if value is None else value.strftime("%H:%M")


class TextKind(Kind):
    accepts_key = "settings.accepts.text"

    def __init__(self, max_length: int, **kw):
        super().__init__(**kw)
        self.max_length = max_length

    def accepts(self):
        return self.accepts_key, {"max": self.max_length}

    def parse(self, key, text):
        if not text or len(text) > self.max_length:
            raise self.bad(key, text)
        return text


class ListKind(Kind):
    """A list; text is comma-separated, an empty text or "-" is the empty list."""

    def __init__(self, item: Kind, *, max_items: int = 50, unique: bool = True):
        super().__init__()
        self.item = item
        self.max_items = max_items
        self.unique = unique

    def accepts(self):
        return self.item.accepts()

    def bad(self, key, value):
        return self.item.bad(key, value)

    def from_text(self, key, raw):
        text = raw.strip()
        if text in ("", "-"):
            return []
        return self._checked(key, [self.item.from_text(key, part) for part in text.split(",") if part.strip()])

    def typed(self, key, value):
        if not isinstance(value, (list, tuple)):
            raise self.bad(key, value)
        return self._checked(key, [self.item.from_value(key, item) for item in value])

    def _checked(self, key, items: list) -> list:
        if len(items) > self.max_items:
            raise SettingsError(key, "many", max=self.max_items)
        out: list = []
        for item in items:
            if not (self.unique and item in out):
                out.append(item)
        return out

    def to_json(self, value):
        return [self.item.to_json(v) for v in value]

    def to_text(self, value):
        return ", ".join(self.item.to_text(v) for v in value) if value else "-"


class ChatIdKind(Kind):
    accepts_key = "settings.accepts.chat"
    null_words = frozenset({"none", "off", "нет"})
    LIMIT = 2**63 - 1

    def parse(self, key, text):
        if not re.fullmatch(r"-?\d{1,19}", text):
            raise self.bad(key, text)
        return self._checked(key, int(text), text)

    def typed(self, key, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.bad(key, value)
        return self._checked(key, value, value)

    def _checked(self, key, number: int, shown) -> int:
        if number == 0 or abs(number) > self.LIMIT:
            raise self.bad(key, shown)
        return number
