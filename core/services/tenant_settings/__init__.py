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

One module per use case; importers use this package:
- base: SettingsError, how a refused value is quoted, numbers and times of day in text, the API key's mask;
- kinds: Kind (how a value is read, shown and put in JSON) and the general kinds — bool, number, choice, text, time,
  list, chat id;
- domain_kinds: kinds checked against something outside the value — currency, time zone, voice id, API key, intent
  (and the tenant's own intents), campaign code pattern;
- hours: the working week's text form (parse_hours, format_hours) and its kind;
- schema: every key with its kind and Tenant column (SCHEMA, BY_KEY, KEYS), what a key accepts in words;
- reading: a tenant's current values, shown as text and JSON;
- changing: "key=value" assignments, validation of values and their combination, the audited update.
"""

from __future__ import annotations

from .base import MASK, SettingsError, mask
from .changing import EVENT_KIND, Change, check_combination, parse, parse_assignments, update, update_from_text
from .domain_kinds import CodePatternKind, CurrencyKind, IntentKind, SecretKind, TimeZoneKind, VoiceIdKind
from .hours import CLOSED_WORDS, DAY_WORDS, EVERY_DAY_WORDS, WEEKDAYS, HoursKind, format_hours, parse_hours
from .kinds import BoolKind, ChatIdKind, ChoiceKind, Kind, ListKind, NumberKind, TextKind, TimeKind
from .reading import SettingView, current, show, show_json
from .schema import BY_KEY, KEYS, SCHEMA, Setting, accepts_text

__all__ = [
    "BY_KEY", "CLOSED_WORDS", "DAY_WORDS", "EVENT_KIND", "EVERY_DAY_WORDS", "KEYS", "MASK", "SCHEMA", "WEEKDAYS",
    "BoolKind", "Change", "ChatIdKind", "ChoiceKind", "CodePatternKind", "CurrencyKind", "HoursKind", "IntentKind",
    "Kind", "ListKind", "NumberKind", "SecretKind", "Setting", "SettingView", "SettingsError", "TextKind",
    "TimeKind", "TimeZoneKind", "VoiceIdKind", "accepts_text", "check_combination", "current", "format_hours",
    "mask", "parse", "parse_assignments", "parse_hours", "show", "show_json", "update", "update_from_text",
]
