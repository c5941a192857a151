"""Every text a person reads, in Russian and English, from Fluent files (core/locales/<locale>/*.ftl).

Fluent (fluent.runtime) gives real plural forms (`{ $count -> [one] … [few] … *[many] … }`) and selectors for the
tenant's tone and address form, so no text is assembled from fragments in code.

Keys in code are written with dots by area (`"card.tags"`, `"staff.invite.made"`); Fluent identifiers allow no dots,
so the file spells the same key with dashes (`card-tags`). `t()` does that mapping and nothing else.

Placeables are not wrapped in Unicode isolation marks (`use_isolating=False`): the texts go to Telegram, VK and a
terminal, where the invisible FSI/PDI characters would end up in customers' messages and in copied commands.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from fluent.runtime import FluentBundle, FluentResource
from fluent.runtime.types import fluent_number

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).with_name("locales")
DEFAULT_LOCALE = "ru"
LOCALES = ("ru", "en")


def normalize(locale: str | None) -> str:
    """A Telegram language_code ("en-US", "uk", None) → one of LOCALES. Russian unless the person reads English."""
    if not locale:
        return DEFAULT_LOCALE
    base = locale.split("-")[0].split("_")[0].lower()
    return base if base in LOCALES else ("en" if base not in ("ru", "uk", "be", "kk") else DEFAULT_LOCALE)


def fluent_id(key: str) -> str:
    return key.replace(".", "-")


def resource_files(locale: str) -> list[Path]:
    return sorted((LOCALES_DIR / locale).glob("*.ftl"))


@lru_cache(maxsize=None)
def bundle(locale: str) -> FluentBundle:
    b = FluentBundle([locale], use_isolating=False)
    for path in resource_files(locale):
        b.add_resource(FluentResource(path.read_text(encoding="utf-8")))
    return b


def has(key: str, locale: str = DEFAULT_LOCALE) -> bool:
    return bundle(normalize(locale)).has_message(fluent_id(key))


def t(key: str, locale: str | None = DEFAULT_LOCALE, **params) -> str:
    """The text `key` in `locale` (falling back to Russian), with `params` filled in. A missing key returns the key
    itself, so a gap shows up on screen and in the locale test instead of raising in the middle of a unit of work."""
    loc = normalize(locale)
    mid = fluent_id(key)
    b = bundle(loc)
    if not b.has_message(mid):
        b = bundle(DEFAULT_LOCALE)
        if not b.has_message(mid):
            log.error("missing text %r", key)
            return key
    message = b.get_message(mid)
    if message.value is None:
        return key
    text, errors = b.format_pattern(message.value, {k: _arg(v) for k, v in params.items()})
    if errors:
        log.warning("text %r in %s: %s", key, loc, errors)
    return text


def _arg(value):
    """Fluent takes str, numbers and dates; anything else (None, enums, Decimal) is passed as its text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        # Ungrouped: ids and prices are copied from messages ("-1001234", not "-1 001 234"); plurals still select.
        return fluent_number(value, useGrouping=False)
    if isinstance(value, (float, str)):
        return value
    if hasattr(value, "value") and isinstance(value.value, str):  # str enums
        return value.value
    return str(value)


def translator(locale: str | None):
    """t() bound to one locale: `_ = translator(staff.locale); _("help.title")`."""
    loc = normalize(locale)

    def _(key: str, **params) -> str:
        return t(key, loc, **params)

    return _
