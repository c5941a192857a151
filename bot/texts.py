"""The manager bot's texts live in core/locales/<locale>/bot.ftl (Russian and English); `t` is core.i18n.t, kept
here so the bot's modules import their texts from one place. Keys are dotted in code (`t("card.tags", locale,
tags=...)`) and dashed in the file (`card-tags`)."""

from __future__ import annotations

from core.i18n import has, t

__all__ = ["has", "t"]
