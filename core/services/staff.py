"""Staff of a tenant: who a Telegram user is in each business they work for.

A person can be staff of several tenants; private-chat commands ask which one where it matters.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import StaffMember, Tenant
from ..permissions import Permission, can


@dataclass(frozen=True)
class Membership:
    """One active staff record of a Telegram user, with the tenant and the role's rights."""

    staff_id: int
    tenant_id: int
    tenant_slug: str
    tenant_name: str
    role_code: str
    permissions: frozenset[str]
    hidden_fields: frozenset[str]
    locale: str
    name: str

    def can(self, permission: Permission) -> bool:
        return can(self.permissions, permission)


async def memberships(session: AsyncSession, telegram_user_id: int) -> list[Membership]:
    """Every tenant where this Telegram user is active staff, oldest membership first."""
    rows = (await session.execute(
        select(StaffMember, Tenant)
        .join(Tenant, Tenant.id == StaffMember.tenant_id)
        .where(StaffMember.telegram_user_id == telegram_user_id, StaffMember.is_active.is_(True))
        .order_by(StaffMember.id)
    )).all()
    return [
        Membership(staff.id, tenant.id, tenant.slug, tenant.name, staff.role.code,
                   frozenset(staff.role.permissions), frozenset(staff.role.hidden_fields), staff.locale, staff.name)
        for staff, tenant in rows
    ]
