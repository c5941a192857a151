"""Telegram Bot API stand-in: a local server the real aiogram Bot talks to, with a scriptable world.

    sandbox = TelegramSandbox(limits="realistic", time_scale=60)
    # serve sandbox.app, then:
    bot = Bot(sandbox.bot_token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))

Bot API under /bot<token>/<method> and /file/bot<token>/<path>; control API under /_sandbox/ (see control.py);
browser view under /_viewer/.
"""

from .botapi import TgError
from .sandbox import TelegramSandbox

__all__ = ["TelegramSandbox", "TgError"]
