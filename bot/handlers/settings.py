"""/settings for owners and admins (MANAGE_TENANT_SETTINGS): the settings changed most, one press each — AI autosend,
the thresholds (preset pairs), working hours (presets, or "send me the hours as text" answered by the person's next
message), what happens outside working hours — and, in a group, "this chat receives escalations / reports".

Every change goes through core.services.tenant_settings (the same validation and audit as `salesop settings` and
the Mini App); the panel is edited in place to show the new state. In private chat a person who manages several
businesses picks one first; in a group the group's business is used (or, in a chat that is not a manager group,
the person's business, picked the same way).

The panel is the direct answer to the person's command or button and is sent or edited after the unit of work
commits; refusals in a group go through the outbox like every other post there. The hours prompt waits for the
person's next message with aiogram's FSM (the dispatcher's storage: memory by default).
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, User
from sqlalchemy.ext.asyncio import AsyncSession

from core import i18n
from core.i18n import t
from core.models import ManagerGroup, NightMode, Tenant
from core.permissions import Permission
from core.services import staff
from core.services import tenant_settings as ts
from core.services.workspace import base, replies, topics
from core.services.staff import Membership

from ..middlewares import AfterCommit

TEXT_LIMIT = 4000
CHECK = "✓ "
# Preset pairs (t_auto, t_escalate): careful, the default, bold.
THRESHOLDS = {"careful": (0.9, 0.5), "balanced": (0.85, 0.35), "bold": (0.75, 0.25)}
# Preset weeks, in the text form core.services.tenant_settings reads.
HOURS = {"daily": "daily 09:00-21:00", "weekdays": "mon-fri 09:00-18:00"}
NIGHT_MODES = [m.value for m in NightMode]


class SettingsAction(CallbackData, prefix="cfg"):
    tenant_id: int
    action: str  # open | autosend | thresholds | hours | hours_text | cancel | night | escalation | reports
    value: str = ""


class SettingsForm(StatesGroup):
    hours = State()  # data: tenant_id, chat_id, message_id (the panel to edit), thread_id (where it is)


# --------------------------------------------------------------------------------------------------- helpers


def _private(chat: Chat) -> bool:
    return chat.type == "private"


def _thread(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


async def _in_prompt_thread(message: Message, state: FSMContext) -> bool:
    """The hours are read only where the prompt is: a reply typed meanwhile in a customer's topic is a reply."""
    return (await state.get_data()).get("thread_id") == _thread(message)


async def _members(session: AsyncSession, user: User) -> list[Membership]:
    return await staff.memberships(session, user.id)


def _locale(members: list[Membership], user: User, tenant_id: int | None = None) -> str:
    for member in members:
        if tenant_id is None or member.tenant_id == tenant_id:
            return i18n.normalize(member.locale)
    return i18n.normalize(user.language_code)


def _allowed(members: list[Membership], tenant_id: int) -> Membership | None:
    return next((m for m in members if m.tenant_id == tenant_id and m.can(Permission.MANAGE_TENANT_SETTINGS)), None)


def _refusal(members: list[Membership], tenant_id: int | None, locale: str) -> str:
    is_staff = any(tenant_id is None or m.tenant_id == tenant_id for m in members)
    return t("settings.refused" if is_staff else "settings.not_staff", locale)


def _button(text: str, tenant_id: int, action: str, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=SettingsAction(tenant_id=tenant_id, action=action,
                                                                        value=value).pack())


def _on_off(value: bool, locale: str) -> str:
    return t("settings.state.on" if value else "settings.state.off", locale)


def _num(value: float) -> str:
    return f"{value:g}"


async def _panel(session: AsyncSession, member: Membership, chat: Chat) -> tuple[str, InlineKeyboardMarkup]:
    """The panel's text and buttons for the tenant's current settings (as changed in this unit of work)."""
    locale, tenant_id = i18n.normalize(member.locale), member.tenant_id
    tenant = await session.get(Tenant, tenant_id)
    values = ts.current(tenant)
    hours_text = ts.format_hours(values["working_hours"], locale)
    night = values["night_mode"].value
    lines = [
        t("settings.panel.title", locale, tenant=tenant.name),
        "",
        t("settings.panel.autosend", locale, state=_on_off(values["autosend_allowed"], locale)),
        t("settings.panel.thresholds", locale, auto=_num(values["t_auto"]), escalate=_num(values["t_escalate"])),
        t("settings.panel.hours", locale, timezone=values["timezone"], hours=hours_text),
        t("settings.panel.night", locale, mode=t(f"settings.night.{night}", locale)),
    ]
    autosend = values["autosend_allowed"]
    rows = [[_button(t("settings.btn.autosend_off" if autosend else "settings.btn.autosend_on", locale),
                     tenant_id, "autosend", "off" if autosend else "on")]]
    pair = (values["t_auto"], values["t_escalate"])
    rows.append([_button((CHECK if pair == preset else "") + t("settings.btn.thresholds", locale,
                                                                auto=_num(preset[0]), escalate=_num(preset[1])),
                         tenant_id, "thresholds", name) for name, preset in THRESHOLDS.items()])
    rows.append([_button((CHECK if values["working_hours"] == ts.parse_hours(text) else "")
                         + t(f"settings.btn.hours.{name}", locale), tenant_id, "hours", name)
                 for name, text in HOURS.items()])
    rows.append([_button(t("settings.btn.hours_text", locale), tenant_id, "hours_text")])
    rows.append([_button((CHECK if mode == night else "") + t(f"settings.btn.night.{mode}", locale), tenant_id,
                         "night", mode) for mode in NIGHT_MODES])
    if not _private(chat):
        escalation = values["escalation_chat_id"]
        if escalation == chat.id:
            lines.append(t("settings.panel.escalation_here", locale))
        elif escalation:
            lines.append(t("settings.panel.escalation_elsewhere", locale))
        else:
            lines.append(t("settings.panel.escalation_none", locale))
        reports = chat.id in values["report_chat_ids"]
        lines.append(t("settings.panel.reports", locale, state=_on_off(reports, locale)))
        rows.append([
            _button(t("settings.btn.escalation_off" if escalation == chat.id else "settings.btn.escalation_on",
                      locale), tenant_id, "escalation", "off" if escalation == chat.id else "on"),
            _button(t("settings.btn.reports_off" if reports else "settings.btn.reports_on", locale), tenant_id,
                    "reports", "off" if reports else "on"),
        ])
    lines += ["", t("settings.panel.more", locale, slug=tenant.slug)]
    return "\n".join(lines)[:TEXT_LIMIT], InlineKeyboardMarkup(inline_keyboard=rows)


def _prompt(member: Membership, timezone: str) -> tuple[str, InlineKeyboardMarkup]:
    locale = i18n.normalize(member.locale)
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[_button(t("settings.btn.cancel", locale), member.tenant_id,
                                                              "cancel")]])
    return t("settings.hours.prompt", locale, timezone=timezone), keyboard


def _choice(members: list[Membership], locale: str) -> tuple[str, InlineKeyboardMarkup]:
    rows = [[_button(m.tenant_name, m.tenant_id, "open")] for m in members]
    return t("settings.choose_tenant", locale), InlineKeyboardMarkup(inline_keyboard=rows)


async def _change(session: AsyncSession, member: Membership, changes: dict, *, text: bool = False) -> None:
    """One change through the shared validation and audit; a refusal leaves nothing behind (savepoint)."""
    async with session.begin_nested():
        await ts.update(session, member.tenant_id, changes, text=text, actor_staff_id=member.staff_id, via="bot")


def _changes(action: str, value: str, values: dict, chat: Chat) -> dict | None:
    """What a button asks for, as typed values; None for a button that changes nothing (or no longer applies)."""
    if action == "autosend" and value in ("on", "off"):
        return {"autosend_allowed": value == "on"}
    if action == "thresholds" and value in THRESHOLDS:
        t_auto, t_escalate = THRESHOLDS[value]
        return {"t_auto": t_auto, "t_escalate": t_escalate}
    if action == "hours" and value in HOURS:
        return {"working_hours": HOURS[value]}
    if action == "night" and value in NIGHT_MODES:
        return {"night_mode": value}
    if action == "escalation" and not _private(chat) and value in ("on", "off"):
        here = values["escalation_chat_id"] == chat.id
        if value == "on":
            return {"escalation_chat_id": chat.id}
        return {"escalation_chat_id": None} if here else None
    if action == "reports" and not _private(chat) and value in ("on", "off"):
        ids = [i for i in values["report_chat_ids"] if i != chat.id]
        return {"report_chat_ids": ids + [chat.id] if value == "on" else ids}
    return None


async def _refuse_in_chat(session: AsyncSession, after_commit: AfterCommit, message: Message, group, text: str
                          ) -> None:
    """A refusal where the person wrote: a direct answer in private, a post through the outbox in a group."""
    if _private(message.chat):
        after_commit.append(lambda: message.answer(text[:TEXT_LIMIT]))
    elif group is not None:
        await topics.notice(session, group, key="refusal", params={"text": text}, reply_to=message.message_id,
                        thread_id=_thread(message))
    else:
        await topics.notice_chat(session, message.chat.id, key="refusal", params={"text": text},
                             reply_to=message.message_id)


# ---------------------------------------------------------------------------------------------------- router


def router() -> Router:
    r = Router(name="settings")

    @r.message(Command("settings"))
    async def open_settings(message: Message, session: AsyncSession, after_commit: AfterCommit,
                            state: FSMContext, group: ManagerGroup | None = None) -> None:
        user = message.from_user
        if user is None:
            return
        await state.clear()
        members = await _members(session, user)
        tenant_id = group.tenant_id if group is not None else None
        locale = _locale(members, user, tenant_id)
        if tenant_id is not None:
            candidates = [m for m in [_allowed(members, tenant_id)] if m is not None]
        else:
            candidates = [m for m in members if m.can(Permission.MANAGE_TENANT_SETTINGS)]
        if not candidates:
            await _refuse_in_chat(session, after_commit, message, group, _refusal(members, tenant_id, locale))
            return
        if len(candidates) > 1:
            text, keyboard = _choice(candidates, locale)
        else:
            text, keyboard = await _panel(session, candidates[0], message.chat)
        after_commit.append(lambda: message.answer(text, reply_markup=keyboard))

    @r.callback_query(SettingsAction.filter())
    async def press(query: CallbackQuery, callback_data: SettingsAction, session: AsyncSession,
                    after_commit: AfterCommit, state: FSMContext) -> None:
        user, panel = query.from_user, query.message
        members = await _members(session, user)
        member = _allowed(members, callback_data.tenant_id)
        if member is None or panel is None:
            text = _refusal(members, callback_data.tenant_id, _locale(members, user, callback_data.tenant_id))
            after_commit.append(lambda: query.answer(text[:200], show_alert=True))
            return
        locale, chat, action = i18n.normalize(member.locale), panel.chat, callback_data.action
        toast = None
        if action == "hours_text":
            tenant = await session.get(Tenant, member.tenant_id)
            await state.set_state(SettingsForm.hours)
            await state.set_data({"tenant_id": member.tenant_id, "chat_id": chat.id, "message_id": panel.message_id,
                                  "thread_id": _thread(panel)})
            text, keyboard = _prompt(member, tenant.timezone)
        else:
            if action == "cancel":
                await state.clear()
            elif action != "open":
                values = ts.current(await session.get(Tenant, member.tenant_id))
                changes = _changes(action, callback_data.value, values, chat)
                if changes:
                    try:
                        await _change(session, member, changes)
                    except ts.SettingsError as error:
                        text = error.text(locale)
                        after_commit.append(lambda: query.answer(text[:200], show_alert=True))
                        return
                    toast = t("settings.saved", locale)
            text, keyboard = await _panel(session, member, chat)

        async def show() -> None:
            await query.answer(toast)
            await panel.edit_text(text, reply_markup=keyboard)

        after_commit.append(show)

    @r.message(SettingsForm.hours, F.text, ~F.text.startswith("/"), _in_prompt_thread)
    async def hours_as_text(message: Message, session: AsyncSession, after_commit: AfterCommit, state: FSMContext,
                            bot: Bot, group: ManagerGroup | None = None) -> None:
        data = await state.get_data()
        user = message.from_user
        members = await _members(session, user)
        member = _allowed(members, data.get("tenant_id", 0))
        if member is None:
            await state.clear()
            await _refuse_in_chat(session, after_commit, message, group,
                                  _refusal(members, data.get("tenant_id"), _locale(members, user)))
            return
        locale = i18n.normalize(member.locale)
        try:
            await _change(session, member, {"working_hours": message.text}, text=True)
        except ts.SettingsError as error:  # the prompt stays: the next message is another try
            await _refuse_in_chat(session, after_commit, message, group, error.text(locale))
            return
        await state.clear()
        text, keyboard = await _panel(session, member, message.chat)
        chat_id, panel_id = data["chat_id"], data["message_id"]
        if _private(message.chat):
            hours = ts.format_hours(ts.current(await session.get(Tenant, member.tenant_id))["working_hours"], locale)
            saved = t("settings.hours.saved", locale, hours=hours)
            after_commit.append(lambda: message.answer(saved))
        elif group is not None:
            await replies.react(session, group, message.message_id, base.DELIVERED_REACTION)
        after_commit.append(lambda: bot.edit_message_text(text=text, chat_id=chat_id, message_id=panel_id,
                                                          reply_markup=keyboard))

    return r
