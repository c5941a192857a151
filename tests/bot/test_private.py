"""The private chat with the bot, through the sandbox Bot API and the real aiogram dispatcher: /start by who writes
(owner, manager, stranger; Russian and English), /help by role, /status's readiness checklist, /language, and the
command menus and Mini App button the bot publishes."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select, update

from bot import commands
from bot.runtime import BotRuntime
from bot.setup import build_dispatcher
from core.models import (
    ChannelAccount,
    ChannelStatus,
    ImportRun,
    ImportStatus,
    KnowledgeDocument,
    Product,
    StaffMember,
)
from core.services.tenants import create_tenant, role_by_code

from .desk import Desk

WEBAPP = "https://app.shop.example"


async def go_live(desk: Desk, webapp_url: str | None = WEBAPP) -> BotRuntime:
    """What bot.component.run does after getMe: the runtime, start_up, then the dispatcher."""
    settings = desk.ctx.settings
    settings = settings.model_copy(update={"webapp": settings.webapp.model_copy(update={"webapp_url": webapp_url})})
    runtime = BotRuntime(db=desk.db, bot_id=desk.sb.bot_user_id, bot_username=desk.sb.bot_user["username"],
                         wake_dispatcher=desk.outbox.wake)
    await commands.start_up(desk.bot, runtime, settings)
    desk.dp = build_dispatcher(runtime)
    return runtime


def bot_messages(desk: Desk, user: dict) -> list[dict]:
    if user["id"] not in desk.sb.chats:
        return []
    return [m for m in desk.sb.chat(user["id"])["messages"] if m["by_bot"]]


async def say(desk: Desk, user: dict, text: str) -> str:
    """The user writes to the bot; the bot's answers to it, joined."""
    before = len(bot_messages(desk, user))
    await desk.sb.user_sends(user["id"], user["id"], text)
    await desk.settle()
    answers = bot_messages(desk, user)[before:]
    assert answers, f"no answer to {text!r}"
    return "\n".join(m["text"] for m in answers)


def menu(desk: Desk, scope: dict, language: str = "") -> dict[str, str]:
    listed = desk.sb.commands.get(json.dumps([scope, language], sort_keys=True))
    assert listed is not None, f"no commands for {scope} {language!r}"
    return {c["command"]: c["description"] for c in listed}


async def set_locale(desk: Desk, user: dict, locale: str) -> None:
    async with desk.db.unit_of_work() as session:
        await session.execute(update(StaffMember).where(StaffMember.telegram_user_id == user["id"])
                              .values(locale=locale))


async def new_owner(desk: Desk) -> dict:
    """An owner of a second, brand-new tenant: no group, no channel."""
    user = desk.sb.create_user("Нина", "Новая")
    async with desk.db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="fresh", name="Новый магазин")
        await session.flush()
        session.add(StaffMember(tenant_id=tenant.id, role_id=(await role_by_code(session, tenant.id, "owner")).id,
                                telegram_user_id=user["id"], name=user["first_name"]))
    return user


# ------------------------------------------------------------------------------------------------- menus


async def test_start_up_publishes_menus_per_scope_and_language(desk: Desk):
    runtime = await go_live(desk)
    assert runtime.platform.webapp_url == WEBAPP and runtime.platform.openai_key is False

    private = {"type": "all_private_chats"}
    groups = {"type": "all_group_chats"}
    admins = {"type": "all_chat_administrators"}
    for scope in (private, groups, admins):
        assert menu(desk, scope) == menu(desk, scope, "en")  # English is the default
    assert set(menu(desk, private, "ru")) == {"start", "help", "language"}  # what anyone may use
    assert menu(desk, private, "ru")["help"] == "ваши команды" and menu(desk, private, "en")["help"] == "your commands"

    in_groups = set(menu(desk, groups, "ru"))
    assert {"inbox", "note", "assign", "ai", "won", "lost", "close", "reopen", "delete"} <= in_groups
    assert not in_groups & {"connect", "settings", "start", "status"}
    assert set(menu(desk, admins, "en")) == in_groups | {"connect", "settings"}
    assert menu(desk, groups, "ru")["note"].startswith("заметка")
    assert len(desk.sb.commands) == 9


def test_every_command_the_bot_handles_is_in_the_registry():
    root = Path(__file__).resolve().parents[2]
    handled = set()
    for path in list((root / "bot").rglob("*.py")):
        handled |= set(re.findall(r"""Command\(\s*["'](\w+)["']""", path.read_text(encoding="utf-8")))
    assert {"delete", "connect", "inbox", "note", "ai", "help", "language", "status"} <= handled
    assert sorted(handled - set(commands.BY_NAME)) == []
    for command in commands.COMMANDS:
        assert re.fullmatch(r"[a-z0-9_]{1,32}", command.name)
        for locale in ("ru", "en"):
            assert 0 < len(commands.t(command.description, locale)) <= 256


# ------------------------------------------------------------------------------------------------- /start


async def test_start_for_an_owner_depends_on_the_tenant(desk: Desk):
    await go_live(desk)
    ready = await say(desk, desk.owner, "/start")
    assert "Sales Operator" in ready and "Магазин — вы владелец." in ready
    assert "Группа и каналы подключены" in ready and "/status" in ready
    assert "Следующий шаг" not in ready
    assert "«Панель»" in ready  # the Mini App is configured

    fresh = await new_owner(desk)
    steps = await say(desk, fresh, "/start")
    assert "Новый магазин — вы владелец." in steps
    assert "Следующий шаг — группа менеджеров" in steps and "«Темы»" in steps
    assert "Следующий шаг — канал" in steps and "/connect_telegram" in steps and "--tenant fresh" in steps

    await set_locale(desk, fresh, "en")
    english = await say(desk, fresh, "/start")
    assert "Новый магазин: you are the owner." in english and "Next step, the manager group" in english


async def test_start_for_a_manager_and_a_stranger(desk: Desk):
    await go_live(desk)
    manager = await say(desk, desk.manager, "/start")
    assert "Магазин — вы менеджер." in manager and "/inbox" in manager and "Следующий шаг" not in manager

    await set_locale(desk, desk.manager, "en")
    manager_en = await say(desk, desk.manager, "/start")
    assert "Магазин: you are a manager." in manager_en and "/inbox" in manager_en

    stranger = await say(desk, desk.outsider, "/start")
    assert "не сотрудник" in stranger and "ссылку-приглашение" in stranger

    tom = desk.sb.create_user("Tom", language_code="en-GB")
    stranger_en = await say(desk, tom, "/start")
    assert "not staff of any business" in stranger_en and "invitation link" in stranger_en


async def test_staff_chats_get_their_own_menu_and_the_mini_app_button(desk: Desk):
    await go_live(desk)
    await say(desk, desk.owner, "/start")
    await say(desk, desk.manager, "/help")
    owner_menu = menu(desk, {"type": "chat", "chat_id": desk.owner["id"]})
    assert {"status", "settings", "invite", "staff", "connect_telegram"} <= set(owner_menu)
    manager_menu = menu(desk, {"type": "chat", "chat_id": desk.manager["id"]})
    assert set(manager_menu) == {"start", "help", "language"}
    for user in (desk.owner, desk.manager):
        button = desk.sb.menu_buttons[user["id"]]
        assert button == {"type": "web_app", "text": "Панель", "web_app": {"url": f"{WEBAPP}/"}}
    await say(desk, desk.outsider, "/start")
    assert desk.outsider["id"] not in desk.sb.menu_buttons or desk.sb.menu_buttons[desk.outsider["id"]] == {
        "type": "default"}


async def test_no_mini_app_button_without_its_url(desk: Desk):
    await go_live(desk, webapp_url=None)
    text = await say(desk, desk.owner, "/start")
    assert "«Панель»" not in text
    assert desk.owner["id"] not in desk.sb.menu_buttons
    assert "status" in menu(desk, {"type": "chat", "chat_id": desk.owner["id"]})


# -------------------------------------------------------------------------------------------------- /help


async def test_help_lists_what_the_role_can_use(desk: Desk):
    await go_live(desk)
    manager = await say(desk, desk.manager, "/help")
    assert "/note — заметка к диалогу" in manager and "/inbox" in manager and "/won" in manager
    assert "В теме диалога:" in manager and "В группе менеджеров:" in manager
    for absent in ("/settings", "/invite", "/staff", "/status", "/connect"):
        assert absent not in manager

    owner = await say(desk, desk.owner, "/help")
    for present in ("/settings", "/invite", "/staff", "/status", "/connect ", "/connect_telegram", "/note"):
        assert present in owner

    viewer = await say(desk, desk.viewer, "/help")
    assert "/inbox" in viewer and "/note" not in viewer

    stranger = await say(desk, desk.outsider, "/help")
    assert "/start" in stranger and "/language" in stranger and "/inbox" not in stranger
    assert "приглашение" in stranger


# ------------------------------------------------------------------------------------------------ /status


async def test_status_shows_what_is_missing_and_what_to_do(desk: Desk):
    await go_live(desk)
    # A second group where the bot lacks two rights.
    chat = desk.sb.create_forum_group("Команда 2", owner_id=desk.owner["id"])
    await desk.sb.add_bot_to_group(chat["id"], rights={"can_manage_topics": True, "can_pin_messages": True},
                                   by_user_id=desk.owner["id"])
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        channel = await session.get(ChannelAccount, desk.channel_id)
        channel.status = ChannelStatus.REVOKED
        session.add(ImportRun(channel_id=desk.channel_id, status=ImportStatus.RUNNING, conversations_total=200,
                              conversations_done=50))
        session.add_all([KnowledgeDocument(tenant_id=desk.tenant_id, title=f"d{i}", body="b", content_hash=f"{i}")
                         for i in range(2)])
        session.add_all([Product(tenant_id=desk.tenant_id, sku=f"S{i}", name="p", price=Decimal("10"))
                         for i in range(3)])

    text = await say(desk, desk.owner, "/status")
    assert "Готовность: Магазин (shop)" in text
    assert "✅ «Менеджеры»: темы включены, все права есть" in text
    assert "❌ «Команда 2»: боту не хватает прав — удаление сообщений, блокировка участников" in text
    assert "→ дайте боту эти права в списке администраторов «Команда 2»" in text
    assert "❌ Telegram-аккаунт «Магазин»: доступ отозван; импорт истории идёт: 25% (50 из 200)" in text
    assert "→ подключите канал заново" in text
    assert "✅ База знаний: 2 документа" in text and "✅ Каталог: 3 товара" in text
    assert "Сотрудники: владелец — 1, менеджер — 1, наблюдатель — 1" in text
    assert "⚠️ ИИ: ключа нет" in text and "SALESOP_OPENAI_API_KEY" in text
    assert "ℹ️ Автоответы выключены (компания: нет, платформа: да)" in text
    assert "✅ Сбоев отправки за сутки нет" in text
    assert "Осталось 2 обязательных дела" in text

    await set_locale(desk, desk.owner, "en")
    english = await say(desk, desk.owner, "/status")
    assert "Readiness: Магазин (shop)" in english
    assert "“Команда 2”: the bot lacks rights: delete messages, ban users" in english
    assert "Knowledge base: 2 documents" in english and "Catalog: 3 products" in english


async def test_status_has_a_section_per_managed_tenant(desk: Desk):
    await go_live(desk)
    fresh = await new_owner(desk)
    async with desk.db.unit_of_work() as session:  # the new owner is also an admin of the desk's shop
        session.add(StaffMember(tenant_id=desk.tenant_id, name="Нина", telegram_user_id=fresh["id"],
                                role_id=(await role_by_code(session, desk.tenant_id, "admin")).id))
    text = await say(desk, fresh, "/status")
    assert "Готовность: Новый магазин (fresh)" in text and "Готовность: Магазин (shop)" in text
    assert text.index("(fresh)") < text.index("(shop)")  # oldest membership first
    assert text.count("\nГруппы менеджеров\n") == 2


async def test_status_is_for_owners_and_admins(desk: Desk):
    await go_live(desk)
    assert "владельцу и администраторам" in await say(desk, desk.manager, "/status")
    assert "владельцу и администраторам" in await say(desk, desk.outsider, "/status")


async def test_status_of_an_empty_tenant(desk: Desk):
    await go_live(desk, webapp_url=None)
    fresh = await new_owner(desk)
    text = await say(desk, fresh, "/status")
    assert "❌ Группы менеджеров нет." in text and "❌ Ни одного канала не подключено." in text
    assert "⚠️ База знаний: 0 документов" in text and "salesop kb import --tenant fresh" in text
    assert "⚠️ Каталог: 0 товаров" in text and "salesop products import --tenant fresh" in text
    assert "→ пригласите менеджеров: /invite" in text
    assert "Адрес Mini App не задан" in text and "SALESOP_WEBAPP_URL" in text


# ---------------------------------------------------------------------------------------------- /language


async def test_language_switches_answers_menu_and_button(desk: Desk):
    await go_live(desk)
    await say(desk, desk.owner, "/language")
    [choice] = [m for m in bot_messages(desk, desk.owner) if m["text"] == "Выберите язык бота:"]
    buttons = [b for row in choice["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["Русский", "English"]

    await desk.sb.press_button(desk.owner["id"], desk.owner["id"], choice["message_id"], "lang:en")
    await desk.settle()
    assert desk.sb.chat(desk.owner["id"])["messages"][-1]["text"] == "Done: the bot speaks English."
    async with desk.db.unit_of_work() as session:
        locales = (await session.execute(select(StaffMember.locale).where(
            StaffMember.telegram_user_id == desk.owner["id"]))).scalars().all()
    assert locales == ["en"]
    own = menu(desk, {"type": "chat", "chat_id": desk.owner["id"]})
    assert own["status"] == "is the business ready: what is set up and what is left"
    assert desk.sb.menu_buttons[desk.owner["id"]]["text"] == "Dashboard"
    assert "Your commands" in await say(desk, desk.owner, "/help")

    [chosen] = [m for m in bot_messages(desk, desk.owner) if m["message_id"] == choice["message_id"]]
    assert chosen["text"] == "Done: the bot speaks English." and chosen["reply_markup"] is None

    assert await say(desk, desk.owner, "/language") == "Choose the bot's language:"
    again = bot_messages(desk, desk.owner)[-1]
    await desk.sb.press_button(desk.owner["id"], desk.owner["id"], again["message_id"], "lang:ru")
    await desk.settle()
    assert "Ваши команды" in await say(desk, desk.owner, "/help")
    assert desk.sb.menu_buttons[desk.owner["id"]]["text"] == "Панель"


async def test_language_for_every_membership_and_for_strangers(desk: Desk):
    await go_live(desk)
    async with desk.db.unit_of_work() as session:  # the manager also works for a second business
        tenant = await create_tenant(session, slug="second", name="Второй")
        await session.flush()
        session.add(StaffMember(tenant_id=tenant.id, role_id=(await role_by_code(session, tenant.id, "viewer")).id,
                                telegram_user_id=desk.manager["id"], name="Иван"))
    await say(desk, desk.manager, "/language")
    choice = bot_messages(desk, desk.manager)[-1]
    await desk.sb.press_button(desk.manager["id"], desk.manager["id"], choice["message_id"], "lang:en")
    await desk.settle()
    async with desk.db.unit_of_work() as session:
        locales = (await session.execute(select(StaffMember.locale).where(
            StaffMember.telegram_user_id == desk.manager["id"]))).scalars().all()
    assert locales == ["en", "en"]
    both = await say(desk, desk.manager, "/start")
    assert "Магазин: you are a manager." in both and "Второй: you are a viewer" in both

    stranger = await say(desk, desk.outsider, "/language")
    assert "языке вашего Telegram" in stranger
    assert bot_messages(desk, desk.outsider)[-1]["reply_markup"] is None
