"""Tenant settings: one typed schema of everything that decides how the product behaves for a business, with one
validation shared by the CLI (`salesop settings`), the bot (/settings) and the Mini App.

Every key is named as the Tenant column it lives in (the API key is kept encrypted in `elevenlabs_api_key_enc`).
A value arrives either as text (the CLI's `key=value`, a message in the bot) or as a typed value (JSON from the Mini
App); a string is always read as text, so both paths accept the same words.

Text forms (what `show` prints is what `set` accepts back):
  booleans       true/false, yes/no, on/off, 1/0, да/нет, вкл/выкл
  numbers        0.85, 0,85 or 85% for the thresholds
  lists          comma-separated: greeting, shipping; an empty value or "-" is the empty list
  times          HH:MM (24 hours); "off" or "-" for no report
  working_hours  days and hours, comma-separated: "mon-fri 09:00-21:00, sat 10:00-18:00, sun closed".
                 Days: mon tue wed thu fri sat sun (or пн вт ср чт пт сб вс), a range "mon-fri", several days
                 "sat sun", or "daily"/"ежедневно". Hours "HH:MM-HH:MM"; an end before the start runs past
                 midnight (18:00-02:00). "closed" (выходной) closes a day. Days not named are closed; a later
                 entry overrides an earlier one; a bare "09:00-21:00" means every day.
  nullable text  empty or "-" clears it

A change is all or nothing: every value is checked, then the resulting combination (0 ≤ t_escalate < t_auto ≤ 1,
voice needs a key and a voice), and only then is anything written. A refusal is one SettingsError naming the key and
what is accepted, in English by default and in any locale through `.text(locale)`. Each change that alters something
is one "settings_changed" event with who made it and the old and new values (the API key masked).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ... import events
from ...crypto import SecretBox
from ...errors import ConfigError, UserError
from ...i18n import t
from ...ai.intents import CUSTOM_INTENT_NAME, tenant_intents
from ...models import AddressForm, DelayProfile, Intent, NightMode, Tenant, Tone

EVENT_KIND = "settings_changed"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MASK = "••••"


class SettingsError(UserError):
    """A refused setting. `str()` is one English line naming the key; `.text(locale)` is the same in any locale."""

    def __init__(self, key: str, code: str, *, accepts: tuple[str, dict] | None = None, **params):
        self.key = key
        self.accepts = accepts  # (text key, its variables): what the key accepts, rendered in the reader's locale
        self.code = f"settings.error.{code}"
        self.params = dict(params)
        super().__init__(self.text("en"))
        self.params = dict(params)

    def text(self, locale: str | None = None) -> str:
        params = dict(self.params)
        if self.accepts is not None:
            accepts_key, accepts_params = self.accepts
            params["accepts"] = t(accepts_key, locale, **accepts_params)
        return t(self.code, locale, setting=self.key, **params)


def _shown(value: Any, limit: int = 40) -> str:
    """A bad value as the one-line message quotes it."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------------------------------------ value types


class _Type:
    """How one kind of value is read from text or a typed value, shown, and put in JSON."""

    accepts_key = "settings.accepts.text"
    null_words: frozenset[str] = frozenset()

    def __init__(self, *, nullable: bool = False):
        self.nullable = nullable

    def accepts(self) -> tuple[str, dict]:
        return self.accepts_key, {}

    def bad(self, key: str, value: Any) -> SettingsError:
        return SettingsError(key, "value", accepts=self.accepts(), value=_shown(value))

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


class _Bool(_Type):
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


class _Number(_Type):
    accepts_key = "settings.accepts.number"

    def __init__(self, low: float, high: float, *, percent: bool = False, integer: bool = False, **kw):
        super().__init__(**kw)
        self.low, self.high, self.percent, self.integer = low, high, percent, integer
        if integer:
            self.accepts_key = "settings.accepts.integer"

    def accepts(self):
        return self.accepts_key, {"min": _num(self.low), "max": _num(self.high)}

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
        return "-" if value is None else _num(value)


class _Choice(_Type):
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


class _Currency(_Type):
    accepts_key = "settings.accepts.currency"

    def parse(self, key, text):
        code = text.upper()
        if not re.fullmatch(r"[A-Z]{3}", code) or code not in _currencies():
            raise self.bad(key, text)
        return code


class _TimeZone(_Type):
    accepts_key = "settings.accepts.timezone"

    def parse(self, key, text):
        name = _timezones().get(text.lower())
        if name is None:
            raise self.bad(key, text)
        ZoneInfo(name)  # present in the list means loadable; this keeps a broken tz database loud
        return name


class _Time(_Type):
    """A time of day, HH:MM; nullable ("off") for reports that are not sent."""

    accepts_key = "settings.accepts.time"
    null_words = frozenset({"off", "none", "выкл", "нет"})

    def parse(self, key, text):
        parsed = _hhmm(text)
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


class _Text(_Type):
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


class _VoiceId(_Type):
    accepts_key = "settings.accepts.voice"

    def parse(self, key, text):
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text):
            raise self.bad(key, text)
        return text


class _Secret(_Type):
    """An API key: kept encrypted, shown masked, never quoted back in a message."""

    accepts_key = "settings.accepts.secret"

    def parse(self, key, text):
        if not re.fullmatch(r"[\x21-\x7e]{8,256}", text):
            raise SettingsError(key, "value", accepts=self.accepts(), value=MASK)
        return text

    def typed(self, key, value):
        raise SettingsError(key, "value", accepts=self.accepts(), value=MASK)

    def to_json(self, value):
        return mask(value) if value is not None else None

    def to_text(self, value):
        return mask(value) if value is not None else "-"


class _List(_Type):
    """A list; text is comma-separated, an empty text or "-" is the empty list."""

    def __init__(self, item: _Type, *, max_items: int = 50, unique: bool = True):
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


class _Intent(_Choice):
    """A built-in intent, or a name shaped like a tenant's own (core.ai.intents.tenant_intents): `update` then checks
    that the tenant has defined it."""

    accepts_key = "settings.accepts.intent"

    def __init__(self):
        super().__init__([i.value for i in Intent])

    def accepts(self):
        return self.accepts_key, {"choices": ", ".join(self.values)}

    def parse(self, key, text):
        word = text.lower().replace("-", "_")
        if word not in self.values and CUSTOM_INTENT_NAME.fullmatch(word):
            return word
        return super().parse(key, text)


def _check_tenant_intents(tenant: Tenant, parsed: Mapping[str, Any]) -> None:
    """intents_* may name the tenant's own intents (Tenant.extra["intents"]), and nothing else."""
    custom = list(tenant_intents(tenant))
    known = [i.value for i in Intent] + custom
    for key in ("intents_autosend", "intents_force_handoff", "intents_no_learning"):
        for name in parsed.get(key) or []:
            if name not in known:
                raise SettingsError(key, "value", accepts=("settings.accepts.intent", {"choices": ", ".join(known)}),
                                    value=_shown(name))


class _ChatId(_Type):
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


class _Hours(_Type):
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


class _CodePattern(_Type):
    """A campaign code in a customer's first message (core.services.traffic): a Python regular expression with
    exactly one group, the code. It runs on every message that opens a dialog, so a pattern that can take forever
    on some text — a repetition of something that itself repeats or branches, like (a+)+ or (a|ab)* — is refused."""

    accepts_key = "settings.accepts.pattern"
    MAX_LENGTH = 200

    def parse(self, key, text):
        import re._parser as sre  # the standard library's own parser: what re.compile will run

        if len(text) > self.MAX_LENGTH:
            raise self.bad(key, text)
        try:
            compiled = re.compile(text)
            parsed = sre.parse(text)
        except (re.error, OverflowError, RecursionError) as error:
            raise SettingsError(key, "pattern_syntax", value=_shown(text), reason=str(error)) from None
        if compiled.groups != 1:
            raise SettingsError(key, "pattern_groups", value=_shown(text), groups=compiled.groups)
        if _nested_repeat(sre, parsed.data if hasattr(parsed, "data") else list(parsed), inside=False):
            raise SettingsError(key, "pattern_nested", value=_shown(text))
        return text


def _nested_repeat(sre, items, *, inside: bool) -> bool:
    """True when a repetition (of more than one) holds another repetition or an alternation."""
    repeats = {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT)}
    for op, av in items:
        if op in repeats:
            low, high, sub = av
            many = high > 1
            if inside and many:
                return True
            if _nested_repeat(sre, list(sub), inside=inside or many):
                return True
        elif op is sre.BRANCH:
            if inside:
                return True
            if any(_nested_repeat(sre, list(branch), inside=inside) for branch in av[1]):
                return True
        elif op is sre.SUBPATTERN:
            if _nested_repeat(sre, list(av[-1]), inside=inside):
                return True
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            if _nested_repeat(sre, list(av[1]), inside=inside):
                return True
        elif op is sre.GROUPREF_EXISTS:
            if any(sub is not None and _nested_repeat(sre, list(sub), inside=inside) for sub in av[1:]):
                return True
    return False


# ------------------------------------------------------------------------------------------------ the schema


@dataclass(frozen=True)
class Setting:
    key: str
    type: _Type
    column: str  # the Tenant attribute it is stored in

    @property
    def secret(self) -> bool:
        return isinstance(self.type, _Secret)


def _s(key: str, type_: _Type, column: str | None = None) -> Setting:
    return Setting(key, type_, column or key)


SCHEMA: tuple[Setting, ...] = (
    _s("language", _Choice(("ru", "en"))),
    _s("tone", _Choice([v.value for v in Tone], Tone)),
    _s("address_form", _Choice([v.value for v in AddressForm], AddressForm)),
    _s("currency", _Currency()),
    _s("timezone", _TimeZone()),
    _s("working_hours", _Hours()),
    _s("t_auto", _Number(0.0, 1.0, percent=True)),
    _s("t_escalate", _Number(0.0, 1.0, percent=True)),
    _s("autosend_allowed", _Bool()),
    _s("offline_autosend_allowed", _Bool()),
    _s("intents_autosend", _List(_Intent())),
    _s("intents_force_handoff", _List(_Intent())),
    _s("intents_no_learning", _List(_Intent())),
    _s("forbidden_topics", _List(_Text(200))),
    _s("allow_discounts", _Bool()),
    _s("max_discount_percent", _Number(0, 100, integer=True)),
    _s("delay_profile", _Choice([v.value for v in DelayProfile], DelayProfile)),
    _s("night_mode", _Choice([v.value for v in NightMode], NightMode)),
    _s("night_multiplier", _Number(1.0, 10.0)),
    _s("night_auto_reply", _Text(1000, nullable=True)),
    _s("typing_indicator", _Bool()),
    _s("report_morning_at", _Time(nullable=True)),
    _s("report_evening_at", _Time(nullable=True)),
    _s("report_chat_ids", _List(_ChatId(), max_items=20)),
    _s("escalation_chat_id", _ChatId(nullable=True)),
    _s("voice_enabled", _Bool()),
    _s("elevenlabs_voice_id", _VoiceId(nullable=True)),
    _s("elevenlabs_api_key", _Secret(nullable=True), column="elevenlabs_api_key_enc"),
    _s("group_routing", _Choice(("round_robin", "by_channel"))),
    _s("campaign_code_pattern", _CodePattern(nullable=True)),
)
BY_KEY: dict[str, Setting] = {s.key: s for s in SCHEMA}
KEYS: tuple[str, ...] = tuple(BY_KEY)


def accepts_text(key: str, locale: str | None = "en") -> str:
    """What a key accepts, in words (the CLI's help, the Mini App's hints)."""
    accepts_key, params = BY_KEY[key].type.accepts()
    return t(accepts_key, locale, **params)


# ---------------------------------------------------------------------------------------------- small helpers


def _num(value: float) -> str:
    return f"{value:g}"


def mask(secret: str) -> str:
    """An API key as people may see it: only its last four characters, and only when it is long enough to spare them."""
    return MASK + secret[-4:] if len(secret) >= 12 else MASK


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    from babel.numbers import list_currencies  # babel comes with fluent.runtime

    return frozenset(list_currencies())


@lru_cache(maxsize=1)
def _timezones() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def _hhmm(text: str) -> time | None:
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text.strip())
    return time(int(match[1]), int(match[2])) if match else None


# ---------------------------------------------------------------------------------------------- working hours

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
    a, b = _hhmm(start), _hhmm(end)
    if a is None or b is None or a == b:
        raise SettingsError(key, "value", accepts=("settings.accepts.hours", {}), value=_shown(shown))
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
    raise SettingsError(key, "value", accepts=("settings.accepts.hours", {}), value=_shown(shown))


def parse_hours(text: str, key: str = "working_hours") -> dict[str, list[str]]:
    """"mon-fri 09:00-21:00, sat 10:00-18:00, sun closed" → {"mon": ["09:00", "21:00"], ...}; days not named are
    closed (absent), a later entry overrides an earlier one."""
    entries = [e.strip() for e in re.split(r"[,;\n]", text) if e.strip()]
    if not entries:
        raise SettingsError(key, "value", accepts=("settings.accepts.hours", {}), value=_shown(text))
    hours: dict[str, list[str] | None] = {}
    for entry in entries:
        tokens = _DASHES.sub("-", entry.lower()).split()
        spec, day_tokens = tokens[-1], tokens[:-1]
        if spec in CLOSED_WORDS:
            span = None
        else:
            ends = spec.split("-")
            if len(ends) != 2:
                raise SettingsError(key, "value", accepts=("settings.accepts.hours", {}), value=_shown(entry))
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


# ------------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class SettingView:
    key: str
    text: str  # as `set` accepts it back (the API key masked)
    value: Any  # JSON-friendly


@dataclass(frozen=True)
class Change:
    key: str
    old: Any  # JSON-friendly, secrets masked
    new: Any
    old_text: str
    new_text: str


def _secret_of(tenant: Tenant, secrets: SecretBox | None) -> str | None:
    """The stored API key, decrypted when the master key is at hand; otherwise a stand-in that masks the same."""
    if tenant.elevenlabs_api_key_enc is None:
        return None
    if secrets is None:
        return ""
    try:
        return secrets.decrypt(tenant.elevenlabs_api_key_enc)
    except ConfigError:
        return ""


def current(tenant: Tenant, secrets: SecretBox | None = None) -> dict[str, Any]:
    """Every setting's current Python value (the API key decrypted when `secrets` is given)."""
    values = {s.key: getattr(tenant, s.column) for s in SCHEMA if not s.secret}
    values["elevenlabs_api_key"] = _secret_of(tenant, secrets)
    values["working_hours"] = {d: list(v) for d, v in (tenant.working_hours or {}).items() if d in WEEKDAYS and v}
    for key in ("intents_autosend", "intents_force_handoff", "intents_no_learning", "forbidden_topics",
                "report_chat_ids"):
        values[key] = list(values[key] or [])
    return values


def show(tenant: Tenant, secrets: SecretBox | None = None) -> list[SettingView]:
    """Every key with its current value, as display text and as a JSON-friendly value (the API key masked)."""
    values = current(tenant, secrets)
    return [SettingView(s.key, s.type.to_text(values[s.key]), s.type.to_json(values[s.key])) for s in SCHEMA]


def show_json(tenant: Tenant, secrets: SecretBox | None = None) -> dict[str, Any]:
    return {view.key: view.value for view in show(tenant, secrets)}


# ------------------------------------------------------------------------------------------------- changing


def parse_assignments(args: Iterable[str]) -> dict[str, str]:
    """["t_auto=0.9", "intents_autosend=greeting, price"] → {"t_auto": "0.9", ...}; a key given twice is refused."""
    out: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or not key:
            raise SettingsError(_shown(arg), "assignment")
        if key in out:
            raise SettingsError(key, "twice")
        out[key] = value
    return out


def _setting(key: str) -> Setting:
    setting = BY_KEY.get(key)
    if setting is None:
        raise SettingsError(_shown(key), "unknown", known=", ".join(KEYS))
    return setting


def parse(changes: Mapping[str, Any], *, text: bool) -> dict[str, Any]:
    """Validate each value on its own: text values when `text`, typed values (JSON) otherwise."""
    parsed: dict[str, Any] = {}
    for raw_key, value in changes.items():
        key = str(raw_key).strip().lower().replace("-", "_")
        setting = _setting(key)
        if key in parsed:
            raise SettingsError(key, "twice")
        if text:
            if not isinstance(value, str):
                raise setting.type.bad(key, value)
            parsed[key] = setting.type.from_text(key, value)
        else:
            parsed[key] = setting.type.from_value(key, value)
    return parsed


def check_combination(values: Mapping[str, Any], changed: Iterable[str]) -> None:
    """Rules across keys, on the values as they would be after the change."""
    changed = list(changed)
    t_auto, t_escalate = values["t_auto"], values["t_escalate"]
    if not (0 <= t_escalate < t_auto <= 1):
        named = [k for k in ("t_escalate", "t_auto") if k in changed] or ["t_escalate", "t_auto"]
        raise SettingsError(", ".join(named), "thresholds", t_escalate=_num(t_escalate), t_auto=_num(t_auto))
    if values["voice_enabled"] and (values["elevenlabs_api_key"] is None or not values["elevenlabs_voice_id"]):
        raise SettingsError("voice_enabled", "voice")


async def _locked_tenant(session: AsyncSession, tenant_id: int) -> Tenant:
    tenant = (await session.execute(
        select(Tenant).where(Tenant.id == tenant_id).with_for_update().execution_options(populate_existing=True)
    )).scalar_one_or_none()
    if tenant is None:
        raise UserError(f"no tenant {tenant_id}")
    return tenant


async def update(session: AsyncSession, tenant_id: int, changes: Mapping[str, Any], *, text: bool = False,
                 secrets: SecretBox | None = None, actor_staff_id: int | None = None, via: str = "cli"
                 ) -> list[Change]:
    """Change settings, all or nothing: every value is validated, then the resulting combination, then written, and
    one "settings_changed" event records who changed what (old and new, the API key masked). Returns what changed
    (nothing when every value was already so: then no event is recorded). Never commits."""
    if not changes:
        raise SettingsError("-", "nothing")
    parsed = parse(changes, text=text)
    tenant = await _locked_tenant(session, tenant_id)
    _check_tenant_intents(tenant, parsed)
    needs_secret = "elevenlabs_api_key" in parsed and parsed["elevenlabs_api_key"] is not None
    if needs_secret and secrets is None:
        raise ConfigError("storing elevenlabs_api_key needs the master key")
    before = current(tenant, secrets)
    after = {**before, **parsed}
    check_combination(after, parsed)

    changed: list[Change] = []
    for key, new in parsed.items():
        setting = BY_KEY[key]
        old = before[key]
        same = (old == new) if setting.secret else (setting.type.to_json(old) == setting.type.to_json(new))
        if same:
            continue
        changed.append(Change(key, setting.type.to_json(old), setting.type.to_json(new),
                              setting.type.to_text(old), setting.type.to_text(new)))
        if setting.secret:
            tenant.elevenlabs_api_key_enc = secrets.encrypt(new) if new is not None else None
        else:
            setattr(tenant, setting.column, new)
    if not changed:
        return []
    await session.flush()
    events.record(session, EVENT_KIND, tenant_id=tenant.id, actor_staff_id=actor_staff_id, via=via,
                  changes={c.key: {"old": c.old, "new": c.new} for c in changed})
    return changed


async def update_from_text(session: AsyncSession, tenant_id: int, assignments: Mapping[str, str] | Iterable[str],
                           **kw) -> list[Change]:
    """`update` with text values: a mapping key → text, or "key=value" strings as the CLI receives them."""
    if not isinstance(assignments, Mapping):
        assignments = parse_assignments(assignments)
    return await update(session, tenant_id, assignments, text=True, **kw)
