"""The schema: every setting's key, its kind and the Tenant column it lives in (SCHEMA, BY_KEY, KEYS), and what a key
accepts, in words."""

from __future__ import annotations

from dataclasses import dataclass

from ...i18n import t
from ...models import AddressForm, DelayProfile, NightMode, Tone
from .base import SettingsError, quoted
from .domain_kinds import CodePatternKind, CurrencyKind, IntentKind, SecretKind, TimeZoneKind, VoiceIdKind
from .hours import HoursKind
from .kinds import BoolKind, ChatIdKind, ChoiceKind, Kind, ListKind, NumberKind, TextKind, TimeKind

@dataclass(frozen=True)
class Setting:
    key: str
    type: Kind
    column: str  # the Tenant attribute it is stored in

    @property
    def secret(self) -> bool:
        return isinstance(self.type, SecretKind)


def _s(key: str, type_: Kind, column: str | None = None) -> Setting:
    return Setting(key, type_, column or key)


SCHEMA: tuple[Setting, ...] = (
    _s("language", ChoiceKind(("ru", "en"))),
    _s("tone", ChoiceKind([v.value for v in Tone], Tone)),
    _s("address_form", ChoiceKind([v.value for v in AddressForm], AddressForm)),
    _s("currency", CurrencyKind()),
    _s("timezone", TimeZoneKind()),
    _s("working_hours", HoursKind()),
    _s("t_auto", NumberKind(0.0, 1.0, percent=True)),
    _s("t_escalate", NumberKind(0.0, 1.0, percent=True)),
    _s("autosend_allowed", BoolKind()),
    _s("offline_autosend_allowed", BoolKind()),
    _s("intents_autosend", ListKind(IntentKind())),
    _s("intents_force_handoff", ListKind(IntentKind())),
    _s("intents_no_learning", ListKind(IntentKind())),
    _s("forbidden_topics", ListKind(TextKind(200))),
    _s("allow_discounts", BoolKind()),
    _s("max_discount_percent", NumberKind(0, 100, integer=True)),
    _s("delay_profile", ChoiceKind([v.value for v in DelayProfile], DelayProfile)),
    _s("night_mode", ChoiceKind([v.value for v in NightMode], NightMode)),
    _s("night_multiplier", NumberKind(1.0, 10.0)),
    _s("night_auto_reply", TextKind(1000, nullable=True)),
    _s("typing_indicator", BoolKind()),
    _s("report_morning_at", TimeKind(nullable=True)),
    _s("report_evening_at", TimeKind(nullable=True)),
    _s("report_chat_ids", ListKind(ChatIdKind(), max_items=20)),
    _s("escalation_chat_id", ChatIdKind(nullable=True)),
    _s("voice_enabled", BoolKind()),
    _s("elevenlabs_voice_id", VoiceIdKind(nullable=True)),
    _s("elevenlabs_api_key", SecretKind(nullable=True), column="elevenlabs_api_key_enc"),
    _s("group_routing", ChoiceKind(("round_robin", "by_channel"))),
    _s("campaign_code_pattern", CodePatternKind(nullable=True)),
)
BY_KEY: dict[str, Setting] = {s.key: s for s in SCHEMA}
KEYS: tuple[str, ...] = tuple(BY_KEY)


def accepts_text(key: str, locale: str | None = "en") -> str:
    """What a key accepts, in words (the CLI's help, the Mini App's hints)."""
    accepts_key, params = BY_KEY[key].type.accepts()
    return t(accepts_key, locale, **params)


def setting_of(key: str) -> Setting:
    setting = BY_KEY.get(key)
    if setting is None:
        raise SettingsError(quoted(key), "unknown", known=", ".join(KEYS))
    return setting
