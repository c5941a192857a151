"""The AI pipeline's texts, read from core/locales/<locale>/ai.ftl (Russian and English): reasons on suggestion
cards, what the self-check found, the offline responder's phrases and the customer memory.

Reasons are shown to managers on the card, so they say plainly why; they are made as typed codes with arguments
(core.ai.reasons.Reason), stored with the suggestion as codes, and put into words in the reader's language.

The offline responder's phrases follow the tenant's address form (вы/ты) and tone (formal/friendly) through Fluent
selectors in the file, so no phrase is assembled here.
"""

from __future__ import annotations

from ..i18n import DEFAULT_LOCALE, has, t
from ..models import AddressForm, Tone
from .reasons import Reason


def reason(key: str, locale: str = DEFAULT_LOCALE, **values) -> Reason:
    """Why the decision engine sent, held or escalated a draft (`ai.reason.<key>`): a code with its arguments, whose
    text is in `locale`. Floats (confidences, thresholds) read "0.85" in every language."""
    return Reason(f"ai.reason.{key}", values, locale=locale)


def check_failure(key: str, locale: str = DEFAULT_LOCALE, **values) -> Reason:
    """What the self-check found wrong with a draft (`ai.check.<key>`)."""
    return Reason(f"ai.check.{key}", values, locale=locale)


def intent_label(intent: str, locale: str = DEFAULT_LOCALE) -> Reason:
    """An intent's name as a reason's argument: the locale's name, or a tenant's own intent as it is called."""
    return Reason(f"ai.intent.{intent}", locale=locale, fallback=intent)


def mode_label(mode: str, locale: str = DEFAULT_LOCALE) -> Reason:
    return Reason(f"ai.mode.{mode}", locale=locale, fallback=mode)


def intent_name(intent: str, locale: str = DEFAULT_LOCALE) -> str:
    key = f"ai.intent.{intent}"
    return t(key, locale) if has(key, locale) else intent


def mode_name(mode: str, locale: str = DEFAULT_LOCALE) -> str:
    key = f"ai.mode.{mode}"
    return t(key, locale) if has(key, locale) else mode


def memory_line(key: str, locale: str = DEFAULT_LOCALE, **values) -> str:
    """One line of the customer memory summary (`ai.memory.<key>`)."""
    return t(f"ai.memory.{key}", locale, **values)


def offline_phrase(key: str, *, address: AddressForm, tone: Tone, language: str = "ru", **values) -> str:
    """A phrase of the offline responder (`ai.offline.<key>`) in the customer's language, the tenant's address
    form and tone."""
    return t(f"ai.offline.{key}", language, address=AddressForm(address).value, tone=Tone(tone).value, **values)
