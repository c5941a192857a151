"""Roles: what each role grants and which customer fields it sees, edited through core.services.roles (its rules:
the owner role keeps everything, nobody grants what they lack or takes MANAGE_USERS from their own role). A change
applies at once: the Mini App reads the role on every request, and the topic cards and reports read the audience
role's visibility from the database (its posted pinned cards are refreshed)."""

from __future__ import annotations

from aiohttp import web

from core.errors import UserError
from core.permissions import Permission
from core.services import roles as roles_service

from ..auth import Member, signed_in
from ..pages import Page

routes = web.RouteTableDef()


async def _context(request: web.Request, session, member: Member) -> dict:
    """Names of permissions and fields for the editor (built here: the scripts get no enumerations of keys)."""
    return {"data": {
        "permissions": [{"code": p, "label": member.t(f"miniapp.roles.perm.{p}")} for p in roles_service.PERMISSIONS],
        "fields": [{"code": f, "label": member.t(f"miniapp.roles.field.{f}")} for f in roles_service.FIELDS],
        "my_role": member.role_code,
    }}


PAGES = [
    Page(name="roles", path="/roles", title="miniapp.roles.title", permission=Permission.MANAGE_USERS,
         texts=("miniapp.roles.",), order=51, context=_context),
]


@routes.get("/api/roles")
async def api_roles(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.MANAGE_USERS) as (session, member):
        roles = await roles_service.list_roles(session, member.tenant_id, actor=member)
    return web.json_response({"roles": [r.as_dict() for r in roles]})


@routes.post("/api/roles/{code}")
async def api_update_role(request: web.Request) -> web.Response:
    """`{permissions?: [...], hidden_fields?: [...]}`: the whole new set of each part given."""
    try:
        body = await request.json()
    except ValueError:
        raise UserError("the request body must be JSON") from None
    if not isinstance(body, dict):
        raise UserError("the request body must be a JSON object")
    async with signed_in(request, Permission.MANAGE_USERS) as (session, member):
        role = await roles_service.update_role(session, member.tenant_id, request.match_info["code"], actor=member,
                                               permissions=body.get("permissions"),
                                               hidden_fields=body.get("hidden_fields"), via="miniapp")
    return web.json_response({"ok": True, "role": role.as_dict()})
