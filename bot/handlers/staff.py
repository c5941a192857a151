"""Staff in the private chat: `/start <invitation>` (joining), /invite (a link for a role), /staff (the people, their
roles, removal) — the same core functions as `salesop staff`.

Answers go back after the unit of work commits (`after_commit`), in the person's language. A refusal (no
permission, the last owner, a used link...) is a core.services.staff.StaffError: whatever the call did is undone
(a savepoint) and the person is told why, here in the chat or as the button's alert.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, User
from sqlalchemy.ext.asyncio import AsyncSession

from core import i18n
from core.errors import UserError
from core.i18n import t
from core.permissions import Permission
from core.services import staff
from core.services.staff import Membership, StaffError

from .. import commands as command_menus
from ..middlewares import AfterCommit
from ..runtime import BotRuntime

T = TypeVar("T")
TEXT_LIMIT = 4000
MAX_PEOPLE_BUTTONS = 90  # Telegram takes at most 100 buttons in one keyboard
LEADS = ("owner", "admin")  # roles greeted with the set-up steps


class InviteAction(CallbackData, prefix="inv"):
    tenant_id: int
    role: str = ""  # empty: the business is chosen, the role comes next


class StaffAction(CallbackData, prefix="stf"):
    action: str  # list | person | role | remove | confirm
    tenant_id: int
    staff_id: int = 0
    role: str = ""


# --------------------------------------------------------------------------------------------------- helpers


def role_name(code: str, locale: str) -> str:
    key = f"staff.role.{code}"
    return t(key, locale) if i18n.has(key, locale) else code


def _username(username: str | None) -> str:
    return f" @{username}" if username else ""


def _locale(members: list[Membership], user: User | None) -> str:
    if members:
        return i18n.normalize(members[0].locale)
    return i18n.normalize(user.language_code if user else None)


def _refusal(error: UserError, locale: str) -> str:
    return error.text(locale)


async def _attempt(session: AsyncSession, call: Callable[[], Awaitable[T]]) -> tuple[T | None, UserError | None]:
    """Run a core call in a savepoint: on a refusal nothing it did is kept, and the refusal is returned."""
    try:
        async with session.begin_nested():
            return await call(), None
    except UserError as error:
        return None, error


async def _managing(session: AsyncSession, user: User) -> tuple[list[Membership], list[Membership]]:
    """(every membership of the person, the ones where they may manage staff)."""
    members = await staff.memberships(session, user.id)
    return members, [m for m in members if m.can(Permission.MANAGE_USERS)]


def _reply(after_commit: AfterCommit, message: Message, text: str,
           keyboard: InlineKeyboardMarkup | None = None) -> None:
    after_commit.append(lambda: message.answer(text[:TEXT_LIMIT], reply_markup=keyboard))


def _show(after_commit: AfterCommit, query: CallbackQuery, text: str, keyboard: InlineKeyboardMarkup | None = None,
          toast: str | None = None) -> None:
    """The pressed message becomes the next step; the button's spinner stops."""
    async def show() -> None:
        await query.answer(toast[:200] if toast else None)
        if query.message is not None:
            await query.message.edit_text(text[:TEXT_LIMIT], reply_markup=keyboard)

    after_commit.append(show)


def _alert(after_commit: AfterCommit, query: CallbackQuery, text: str) -> None:
    after_commit.append(lambda: query.answer(text[:200], show_alert=True))


def _rows(buttons: list[InlineKeyboardButton], per_row: int = 2) -> list[list[InlineKeyboardButton]]:
    return [buttons[i:i + per_row] for i in range(0, len(buttons), per_row)]


def _tenant_buttons(members: list[Membership], make: Callable[[Membership], str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=m.tenant_name, callback_data=make(m))]
                                                 for m in members])


async def _grantable(session: AsyncSession, member: Membership, *, besides: str | None = None) -> list[str]:
    """Roles this person may give: owners may make owners, admins everything else."""
    return [code for code in await staff.roles(session, member.tenant_id)
            if code != besides and (code != staff.OWNER or member.role_code == staff.OWNER)]


# ---------------------------------------------------------------------------------------------------- views


async def _role_choice(session: AsyncSession, member: Membership) -> tuple[str, InlineKeyboardMarkup]:
    locale = member.locale
    buttons = [InlineKeyboardButton(text=role_name(code, locale),
                                    callback_data=InviteAction(tenant_id=member.tenant_id, role=code).pack())
               for code in await _grantable(session, member)]
    return t("invite.choose_role", locale, tenant=member.tenant_name), InlineKeyboardMarkup(
        inline_keyboard=_rows(buttons))


async def _staff_list(session: AsyncSession, member: Membership) -> tuple[str, InlineKeyboardMarkup]:
    locale = member.locale
    people = await staff.list_staff(session, member.tenant_id, actor=member, include_removed=False)
    lines = [t("staff.list.title", locale, tenant=member.tenant_name, count=len(people))]
    lines += [t("staff.list.item", locale, name=p.name, username=_username(p.username),
                role=role_name(p.role_code, locale)) for p in people]
    lines += ["", t("staff.list.hint", locale)]
    buttons = [[InlineKeyboardButton(
        text=f"{p.name} — {role_name(p.role_code, locale)}",
        callback_data=StaffAction(action="person", tenant_id=member.tenant_id, staff_id=p.staff_id).pack())]
        for p in people[:MAX_PEOPLE_BUTTONS]]
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=buttons)


def _back(member: Membership) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=t("staff.btn.back", member.locale),
                                callback_data=StaffAction(action="list", tenant_id=member.tenant_id).pack())


async def _person(session: AsyncSession, member: Membership, staff_id: int) -> tuple[str, InlineKeyboardMarkup]:
    locale = member.locale
    person = await staff.get_staff(session, member.tenant_id, staff_id, actor=member)
    if not person.active:
        raise StaffError("staff_removed", name=person.name)
    buttons = [InlineKeyboardButton(
        text=role_name(code, locale),
        callback_data=StaffAction(action="role", tenant_id=member.tenant_id, staff_id=staff_id, role=code).pack())
        for code in await _grantable(session, member, besides=person.role_code)]
    rows = _rows(buttons)
    if person.staff_id != member.staff_id:
        rows.append([InlineKeyboardButton(
            text=t("staff.btn.remove", locale),
            callback_data=StaffAction(action="remove", tenant_id=member.tenant_id, staff_id=staff_id).pack())])
    rows.append([_back(member)])
    text = t("staff.person", locale, name=person.name, username=_username(person.username),
             role=role_name(person.role_code, locale))
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def _welcome(joined: staff.Joined) -> str:
    locale = joined.locale
    role = role_name(joined.role_code, locale)
    head = t("staff.joined.back" if joined.reactivated else "staff.joined", locale, tenant=joined.tenant_name,
             role=role)
    key = f"staff.welcome.{joined.role_code}"
    body = t(key, locale, slug=joined.tenant_slug) if i18n.has(key, locale) else t("staff.welcome.other", locale)
    return f"{head}\n\n{body}"


# ---------------------------------------------------------------------------------------------------- router


async def _in_managed_tenant(session: AsyncSession, message: Message, after_commit: AfterCommit, choose_key: str,
                             button, answer) -> None:
    """/invite and /staff: refuse who manages no business, ask which one when several, else answer for the one."""
    members, managing = await _managing(session, message.from_user)
    locale = _locale(members, message.from_user)
    if not managing:
        _reply(after_commit, message, t("staff.error.no_permission" if members else "staff.error.not_staff", locale))
    elif len(managing) > 1:
        _reply(after_commit, message, t(choose_key, locale), _tenant_buttons(managing, button))
    else:
        _reply(after_commit, message, *await answer(session, managing[0]))


def router() -> Router:
    r = Router(name="staff")
    r.message.filter(F.chat.type == "private")
    r.callback_query.filter(F.message.chat.type == "private")

    @r.message(CommandStart(deep_link=True))
    async def join(message: Message, command: CommandObject, session: AsyncSession, bot: Bot, runtime: BotRuntime,
                   after_commit: AfterCommit) -> None:
        user = message.from_user
        joined, error = await _attempt(session, lambda: staff.claim_invitation(
            session, command.args or "", telegram_user_id=user.id, first_name=user.first_name,
            last_name=user.last_name, username=user.username, language_code=user.language_code))
        if error is not None:
            _reply(after_commit, message, _refusal(error, i18n.normalize(user.language_code)))
            return
        _reply(after_commit, message, _welcome(joined))
        # The newcomer's own command menu and Mini App button, at once rather than at their next command: what every
        # business they now work for allows them, in their language.
        members = await staff.memberships(session, user.id)
        permissions = frozenset(p for m in members for p in m.permissions)
        chat_id, locale, url = message.chat.id, joined.locale, runtime.platform.webapp_url
        after_commit.append(lambda: command_menus.set_chat_menu(bot, chat_id, permissions, locale, url))

    @r.message(Command("invite"))
    async def invite(message: Message, session: AsyncSession, after_commit: AfterCommit) -> None:
        await _in_managed_tenant(session, message, after_commit, "invite.choose_tenant",
                                 lambda m: InviteAction(tenant_id=m.tenant_id).pack(), _role_choice)

    @r.callback_query(InviteAction.filter())
    async def invite_pressed(query: CallbackQuery, callback_data: InviteAction, session: AsyncSession,
                             after_commit: AfterCommit, runtime: BotRuntime) -> None:
        members, managing = await _managing(session, query.from_user)
        member = next((m for m in managing if m.tenant_id == callback_data.tenant_id), None)
        if member is None:
            _alert(after_commit, query, t("staff.error.no_permission", _locale(members, query.from_user)))
            return
        if not callback_data.role:
            _show(after_commit, query, *await _role_choice(session, member))
            return
        made, error = await _attempt(session, lambda: staff.create_invitation(
            session, member.tenant_id, callback_data.role, actor=member))
        if error is not None:
            _alert(after_commit, query, _refusal(error, member.locale))
            return
        params = dict(tenant=member.tenant_name, role=role_name(made.role_code, member.locale),
                      expires=made.expires_at.strftime("%Y-%m-%d %H:%M"))
        text = (t("invite.made", member.locale, link=made.link(runtime.bot_username), **params)
                if runtime.bot_username else t("invite.made_no_link", member.locale, token=made.token, **params))
        _show(after_commit, query, text)

    @r.message(Command("staff"))
    async def staff_list(message: Message, session: AsyncSession, after_commit: AfterCommit) -> None:
        await _in_managed_tenant(session, message, after_commit, "staff.choose_tenant",
                                 lambda m: StaffAction(action="list", tenant_id=m.tenant_id).pack(), _staff_list)

    @r.callback_query(StaffAction.filter())
    async def staff_pressed(query: CallbackQuery, callback_data: StaffAction, session: AsyncSession,
                            after_commit: AfterCommit) -> None:
        members, managing = await _managing(session, query.from_user)
        member = next((m for m in managing if m.tenant_id == callback_data.tenant_id), None)
        if member is None:
            _alert(after_commit, query, t("staff.error.no_permission", _locale(members, query.from_user)))
            return
        action, locale, staff_id = callback_data.action, member.locale, callback_data.staff_id
        if action == "list":
            _show(after_commit, query, *await _staff_list(session, member))
            return
        if action == "person":
            shown, error = await _attempt(session, lambda: _person(session, member, staff_id))
            if error is None:
                _show(after_commit, query, *shown)
        elif action == "role":
            row, error = await _attempt(session, lambda: staff.change_role(
                session, member.tenant_id, staff_id, callback_data.role, actor=member))
            if error is None:
                done = t("staff.done.role", locale, name=row.name, role=role_name(row.role_code, locale))
                _show(after_commit, query, done, InlineKeyboardMarkup(inline_keyboard=[[_back(member)]]), toast=done)
        elif action == "remove":
            person, error = await _attempt(session, lambda: staff.get_staff(
                session, member.tenant_id, staff_id, actor=member))
            if error is None:
                confirm = InlineKeyboardMarkup(inline_keyboard=[[
                    InlineKeyboardButton(text=t("staff.btn.confirm", locale), callback_data=StaffAction(
                        action="confirm", tenant_id=member.tenant_id, staff_id=staff_id).pack()),
                    _back(member)]])
                _show(after_commit, query, t("staff.confirm.remove", locale, name=person.name), confirm)
        elif action == "confirm":
            removal, error = await _attempt(session, lambda: staff.remove_staff(
                session, member.tenant_id, staff_id, actor=member))
            if error is None:
                done = t("staff.done.removed", locale, name=removal.name, groups=removal.groups,
                         dialogs=len(removal.unassigned))
                _show(after_commit, query, done, InlineKeyboardMarkup(inline_keyboard=[[_back(member)]]),
                      toast=done)
        else:
            return
        if error is not None:
            _alert(after_commit, query, _refusal(error, locale))

    return r
