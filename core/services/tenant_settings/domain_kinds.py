"""The kinds of value checked against something beyond their own shape: a currency (babel's list), a time zone (the tz
database), an ElevenLabs voice id and API key (kept encrypted, shown masked), an intent (the built-in ones and the
tenant's own) and a campaign code pattern (a regular expression that must be safe to run on every first message)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from ...ai.intents import CUSTOM_INTENT_NAME, tenant_intents
from ...models import Intent, Tenant
from .base import MASK, SettingsError, mask, quoted
from .kinds import ChoiceKind, Kind

class CurrencyKind(Kind):
    accepts_key = "settings.accepts.currency"

    def parse(self, key, text):
        code = text.upper()
        if not re.fullmatch(r"[A-Z]{3}", code) or code not in _currencies():
            raise self.bad(key, text)
        return code


class TimeZoneKind(Kind):
    accepts_key = "settings.accepts.timezone"

    def parse(self, key, text):
        name = _timezones().get(text.lower())
        if name is None:
            raise self.bad(key, text)
        ZoneInfo(name)  # present in the list means loadable; this keeps a broken tz database loud
        return name


class VoiceIdKind(Kind):
    accepts_key = "settings.accepts.voice"

    def parse(self, key, text):
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text):
            raise self.bad(key, text)
        return text


class SecretKind(Kind):
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


class IntentKind(ChoiceKind):
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


def check_tenant_intents(tenant: Tenant, parsed: Mapping[str, Any]) -> None:
    """intents_* may name the tenant's own intents (Tenant.extra["intents"]), and nothing else."""
    custom = list(tenant_intents(tenant))
    known = [i.value for i in Intent] + custom
    for key in ("intents_autosend", "intents_force_handoff", "intents_no_learning"):
        for name in parsed.get(key) or []:
            if name not in known:
                raise SettingsError(key, "value", accepts=("settings.accepts.intent", {"choices": ", ".join(known)}),
                                    value=quoted(name))


class CodePatternKind(Kind):
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
            raise SettingsError(key, "pattern_syntax", value=quoted(text), reason=str(error)) from None
        if compiled.groups != 1:
            raise SettingsError(key, "pattern_groups", value=quoted(text), groups=compiled.groups)
        if _nested_repeat(sre, parsed.data if hasattr(parsed, "data") else list(parsed), inside=False):
            raise SettingsError(key, "pattern_nested", value=quoted(text))
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


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    from babel.numbers import list_currencies  # babel comes with fluent.runtime

    return frozenset(list_currencies())


@lru_cache(maxsize=1)
def _timezones() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}
