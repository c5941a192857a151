"""The shared vocabulary of tenant settings: the refusal every check raises (SettingsError), how a refused value is
quoted back, how numbers and times of day are written, and how the API key is masked."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

from ...errors import UserError
from ...i18n import t

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


def quoted(value: Any, limit: int = 40) -> str:
    """A bad value as the one-line message quotes it."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number_text(value: float) -> str:
    return f"{value:g}"


def mask(secret: str) -> str:
    """An API key as people may see it: only its last four characters, and only when it is long enough to spare them."""
    return MASK + secret[-4:] if len(secret) >= 12 else MASK


def hhmm(text: str) -> time | None:
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text.strip())
    return time(int(match[1]), int(match[2])) if match else None
