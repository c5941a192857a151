"""Who is calling: the Telegram user from initData (`Authorization: tma <initData>`), resolved to the staff member,
role and tenant they act as, with the permission checked server-side.

Every API handler and page view goes through `signed_in(request, Permission.X)` (or `current_member` when it already
holds a session): nothing reaches the database for a caller who is not an active staff member of the tenant with a
role granting the permission. A person who is staff of several tenants picks one (`?tenant=<id>` or the
`X-Tenant` header; the Mini App sends the one chosen in its header); without a choice the first membership is used.
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from core import i18n, initdata
from core.errors import NotAuthenticated, PermissionDenied, UserError
from core.i18n import t
from core.permissions import Field, Permission, can
from core.services import miniapp

WEBAPP_CONTEXT = web.AppKey("ctx", object)
REQUEST_USER = web.RequestKey("user", initdata.WebAppUser)
REQUEST_LOCALE = web.RequestKey("locale", str)  # the caller's language once known: errors are shown in it


@dataclass(frozen=True)
class Membership:
    tenant_id: int
    tenant_name: str
    role_name: str


@dataclass(frozen=True)
class Member:
    """The caller as one tenant's staff member. Plain values: safe to use after the unit of work ended."""

    user: initdata.WebAppUser
    staff_id: int
    name: str
    locale: str
    tenant_id: int
    tenant_slug: str
    tenant_name: str
    timezone: str
    currency: str
    role_code: str
    role_name: str
    permissions: frozenset[str]
    hidden_fields: frozenset[str]
    memberships: tuple[Membership, ...]

    def can(self, permission: Permission) -> bool:
        return can(self.permissions, permission)

    def sees(self, field: Field) -> bool:
        """False for a field the role hides: it must not be serialised at all."""
        return field.value not in self.hidden_fields

    def t(self, key: str, **params) -> str:
        return t(key, self.locale, **params)

    def as_dict(self) -> dict:
        return {
            "name": self.name, "locale": self.locale,
            "tenant": {"id": self.tenant_id, "slug": self.tenant_slug, "name": self.tenant_name,
                       "timezone": self.timezone, "currency": self.currency},
            "role": {"code": self.role_code, "name": self.role_name},
            "permissions": sorted(self.permissions), "hidden_fields": sorted(self.hidden_fields),
            "tenants": [{"id": m.tenant_id, "name": m.tenant_name, "role": m.role_name} for m in self.memberships],
        }


def _bot_token(ctx) -> str:
    token = ctx.settings.telegram.bot_token
    if token is None:
        raise NotAuthenticated("the Mini App needs SALESOP_BOT_TOKEN to check who you are")
    return token.get_secret_value()


def telegram_user(request: web.Request) -> initdata.WebAppUser:
    """The Telegram user the request's initData speaks for (checked once per request). 401 when absent or bad."""
    if REQUEST_USER in request:
        return request[REQUEST_USER]
    ctx = request.app[WEBAPP_CONTEXT]
    scheme, _, data = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "tma" or not data:
        raise NotAuthenticated("missing 'Authorization: tma <initData>' header")
    request[REQUEST_USER] = initdata.validate(data, _bot_token(ctx), ttl=ctx.settings.webapp.initdata_ttl,
                                             now=time.time())
    return request[REQUEST_USER]


def chosen_tenant(request: web.Request) -> int | None:
    raw = request.query.get("tenant") or request.headers.get("X-Tenant")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise UserError("tenant must be a number") from None


async def current_member(request: web.Request, session: AsyncSession, permission: Permission | None = None, *,
                         tenant_id: int | None = None) -> Member:
    """The caller as a staff member of the chosen tenant (or `tenant_id`, e.g. the tenant of a dialog being opened),
    refused with 403 unless active there and, when `permission` is given, granted it by their role."""
    user = telegram_user(request)
    rows = await miniapp.memberships(session, user.id)
    locale = i18n.normalize(rows[0][0].locale if rows else user.language_code)
    request[REQUEST_LOCALE] = locale
    if not rows:
        raise PermissionDenied(t("miniapp.error.not_staff", locale))
    wanted = tenant_id if tenant_id is not None else chosen_tenant(request)
    match = rows[0] if wanted is None else next((r for r in rows if r[2].id == wanted), None)
    if match is None:
        raise PermissionDenied(t("miniapp.error.other_tenant", locale))
    staff, role, tenant = match
    locale = request[REQUEST_LOCALE] = i18n.normalize(staff.locale)
    if permission is not None and not can(role.permissions, permission):
        raise PermissionDenied(t("miniapp.error.forbidden", locale, role=role.name))
    return Member(
        user=user, staff_id=staff.id, name=staff.name, locale=locale, tenant_id=tenant.id, tenant_slug=tenant.slug,
        tenant_name=tenant.name, timezone=tenant.timezone, currency=tenant.currency, role_code=role.code,
        role_name=role.name, permissions=frozenset(role.permissions), hidden_fields=frozenset(role.hidden_fields),
        memberships=tuple(Membership(tn.id, tn.name, r.name) for _, r, tn in rows),
    )


@asynccontextmanager
async def signed_in(request: web.Request, permission: Permission | None = None, *,
                    tenant_id: int | None = None) -> AsyncIterator[tuple[AsyncSession, Member]]:
    """One unit of work for an API call, with the caller checked first:

        async with signed_in(request, Permission.VIEW_SPEND) as (session, member):
            ...
    """
    telegram_user(request)  # a bad initData is a 401 before any database work
    async with request.app[WEBAPP_CONTEXT].db.unit_of_work() as session:
        yield session, await current_member(request, session, permission, tenant_id=tenant_id)
