"""Tenants: create (with the built-in roles), list, look up."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import Conflict, NotFound, UserError
from ..models import Role, Tenant
from ..permissions import BUILTIN_ROLES

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"unknown timezone {name!r} (use an IANA name such as Europe/Moscow)",
                        code="tenants.error.bad_timezone", timezone=name) from None
    return name


async def create_tenant(session: AsyncSession, *, slug: str, name: str, timezone: str = "Europe/Moscow", **fields) -> Tenant:
    if not SLUG_RE.match(slug):
        raise UserError(f"slug {slug!r} must be 2-63 characters: lowercase latin letters, digits and '-'",
                        code="tenants.error.bad_slug", slug=slug)
    if not name.strip():
        raise UserError("tenant name must not be empty", code="tenants.error.empty_name")
    tenant = Tenant(slug=slug, name=name.strip(), timezone=validate_timezone(timezone), **fields)
    tenant.roles = [
        Role(
            code=code,
            name=spec["name"],
            permissions=sorted(p.value for p in spec["permissions"]),
            hidden_fields=sorted(f.value for f in spec["hidden"]),
        )
        for code, spec in BUILTIN_ROLES.items()
    ]
    session.add(tenant)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"a tenant with slug {slug!r} already exists", code="tenants.error.slug_taken",
                       slug=slug) from None
    return tenant


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    return list((await session.execute(select(Tenant).order_by(Tenant.id))).scalars())


async def get_tenant(session: AsyncSession, slug: str) -> Tenant:
    tenant = (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()
    if tenant is None:
        raise NotFound(f"no tenant with slug {slug!r}", code="tenants.error.unknown", slug=slug)
    return tenant


async def role_by_code(session: AsyncSession, tenant_id: int, code: str) -> Role:
    role = (
        await session.execute(select(Role).where(Role.tenant_id == tenant_id, Role.code == code))
    ).scalar_one_or_none()
    if role is None:
        raise NotFound(f"no role {code!r}", code="tenants.error.unknown_role", role=code)
    return role


async def count_tenants(session: AsyncSession) -> int:
    return (await session.execute(select(func.count(Tenant.id)))).scalar_one()
