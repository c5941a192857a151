"""A staff member's language for the bot: one choice, kept on every tenant they work for."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..errors import UserError
from ..i18n import LOCALES
from ..models import StaffMember


async def set_staff_locale(session: AsyncSession, telegram_user_id: int, locale: str) -> int:
    """Store `locale` on each active membership of this Telegram user; returns how many changed."""
    if locale not in LOCALES:
        raise UserError(f"unknown language {locale!r} (one of: {', '.join(LOCALES)})")
    staff = list((await session.execute(
        select(StaffMember).where(StaffMember.telegram_user_id == telegram_user_id, StaffMember.is_active.is_(True))
        .order_by(StaffMember.id)
    )).scalars())
    changed = 0
    for member in staff:
        if member.locale != locale:
            events.record(session, "staff_locale_changed", tenant_id=member.tenant_id, actor_staff_id=member.id,
                          old=member.locale, new=locale)
            member.locale = locale
            changed += 1
    return changed
