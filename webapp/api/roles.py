"""Roles: what each role grants and which customer fields it sees, edited through core.services.roles (its rules:
the owner role keeps everything, nobody grants what they lack or takes MANAGE_USERS from their own role). A change
applies at once: the Mini App reads the role on every request, and the topic cards and reports read the audience
role's visibility from the database (its posted pinned cards are refreshed). New roles are created with a name,
permissions and visibility; a role nobody holds (and no waiting invitation gives) is deleted — built-in ones stay."""

from __future__ import annotations

from aiohttp import web

from core.errors import UserError
from core.permissions import BUILTIN_ROLES, Permission
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
        "builtin": sorted(BUILTIN_ROLES),
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


async def _body(request: web.Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise UserError("the request body must be JSON") from None
    if not isinstance(body, dict):
        raise UserError("the request body must be a JSON object")
    return body


@routes.post("/api/roles")
async def api_create_role(request: web.Request) -> web.Response:
    """`{name, permissions: [...], hidden_fields: [...]}` → the new role (its code made from the name)."""
    body = await _body(request)
    async with signed_in(request, Permission.MANAGE_USERS) as (session, member):
        role = await roles_service.create_role(session, member.tenant_id, actor=member,
                                               name=str(body.get("name") or ""),
                                               permissions=body.get("permissions") or [],
                                               hidden_fields=body.get("hidden_fields") or [], via="miniapp")
    return web.json_response({"ok": True, "role": role.as_dict()}, status=201)


@routes.post("/api/roles/{code}/delete")
async def api_delete_role(request: web.Request) -> web.Response:
    """Delete a role nobody holds and no waiting invitation gives (built-in roles stay)."""
    async with signed_in(request, Permission.MANAGE_USERS) as (session, member):
        name = await roles_service.delete_role(session, member.tenant_id, request.match_info["code"], actor=member,
                                               via="miniapp")
    return web.json_response({"ok": True, "name": name})


@routes.post("/api/roles/{code}")
async def api_update_role(request: web.Request) -> web.Response:
    """`{permissions?: [...], hidden_fields?: [...]}`: the whole new set of each part given."""
    body = await _body(request)
    async with signed_in(request, Permission.MANAGE_USERS) as (session, member):
        role = await roles_service.update_role(session, member.tenant_id, request.match_info["code"], actor=member,
                                               permissions=body.get("permissions"),
                                               hidden_fields=body.get("hidden_fields"), via="miniapp")
    return web.json_response({"ok": True, "role": role.as_dict()})
