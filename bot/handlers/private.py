"""The private chat with the bot: /start (without an invitation), /help, /language and /status.

Who writes decides the answer: an owner or admin gets next steps from the tenant's real state, other staff what
their role does, anyone else how to get in (an invitation link from their employer). Answers go back after the
unit of work commits (`after_commit`), in the person's language: StaffMember.locale for staff, Telegram's
language_code for everyone else.

The first time a staff member talks to the bot (in this process), their chat gets its own command menu — the private
commands their roles allow, in their language — and, when SALESOP_WEBAPP_URL is set, a menu button opening the Mini
App. Both are set again when they change language.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonDefault,
    Message,
    User,
    WebAppInfo,
)
from sqlalchemy.ext.asyncio import AsyncSession

from core import i18n
from core.i18n import t
from core.permissions import Permission
from core.services import readiness, traffic
from core.services.language import set_staff_locale
from core.services.readiness import Level, Readiness
from core.services.staff import Membership, memberships

from .. import commands as registry
from ..middlewares import AfterCommit
from ..render import TEXT_LIMIT, esc
from ..runtime import BotRuntime

ICONS = {Level.OK: "✅", Level.INFO: "ℹ️", Level.WARN: "⚠️", Level.TODO: "❌"}
WHERE_TITLES = {registry.Where.PRIVATE: "help.where.private", registry.Where.GROUP: "help.where.group",
                registry.Where.TOPIC: "help.where.topic"}


class LanguageChoice(CallbackData, prefix="lang"):
    locale: str


def _locale(members: list[Membership], user: User | None) -> str:
    if members:
        return i18n.normalize(members[0].locale)
    return i18n.normalize(user.language_code if user else None)


def _permissions(members: Iterable[Membership]) -> frozenset[str]:
    return frozenset(p for m in members for p in m.permissions)


def _role(code: str, locale: str) -> str:
    key = f"start.role.{code}"
    return t(key, locale) if i18n.has(key, locale) else code


def pack(lines: list[str], limit: int = TEXT_LIMIT) -> list[str]:
    """Whole lines (each carries balanced HTML) into messages of at most `limit` characters."""
    messages: list[str] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit and current:
            messages.append(current)
            candidate = line
        current = candidate[:limit]
    if current:
        messages.append(current)
    return messages


def _answer(after_commit: AfterCommit, message: Message, text: str, markup=None) -> None:
    parts = pack(text.split("\n"))
    for i, part in enumerate(parts):
        keyboard = markup if i == len(parts) - 1 else None
        after_commit.append(lambda part=part, keyboard=keyboard: message.answer(part, parse_mode="HTML",
                                                                                reply_markup=keyboard))


# ---------------------------------------------------------------------------------------------------- /start


async def start_text(session: AsyncSession, members: list[Membership], locale: str, runtime: BotRuntime) -> str:
    if not members:
        return "\n\n".join((t("start.hello", locale), t("start.stranger", locale)))
    blocks = [t("start.hello", locale)]
    for member in members:
        tenant, role = esc(member.tenant_name), _role(member.role_code, locale)
        if member.can(Permission.MANAGE_TENANT_SETTINGS):
            state = await readiness.check(session, member.tenant_id, runtime.platform, now=_now())
            steps = []
            if not state.groups:
                steps.append(t("start.next.group", locale))
            if not state.channels:
                steps.append(t("start.next.channel", locale, can_connect=_yes(member.can(Permission.MANAGE_CHANNELS)),
                               slug=member.tenant_slug))
            if not steps:
                steps.append(t("start.next.status", locale))
            blocks.append("\n".join([t("start.admin", locale, tenant=tenant, role=role), *steps]))
        else:
            key = f"start.staff.{member.role_code}"
            if not i18n.has(key, locale):
                key = "start.staff.other"
            blocks.append(t(key, locale, tenant=tenant, role=role))
    if runtime.platform.webapp_url:
        blocks.append(t("start.app", locale))
    blocks.append(t("start.footer", locale))
    return "\n\n".join(blocks)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _now() -> datetime:
    return datetime.now(UTC)


# ----------------------------------------------------------------------------------------------------- /help


def help_text(members: list[Membership], locale: str) -> str:
    permissions = _permissions(members)
    lines = [t("help.title", locale)]
    for where in registry.WHERE_ORDER:
        listed = registry.usable(permissions, where)
        if not listed:
            continue
        lines.append("")
        lines.append(t(WHERE_TITLES[where], locale))
        lines += [f"/{c.name} — {t(c.description, locale)}" for c in listed]
    if not members:
        lines += ["", t("help.stranger", locale)]
    return "\n".join(lines)


def help_button(members: list[Membership], locale: str, runtime: BotRuntime) -> InlineKeyboardMarkup | None:
    """Staff get the full help (docs/help, rendered in the Mini App at /help) a tap away, when the app is served."""
    url = runtime.platform.webapp_url
    if not members or not url:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=t("miniapp.help.bot_button", locale), web_app=WebAppInfo(url=f"{url}/help"))]])


# --------------------------------------------------------------------------------------------------- /status


def _local(moment, timezone: str) -> str:
    try:
        moment = moment.astimezone(ZoneInfo(timezone))
    except (KeyError, ValueError):
        pass
    return moment.strftime("%d.%m %H:%M")


def _line(level: Level, text: str, fix: readiness.Fix | None, locale: str, **params) -> list[str]:
    lines = [f"{ICONS[level]} {text}"]
    if fix is not None and level is not Level.OK:
        lines.append(f"    → {t(f'status.fix.{fix.value}', locale, **params)}")
    return lines


def status_lines(state: Readiness, locale: str) -> list[str]:
    slug = state.slug
    lines = [t("status.title", locale, tenant=esc(state.name), slug=slug)]
    lines.append(t("status.summary.ready", locale) if state.ready
                 else t("status.summary.todo", locale, count=state.todo))

    lines += ["", t("status.section.groups", locale)]
    if not state.groups:
        lines += _line(state.no_group.level, t("status.group.none", locale), state.no_group.fix, locale, slug=slug)
    for group in state.groups:
        title = esc(group.title)
        if not group.is_active:
            text = t("status.group.removed", locale, title=title)
        elif not group.is_forum:
            text = t("status.group.no_topics", locale, title=title)
        elif group.missing_rights:
            rights = ", ".join(t(f"status.right.{r}", locale) if i18n.has(f"status.right.{r}", locale) else esc(r)
                               for r in group.missing_rights)
            text = t("status.group.rights", locale, title=title, rights=rights)
        else:
            text = t("status.group.ok", locale, title=title)
        if group.rotated:
            text += " " + t("status.group.rotated", locale)
        if group.parked:  # work waiting for the group to be fixed (core.services.workspace.parking)
            text += " " + t("groups.status.parked", locale, count=group.parked)
        lines += _line(group.level, text, group.fix, locale, slug=slug, title=title)

    lines += ["", t("status.section.channels", locale)]
    if not state.channels:
        lines += _line(state.no_channel.level, t("status.channel.none", locale), state.no_channel.fix, locale,
                       slug=slug)
    for channel in state.channels:
        condition = t(f"status.channel.state.{channel.status.value}", locale, detail=esc(channel.detail or "—"),
                      until=_local(channel.flood_until, state.timezone) if channel.flood_until else "—")
        text = t("status.channel.line", locale, kind=t(f"status.kind.{channel.kind}", locale),
                 title=esc(channel.title) or str(channel.id), state=condition)
        if channel.import_status is not None:
            progress = (t("status.import.progress", locale, percent=channel.import_percent,
                          done=channel.conversations_done or 0, total=channel.conversations_total)
                        if channel.import_percent is not None
                        else t("status.import.count", locale, done=channel.conversations_done or 0))
            text += "; " + t(f"status.import.{channel.import_status.value}", locale, progress=progress,
                             messages=channel.messages_imported or 0)
        if channel.history is not None:  # Telegram Business: no history of its own, or the same account's userbot's
            text += "; " + t(f"status.channel.history.{channel.history.value}", locale, channel=channel.history_channel)
        lines += _line(channel.level, text, channel.fix, locale, slug=slug, channel=channel.id)

    lines += ["", t("status.section.setup", locale)]
    k = state.knowledge
    lines += _line(k.level, t("status.knowledge", locale, count=state.knowledge_documents), k.fix, locale, slug=slug)
    c = state.catalog
    lines += _line(c.level, t("status.catalog", locale, count=state.products), c.fix, locale, slug=slug)
    staff = ", ".join(t("status.staff.count", locale, role=_role(code, locale), count=n)
                      for code, n in state.staff_by_role.items())
    lines += _line(state.staff.level, t("status.staff", locale, roles=staff), state.staff.fix, locale, slug=slug)
    ai_text = (t("status.ai.openai", locale, model=esc(state.chat_model or "—")) if state.openai
               else t("status.ai.offline", locale))
    lines += _line(state.ai.level, ai_text, state.ai.fix, locale, slug=slug)
    autosend = state.autosend
    auto_text = t("status.autosend.on", locale) if state.autosend_on else t(
        "status.autosend.off", locale, tenant=_yes(state.tenant_autosend), platform=_yes(state.global_autosend))
    lines += _line(autosend.level, auto_text, autosend.fix, locale, slug=slug)
    f = state.failures
    failures = (t("status.failures.none", locale) if not state.failed_commands
                else t("status.failures", locale, count=state.failed_commands, error=esc(state.last_failure or "—")))
    lines += _line(f.level, failures, f.fix, locale, slug=slug)
    if state.unconfirmed_sends:  # sent again not knowing whether the first arrived (core.dispatcher)
        lines += _line(Level.INFO, t("status.unconfirmed", locale, count=state.unconfirmed_sends), None, locale)
    if state.failed_follow_ups:  # follow-up work that failed every attempt (core.followups)
        kinds = ", ".join(t(f"followups.kind.{k}", locale) for k in state.follow_up_kinds)
        lines += _line(state.follow_ups.level, t("followups.status.failed", locale, count=state.failed_follow_ups,
                                                 kinds=kinds, error=esc(state.last_follow_up_failure or "—")),
                       None, locale)
        lines.append(f"    → {t('followups.status.fix', locale)}")
    m = state.miniapp
    lines += _line(m.level, t("status.miniapp.ok", locale) if state.webapp_url else t("status.miniapp.missing", locale),
                   m.fix, locale, slug=slug)
    return lines


# ---------------------------------------------------------------------------------------------------- router


def _language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=t(f"language.button.{loc}", loc), callback_data=LanguageChoice(locale=loc).pack())
        for loc in i18n.LOCALES
    ]])


def campaign_router() -> Router:
    """/start <campaign code> from a campaign link (t.me/<bot>?start=<code>, made on the Mini App's traffic page):
    the touch is recorded for the person as a customer of that business (core.services.traffic.record_start) and
    they are told where the shop answers. Included before the invitations' router, which takes every other deep
    link; a code that is no campaign (or a staff member trying their own link) gets the usual greeting."""
    r = Router(name="campaigns")
    r.message.filter(F.chat.type == "private")

    @r.message(CommandStart(deep_link=True, magic=F.args.regexp(traffic.CAMPAIGN_CODE)))
    async def campaign_start(message: Message, command: CommandObject, session: AsyncSession,
                             runtime: BotRuntime, after_commit: AfterCommit) -> None:
        user = message.from_user
        came = await traffic.record_start(session, command.args, telegram_user_id=user.id, first_name=user.first_name,
                                          last_name=user.last_name, username=user.username,
                                          language=user.language_code)
        if came is None:
            members = await memberships(session, user.id)
            _answer(after_commit, message, await start_text(session, members, _locale(members, user), runtime))
            return
        link = f'<a href="tg://user?id={esc(came.channel_external_id)}">{esc(came.channel_title or came.tenant_name)}</a>'
        _answer(after_commit, message, t("miniapp.traffic.welcome", i18n.normalize(user.language_code),
                                         shop=esc(came.tenant_name), link=link))

    return r


def router() -> Router:
    r = Router(name="private")
    r.message.filter(F.chat.type == "private")
    r.callback_query.filter(F.message.chat.type == "private")
    configured: set[int] = set()  # chats whose own menu this process has set (or reset, for a stranger)

    def own_menu(after_commit: AfterCommit, bot: Bot, chat_id: int, members: list[Membership], locale: str,
                 runtime: BotRuntime, *, again: bool = False) -> None:
        """A staff member's own command menu and Mini App button; a stranger's chat falls back to the global menu
        (a removed employee keeps nothing of the staff menu)."""
        if chat_id in configured and not again:
            return
        url = runtime.platform.webapp_url

        async def configure() -> None:
            configured.add(chat_id)  # once it runs: a unit of work tried again queues it again
            if members:
                await registry.set_chat_menu(bot, chat_id, _permissions(members), locale, url)
                return
            await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=chat_id))
            if url:
                await bot.set_chat_menu_button(chat_id=chat_id, menu_button=MenuButtonDefault())

        after_commit.append(configure)

    async def who(session: AsyncSession, message: Message) -> tuple[list[Membership], str]:
        members = await memberships(session, message.from_user.id)
        return members, _locale(members, message.from_user)

    @r.message(CommandStart())
    async def start(message: Message, session: AsyncSession, bot: Bot, runtime: BotRuntime,
                    after_commit: AfterCommit) -> None:
        # A deep link (/start <invitation>) was handled before this router if it was one; what reaches here is a
        # plain start, or a payload nobody recognised — the greeting fits both.
        members, locale = await who(session, message)
        _answer(after_commit, message, await start_text(session, members, locale, runtime))
        own_menu(after_commit, bot, message.chat.id, members, locale, runtime)

    @r.message(Command("help"))
    async def help_(message: Message, session: AsyncSession, bot: Bot, runtime: BotRuntime,
                    after_commit: AfterCommit) -> None:
        members, locale = await who(session, message)
        _answer(after_commit, message, help_text(members, locale), help_button(members, locale, runtime))
        own_menu(after_commit, bot, message.chat.id, members, locale, runtime)

    @r.message(Command("language"))
    async def language(message: Message, session: AsyncSession, bot: Bot, runtime: BotRuntime,
                       after_commit: AfterCommit) -> None:
        members, locale = await who(session, message)
        if not members:
            _answer(after_commit, message, t("language.stranger", locale))
            return
        _answer(after_commit, message, t("language.choose", locale), _language_keyboard())
        own_menu(after_commit, bot, message.chat.id, members, locale, runtime)

    @r.callback_query(LanguageChoice.filter())
    async def chosen(query: CallbackQuery, callback_data: LanguageChoice, session: AsyncSession, bot: Bot,
                     runtime: BotRuntime, after_commit: AfterCommit) -> None:
        locale = i18n.normalize(callback_data.locale)
        members = await memberships(session, query.from_user.id)
        if not members:
            text = t("language.stranger", _locale(members, query.from_user))
            after_commit.append(lambda: query.answer(text[:200], show_alert=True))
            return
        await set_staff_locale(session, query.from_user.id, locale)
        done = t("language.set", locale)
        after_commit.append(lambda: query.answer(done[:200]))
        if query.message is not None:
            after_commit.append(lambda: query.message.edit_text(done))
        own_menu(after_commit, bot, query.message.chat.id if query.message else query.from_user.id, members, locale,
                 runtime, again=True)

    @r.message(Command("status"))
    async def status(message: Message, session: AsyncSession, bot: Bot, runtime: BotRuntime,
                     after_commit: AfterCommit) -> None:
        members, locale = await who(session, message)
        own_menu(after_commit, bot, message.chat.id, members, locale, runtime)
        managed = [m for m in members if m.can(Permission.MANAGE_TENANT_SETTINGS)]
        if not managed:
            _answer(after_commit, message, t("status.denied", locale))
            return
        now = _now()
        lines: list[str] = []
        for member in managed:  # one section per tenant the person manages
            state = await readiness.check(session, member.tenant_id, runtime.platform, now=now)
            if lines:
                lines.append("")
            lines += status_lines(state, locale)
        _answer(after_commit, message, "\n".join(lines))

    return r

