"""What the bot's handlers and middlewares share: the database, who the bot is, and how to wake the dispatcher."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.db import Database
from core.services.readiness import Platform


@dataclass
class BotRuntime:
    db: Database
    bot_id: int
    bot_username: str | None = None  # known after getMe; used to read "@bot #<card> text" edits
    wake_dispatcher: Callable[[], None] = field(default=lambda: None)
    locale: str = "ru"
    platform: Platform = field(default_factory=Platform)  # from the settings at start-up (bot.commands.start_up)

    @property
    def update_source(self) -> str:
        """ProcessedUpdate.source for this bot's update ids."""
        return f"tg-bot:{self.bot_id}"
