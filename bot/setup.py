"""The one place the bot is assembled: middlewares, then routers in the order they must match."""

from __future__ import annotations

from aiogram import Dispatcher
from aiogram.fsm.storage.base import BaseStorage

from .handlers import business, cards, groups, private, sent, settings, staff, topics, voice
from .handlers import media
from .handlers import campaigns, leads, reports
from .middlewares import ActorMiddleware, UnitOfWorkMiddleware
from .runtime import BotRuntime


def build_dispatcher(runtime: BotRuntime, services: dict | None = None, *,
                     storage: BaseStorage | None = None) -> Dispatcher:
    """`services` (AppContext.services) lets routers of other areas join when their service runs here. `storage`
    keeps conversation state (a prompt waiting for typed hours): in memory by default, in Redis when configured, so
    a second bot process or a restart still knows what a person was asked."""
    services = services or {}
    dp = Dispatcher(storage=storage) if storage is not None else Dispatcher()
    dp.update.outer_middleware(UnitOfWorkMiddleware(runtime))
    dp.message.outer_middleware(ActorMiddleware())
    dp.edited_message.outer_middleware(ActorMiddleware())
    dp.callback_query.outer_middleware(ActorMiddleware())
    dp.include_routers(
        groups.router(),  # membership of the bot, /connect, /inbox
        cards.router(),  # inline buttons
        leads.router(),  # Approve / Reject on a lead the AI passed to managers
        private.campaign_router(),  # /start <campaign code> (before staff, which takes every other deep link)
        campaigns.router(),  # joins and join requests through campaign invite links (chat_member, chat_join_request)
        staff.router(),  # /start <invitation>, /invite, /staff (before private: a deep link is also a /start)
        settings.router(),  # /settings in private and in groups (this chat receives reports / escalations)
        business.router(services),  # Telegram Business: the shop's account connected to the bot, its chats
        media.router(services),  # /save <name> with a file in private chat, /q <words> in topics (before both)
        private.router(),  # /start, /help, /status, /language in private chat
    )
    if "telegram_login" in services:  # private chat: an owner connects a Telegram account (userbots area)
        from .routers import connect_telegram

        dp.include_router(connect_telegram.router(services["telegram_login"]))
    # Edits and /delete of replies that went to customers (before topics: its catch-all swallows other commands).
    dp.include_router(sent.router())
    dp.include_router(voice.router(services))  # the shop's voice: /voice, a manager's voice, previews (before topics)
    dp.include_router(reports.router())  # /report in a chat (before topics: its catch-all takes any topic message)
    # Commands in topics, then card edits, then plain replies to customers (last: it takes any topic message).
    dp.include_router(topics.router())
    return dp
