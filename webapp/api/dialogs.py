"""Dialogs: who am I (`/api/me`), the dialog list and a dialog's history, and their pages (`/`, `/dialogs/<id>`)."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from core.errors import NotFound, PermissionDenied, UserError
from core.models import Dialog, DialogStatus
from core.permissions import Permission
from core.services import miniapp

from ..auth import WEBAPP_CONTEXT, telegram_user
from ..pages import Page

routes = web.RouteTableDef()


async def _statuses(request: web.Request, session, member) -> dict:
    """Status names for the page's script (the list and the dialog show them)."""
    return {"data": {"statuses": {s.value: member.t(f"miniapp.dialogs.status.{s.value}") for s in DialogStatus}}}


PAGES = [
    Page(name="dialogs", path="/dialogs", title="miniapp.dialogs.title", permission=Permission.VIEW_CONVERSATIONS,
         texts=("miniapp.dialogs.",), order=10,
         context=_statuses),
    Page(name="dialog", path="/dialogs/{dialog_id:\\d+}", title="miniapp.dialog.title",
         permission=Permission.VIEW_CONVERSATIONS, texts=("miniapp.dialog.",), nav=False, order=11,
         context=_statuses, tenant=lambda request, session: _dialog_tenant(request, session)),
]


@routes.get("/api/me")
async def api_me(request: web.Request) -> web.Response:
    user = telegram_user(request)
    async with request.app[WEBAPP_CONTEXT].db.unit_of_work() as session:
        rows = await miniapp.memberships(session, user.id)
    if not rows:
        raise PermissionDenied("you are not a staff member of any business here")
    return web.json_response({
        "user": {"id": user.id, "name": user.first_name},
        "memberships": [
            {"tenant": {"id": t.id, "slug": t.slug, "name": t.name}, "role": {"code": r.code, "name": r.name},
             "permissions": sorted(r.permissions), "hidden_fields": sorted(r.hidden_fields)}
            for _, r, t in rows
        ],
    })


@routes.get("/api/dialogs")
async def api_dialogs(request: web.Request) -> web.Response:
    user = telegram_user(request)
    try:
        tenant_id = int(request.query["tenant"])
        status = DialogStatus(request.query["status"]) if request.query.get("status") else None
    except (KeyError, ValueError):
        raise UserError("query needs tenant=<id> and an optional valid status") from None
    async with request.app[WEBAPP_CONTEXT].db.unit_of_work() as session:
        _, role = await miniapp.staff_for(session, user.id, tenant_id, Permission.VIEW_CONVERSATIONS)
        rows = await miniapp.list_dialogs(session, tenant_id=tenant_id, role=role, status=status)
    return web.json_response({"dialogs": rows})


@routes.get("/api/dialogs/{dialog_id:\\d+}")
async def api_dialog(request: web.Request) -> web.Response:
    user = telegram_user(request)
    try:
        dialog_id = int(request.match_info["dialog_id"])
        before = datetime.fromisoformat(request.query["before"]) if request.query.get("before") else None
    except ValueError:
        raise UserError("bad dialog id or 'before' timestamp") from None
    async with request.app[WEBAPP_CONTEXT].db.unit_of_work() as session:
        data = await miniapp.dialog_history(session, dialog_id=dialog_id, telegram_user_id=user.id, before=before)
    return web.json_response(data)


async def _dialog_tenant(request: web.Request, session) -> int:
    dialog = await session.get(Dialog, int(request.match_info["dialog_id"]))
    if dialog is None:
        raise NotFound(f"no dialog {request.match_info['dialog_id']}")
    return dialog.tenant_id
