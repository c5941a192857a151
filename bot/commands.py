"""Every command the bot understands, in one typed registry: where it works, who may use it, and its one-line
description. /help, the command menus Telegram shows (setMyCommands per scope and language) and a staff member's own
chat menu are all built from it; tests/bot/test_private.py checks that every Command(...) the routers handle is here.

Menus, by scope:
- all private chats: what anyone may use (/start, /help, /language); a staff member's own chat gets the private
  commands their roles allow (BotCommandScopeChat) when they first talk to the bot and when they change language;
- all group chats: what managers use in the manager group and in dialog topics;
- chat administrators: those plus the group's administrative commands (/connect, /settings).
Each in Russian (language_code "ru") and English (the default for every other language, and "en").
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    MenuButtonWebApp,
    WebAppInfo,
)

from core.i18n import t
from core.permissions import Permission, can
from core.services.readiness import Platform
from core.settings import Settings

from .runtime import BotRuntime

log = logging.getLogger(__name__)


class Where(enum.Flag):
    PRIVATE = enum.auto()  # the person's private chat with the bot
    GROUP = enum.auto()  # a manager group (its General topic or any topic)
    TOPIC = enum.auto()  # a dialog topic of a manager group


WHERE_ORDER = (Where.PRIVATE, Where.GROUP, Where.TOPIC)


@dataclass(frozen=True)
class Command:
    name: str  # without the slash
    where: Where
    permission: Permission | None  # None: anyone
    description: str  # locale key of the one-line description


P = Permission
COMMANDS: tuple[Command, ...] = (
    Command("start", Where.PRIVATE, None, "cmd.start"),
    Command("help", Where.PRIVATE, None, "cmd.help"),
    Command("language", Where.PRIVATE, None, "cmd.language"),
    Command("status", Where.PRIVATE, P.MANAGE_TENANT_SETTINGS, "cmd.status"),
    Command("settings", Where.PRIVATE | Where.GROUP, P.MANAGE_TENANT_SETTINGS, "cmd.settings"),
    Command("invite", Where.PRIVATE, P.MANAGE_USERS, "cmd.invite"),
    Command("staff", Where.PRIVATE, P.MANAGE_USERS, "cmd.staff"),
    Command("connect_telegram", Where.PRIVATE, P.MANAGE_CHANNELS, "cmd.connect_telegram"),
    Command("cancel", Where.PRIVATE, P.MANAGE_CHANNELS, "cmd.cancel"),
    Command("connect", Where.GROUP, P.MANAGE_TENANT_SETTINGS, "cmd.connect"),
    Command("inbox", Where.GROUP | Where.TOPIC, P.VIEW_CONVERSATIONS, "cmd.inbox"),
    Command("report", Where.GROUP, P.VIEW_CONVERSATIONS, "report.cmd"),
    Command("note", Where.TOPIC, P.MANAGE_CONVERSATIONS, "cmd.note"),
    Command("assign", Where.TOPIC, P.MANAGE_CONVERSATIONS, "cmd.assign"),
    Command("ai", Where.TOPIC, P.MANAGE_AUTOSEND, "cmd.ai"),
    Command("won", Where.TOPIC, P.MANAGE_CONVERSATIONS, "cmd.won"),
    Command("lost", Where.TOPIC, P.MANAGE_CONVERSATIONS, "cmd.lost"),
    Command("close", Where.TOPIC, P.MANAGE_CONVERSATIONS, "cmd.close"),
    Command("reopen", Where.TOPIC, P.MANAGE_CONVERSATIONS, "cmd.reopen"),
    Command("delete", Where.TOPIC, P.MANAGE_CONVERSATIONS, "cmd.delete"),
    Command("voice", Where.TOPIC, P.MANAGE_CONVERSATIONS, "voice.cmd"),
    Command("save", Where.PRIVATE, P.MANAGE_MEDIA, "media.cmd.save"),
    Command("q", Where.TOPIC, P.MANAGE_CONVERSATIONS, "media.cmd.q"),
)
BY_NAME = {c.name: c for c in COMMANDS}

# Commands of these permissions are offered in groups to the chat's administrators only.
ADMIN_PERMISSIONS = frozenset({P.MANAGE_TENANT_SETTINGS, P.MANAGE_USERS, P.MANAGE_CHANNELS})
MENU_LOCALES = ("ru", "en")


def allowed(command: Command, permissions: frozenset[str] | set[str]) -> bool:
    return command.permission is None or can(permissions, command.permission)


def usable(permissions: frozenset[str] | set[str], where: Where) -> list[Command]:
    """The commands someone with `permissions` may use in `where`, in registry order."""
    return [c for c in COMMANDS if where in c.where and allowed(c, permissions)]


def menu(scope: str) -> list[Command]:
    """What each of the bot's global menus lists: "private", "groups" or "admins"."""
    if scope == "private":
        return [c for c in COMMANDS if Where.PRIVATE in c.where and c.permission is None]
    in_groups = [c for c in COMMANDS if c.where & (Where.GROUP | Where.TOPIC)]
    if scope == "groups":
        return [c for c in in_groups if c.permission not in ADMIN_PERMISSIONS]
    if scope == "admins":
        return in_groups
    raise ValueError(f"unknown menu {scope!r}")


def bot_commands(commands: list[Command], locale: str) -> list[BotCommand]:
    return [BotCommand(command=c.name, description=t(c.description, locale)) for c in commands]


SCOPES = {
    "private": BotCommandScopeAllPrivateChats,
    "groups": BotCommandScopeAllGroupChats,
    "admins": BotCommandScopeAllChatAdministrators,
}


async def publish(bot: Bot) -> None:
    """The global menus, in English by default and for "en", in Russian for "ru"."""
    for scope, scope_type in SCOPES.items():
        listed = menu(scope)
        await bot.set_my_commands(bot_commands(listed, "en"), scope=scope_type())
        for locale in MENU_LOCALES:
            await bot.set_my_commands(bot_commands(listed, locale), scope=scope_type(), language_code=locale)


async def set_chat_menu(bot: Bot, chat_id: int, permissions: frozenset[str] | set[str], locale: str,
                        webapp_url: str | None) -> None:
    """One person's private chat: the commands their roles allow, in their language, and — for staff, when the Mini
    App has a URL — the menu button opening it. Without SALESOP_WEBAPP_URL the button stays Telegram's default
    (it opens the command list)."""
    await bot.set_my_commands(bot_commands(usable(permissions, Where.PRIVATE), locale),
                              scope=BotCommandScopeChat(chat_id=chat_id))
    if webapp_url and permissions:
        await bot.set_chat_menu_button(chat_id=chat_id, menu_button=MenuButtonWebApp(
            text=t("menu.app", locale), web_app=WebAppInfo(url=f"{webapp_url}/")))


async def start_up(bot: Bot, runtime: BotRuntime, settings: Settings) -> None:
    """Going live, once after getMe: the runtime learns what the settings say about the platform (Mini App URL, AI
    provider, the global autosend switch) and the command menus are published. A refused menu is logged, never
    fatal: the bot works without it."""
    runtime.platform = Platform.from_settings(settings)
    try:
        await publish(bot)
    except TelegramAPIError:
        log.warning("the command menus were not published", exc_info=True)
