"""Escalations (VIEW_CONVERSATIONS to see them, MANAGE_CONVERSATIONS to close them): pending, handled and dismissed,
each with its dialog, reason, summary and proposed answer, who raised it and when, who closed it and when
(core.services.escalations).

`GET /api/escalations?status=pending|handled|dismissed&before=<id>`, `POST /api/escalations/{id}/handle|dismiss`.
"""

from __future__ import annotations

from aiohttp import web

from core.models import EscalationStatus
from core.permissions import Permission
from core.services import escalations

from ..auth import signed_in
from ..pages import Page
from .knowledge import path_id

routes = web.RouteTableDef()


async def _context(request, session, member) -> dict:
    counts = await escalations.counts(session, member.tenant_id)
    tabs = [{"status": s.value, "label": member.t(f"miniapp.escalations.tab.{s.value}"), "count": counts[s.value]}
            for s in EscalationStatus]
    return {"tabs": tabs, "data": {"can_act": member.can(Permission.MANAGE_CONVERSATIONS)}}


PAGES = [
    Page(name="escalations", path="/escalations", title="miniapp.escalations.title",
         permission=Permission.VIEW_CONVERSATIONS, texts=("miniapp.escalations.",), context=_context, order=15),
]


@routes.get("/api/escalations")
async def api_list(request: web.Request) -> web.Response:
    status = escalations.parse_status(request.query.get("status"))
    before = request.query.get("before")
    async with signed_in(request, Permission.VIEW_CONVERSATIONS) as (session, member):
        rows = await escalations.list_escalations(session, member.tenant_id, status,
                                                  before_id=int(before) if before and before.isdigit() else None)
        counts = await escalations.counts(session, member.tenant_id)
    return web.json_response({"status": status.value, "counts": counts, "items": [r.as_dict() for r in rows],
                              "more": len(rows) == escalations.PAGE})


async def _close(request: web.Request, status: EscalationStatus) -> web.Response:
    async with signed_in(request, Permission.MANAGE_CONVERSATIONS) as (session, member):
        escalation = await escalations.close(session, member.tenant_id, path_id(request, "escalation_id"), status,
                                             staff_id=member.staff_id)
        result = {"id": escalation.id, "status": escalation.status.value,
                  "handled_at": escalation.handled_at.isoformat() if escalation.handled_at else None,
                  "handled_by": member.name}
        counts = await escalations.counts(session, member.tenant_id)
    return web.json_response({"escalation": result, "counts": counts})


@routes.post(r"/api/escalations/{escalation_id:\d+}/handle")
async def api_handle(request: web.Request) -> web.Response:
    return await _close(request, EscalationStatus.HANDLED)


@routes.post(r"/api/escalations/{escalation_id:\d+}/dismiss")
async def api_dismiss(request: web.Request) -> web.Response:
    return await _close(request, EscalationStatus.DISMISSED)
