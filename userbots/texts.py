"""The userbots' texts (channel status details, files that did not arrive, the Telegram login's answers) live in
core/locales/<locale>/channels.ftl, Russian and English, under `channel.*` keys.

`t(key, lang, **values)` is core.i18n.t: Russian unless a language is given. Status details are stored with the
channel and read by technical staff, so they stay in the default language; the login flow answers in the language
of the person connecting the account."""

from __future__ import annotations

from core.i18n import DEFAULT_LOCALE, t

RU = DEFAULT_LOCALE
EN = "en"

__all__ = ["EN", "RU", "t"]
