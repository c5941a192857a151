"""The AI pipeline's texts, read from core/locales/<locale>/ai.ftl (Russian and English): reasons on suggestion
cards, what the self-check found, the offline responder's phrases and the customer memory.

Reasons are shown to managers on the card, so they say plainly why; they are written when the decision is made and
stored with the suggestion. The offline responder's phrases follow the tenant's address form (вы/ты) and tone
(formal/friendly) through Fluent selectors in the file, so no phrase is assembled here.
"""

from __future__ import annotations

from ..i18n import DEFAULT_LOCALE, has, t
from ..models import AddressForm, Tone


def _figures(values: dict) -> dict:
    """Confidences and thresholds read "0.85" in every language: the card compares them with the settings."""
    return {k: f"{v:.2f}" if isinstance(v, float) else v for k, v in values.items()}


def reason(key: str, locale: str = DEFAULT_LOCALE, **values) -> str:
    """Why the decision engine sent, held or escalated a draft (`ai.reason.<key>`)."""
    return t(f"ai.reason.{key}", locale, **_figures(values))


def check_failure(key: str, locale: str = DEFAULT_LOCALE, **values) -> str:
    """What the self-check found wrong with a draft (`ai.check.<key>`)."""
    return t(f"ai.check.{key}", locale, **values)


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
