"""/connect_telegram in a private chat with the bot: an owner, admin or technical staff member connects a personal
Telegram account (phone → code → 2FA password, or `/connect_telegram qr` for a QR code), driving
userbots.telegram.login.TelegramLoginService. `/cancel` stops a login half-way.

Answers go straight back to the person, not through the outbox: the login is a live conversation whose codes
expire within minutes, and a QR login token must not be stored anywhere. The code and password the person sends
are deleted from the chat as soon as they are read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import UserError
from core.models import StaffMember, Tenant
from core.permissions import Permission
from core.services.workspace import base
from userbots.telegram.login import LoginState, LoginStep, TelegramLoginService
from userbots.texts import t

log = logging.getLogger(__name__)

QR_ROUNDS = 6  # a QR code lives ~30 s; it is renewed this many times before the login gives up
QR_WAIT = 30.0
ANSWERING = (LoginState.PHONE, LoginState.CODE, LoginState.PASSWORD)


async def manageable_tenants(session: AsyncSession, telegram_user_id: int) -> list[tuple[int, str]]:
    """(tenant id, slug) of the companies where this person may connect channels."""
    rows = (await session.execute(
        select(Tenant.id, Tenant.slug).join(StaffMember, StaffMember.tenant_id == Tenant.id)
        .where(StaffMember.telegram_user_id == telegram_user_id, StaffMember.is_active.is_(True))
        .order_by(Tenant.id)
    )).all()
    allowed = []
    for tenant_id, slug in rows:
        actor = await base.load_actor(session, tenant_id, telegram_user_id)
        if actor is not None and actor.can(Permission.MANAGE_CHANNELS):
            allowed.append((tenant_id, slug))
    return allowed


async def show(bot: Bot, chat_id: int, step: LoginStep) -> None:
    if step.qr_png:
        await bot.send_photo(chat_id, BufferedInputFile(step.qr_png, "login-qr.png"), caption=step.text)
    else:
        await bot.send_message(chat_id, step.text)


def router(login: TelegramLoginService) -> Router:
    r = Router(name="connect_telegram")
    r.message.filter(F.chat.type == "private")
    flows: dict[int, int] = {}  # Telegram user id → the tenant their login in progress is for
    qr_waiters: dict[int, asyncio.Task] = {}

    def answering(message: Message) -> bool:
        user = message.from_user
        return user is not None and user.id in flows and login.state(flows[user.id], user.id) in ANSWERING

    async def wait_for_scan(bot: Bot, chat_id: int, tenant_id: int, user_id: int) -> None:
        try:
            for _ in range(QR_ROUNDS):
                step = await login.wait_qr(tenant_id, user_id, timeout=QR_WAIT)
                await show(bot, chat_id, step)
                if step.state != LoginState.QR:
                    break  # connected, failed, or the 2FA password is asked next (as a plain message)
            else:
                await show(bot, chat_id, await login.cancel(tenant_id, user_id))
        except Exception:
            log.exception("QR login of %s failed", user_id)
        finally:
            qr_waiters.pop(user_id, None)
            if login.state(tenant_id, user_id) not in ANSWERING:
                flows.pop(user_id, None)

    @r.message(Command("connect_telegram"))
    async def start(message: Message, command: CommandObject, session: AsyncSession, bot: Bot) -> None:
        user_id = message.from_user.id
        args = (command.args or "").split()
        method = "qr" if "qr" in (a.lower() for a in args) else "phone"
        slug = next((a for a in args if a.lower() != "qr"), None)
        tenants = await manageable_tenants(session, user_id)
        slugs = ", ".join(s for _, s in tenants)
        if not tenants:
            await message.answer(t("channel.connect_no_rights"))
            return
        if slug is None and len(tenants) > 1:
            await message.answer(t("channel.connect_choose_tenant", slugs=slugs))
            return
        chosen = next((tid for tid, s in tenants if s == slug), None) if slug else tenants[0][0]
        if chosen is None:
            await message.answer(t("channel.connect_unknown_tenant", slug=slug, slugs=slugs))
            return
        waiter = qr_waiters.pop(user_id, None)
        if waiter is not None:
            waiter.cancel()
        try:
            step = await login.start(chosen, user_id, method=method)
        except UserError as exc:  # api_id/api_hash not configured
            await message.answer(str(exc))
            return
        flows[user_id] = chosen
        await show(bot, message.chat.id, step)
        if step.state == LoginState.QR:
            qr_waiters[user_id] = asyncio.create_task(wait_for_scan(bot, message.chat.id, chosen, user_id))

    @r.message(Command("cancel"), lambda m: m.from_user is not None and m.from_user.id in flows)
    async def cancel(message: Message, bot: Bot) -> None:
        user_id = message.from_user.id
        waiter = qr_waiters.pop(user_id, None)
        if waiter is not None:
            waiter.cancel()
        await show(bot, message.chat.id, await login.cancel(flows.pop(user_id), user_id))

    @r.message(F.text, answering)
    async def answer(message: Message, bot: Bot) -> None:
        user_id = message.from_user.id
        tenant_id = flows[user_id]
        step = await login.submit(tenant_id, user_id, message.text)
        with contextlib.suppress(TelegramAPIError):
            await message.delete()  # the code or the password must not stay in the chat
        await show(bot, message.chat.id, step)
        if step.state not in ANSWERING:
            flows.pop(user_id, None)

    return r
