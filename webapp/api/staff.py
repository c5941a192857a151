"""Staff: the people of the business with their role, manager groups and last activity; invitation links; role changes
and removal — through core.services.staff, the same functions the bot and `salesop staff` use, so a removal here
ends the person's access at once (deactivated, banned from the managers' groups, their open dialogs unassigned)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from core.errors import UserError
from core.permissions import Permission
from core.services import miniapp
from core.services import staff as staff_service

from ..auth import Member, signed_in
from ..pages import Page
from .traffic import bot_username

routes = web.RouteTableDef()

INVITE_DAYS = (1, 7, 30)


async def _context(request: web.Request, session, member: Member) -> dict:
    return {"data": {"days": list(INVITE_DAYS), "me": member.staff_id}, "days": INVITE_DAYS}


PAGES = [
    Page(name="staff", path="/staff", title="miniapp.staff.title", permission=Permission.MANAGE_USERS,
         texts=("miniapp.staff.",), order=50, context=_context),
]


async def _body(request: web.Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise UserError("the request body must be JSON") from None
    if not isinstance(body, dict):
        raise UserError("the request body must be a JSON object")
    return body


@routes.get("/api/staff")
async def api_staff(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.MANAGE_USERS) as (session, member):
        data = await miniapp.staff_overview(session, member.tenant_id, actor=member)
    return web.json_response(data)


@routes.post("/api/staff/invitations")
async def api_invite(request: web.Request) -> web.Response:
    """`{role, days}` → a single-use link t.me/<bot>?start=<token>; the token is shown only now (stored hashed)."""
    body = await _body(request)
    try:
        days = int(body.get("days") or 7)
    except (TypeError, ValueError):
        raise UserError("days must be a number") from None
    username = await bot_username(request)
    async with signed_in(request, Permission.MANAGE_USERS) as (session, member):
        made = await staff_service.create_invitation(session, member.tenant_id, str(body.get("role") or ""),
                                                     actor=member, ttl=timedelta(days=days), via="miniapp")
    return web.json_response({
        "role": made.role_code, "expires_at": made.expires_at.isoformat(),
        "link": made.link(username) if username else None, "token": made.token,
    })


def _staff_id(request: web.Request) -> int:
    return int(request.match_info["staff_id"])


@routes.post("/api/staff/{staff_id:\\d+}/role")
async def api_change_role(request: web.Request) -> web.Response:
    body = await _body(request)
    async with signed_in(request, Permission.MANAGE_USERS) as (session, member):
        row = await staff_service.change_role(session, member.tenant_id, _staff_id(request),
                                              str(body.get("role") or ""), actor=member, via="miniapp")
    return web.json_response({"ok": True, "staff": row.as_dict()})


@routes.post("/api/staff/{staff_id:\\d+}/remove")
async def api_remove(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.MANAGE_USERS) as (session, member):
        removal = await staff_service.remove_staff(session, member.tenant_id, _staff_id(request), actor=member,
                                                   via="miniapp")
    return web.json_response({"ok": True, "name": removal.name, "groups": removal.groups,
                              "unassigned": removal.unassigned})


@routes.post("/api/staff/invitations/{invitation_id:\\d+}/revoke")
async def api_revoke_invitation(request: web.Request) -> web.Response:
    """A pending invitation withdrawn: its link stops working at once."""
    async with signed_in(request, Permission.MANAGE_USERS) as (session, member):
        role = await staff_service.revoke_invitation(session, member.tenant_id,
                                                     int(request.match_info["invitation_id"]), actor=member,
                                                     via="miniapp")
    return web.json_response({"ok": True, "role": role})
