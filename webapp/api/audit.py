"""The audit log (VIEW_AUDIT_LOGS): who changed what and when, with old and new values, filterable by kind, person
and period (core.services.audit over the event log). Payload values of fields the role hides are not sent.

`GET /api/audit?period=7|30|today|custom&from=&to=&kind=&person=people|all|<staff id>&before=<id>`.
"""

from __future__ import annotations

from aiohttp import web

from core import i18n
from core.permissions import Field, Permission
from core.services import audit

from ..auth import signed_in
from ..pages import Page
from .dashboard import period_from, period_json

routes = web.RouteTableDef()
HIDDEN_KEYS = {Field.PHONE: ("phone",), Field.EMAIL: ("email",), Field.USERNAME: ("username",),
               Field.PROFILE_LINK: ("profile_link", "profile_url"), Field.NOTES: ("note", "notes", "text"),
               Field.TAGS: ("tags",), Field.DEAL_AMOUNT: ("amount", "outcome_amount"),
               Field.TRAFFIC_SOURCE: ("source", "campaign", "utm")}


def kind_label(member, kind: str) -> str:
    key = f"miniapp.audit.kind.{kind}"
    return member.t(key) if i18n.has(key, member.locale) else kind


async def _context(request, session, member) -> dict:
    kinds = [{"kind": k, "label": kind_label(member, k)} for k in await audit.kinds(session, member.tenant_id)]
    people = [{"id": i, "name": name} for i, name in await audit.people(session, member.tenant_id)]
    return {"kinds": kinds, "people": people}


PAGES = [
    Page(name="audit", path="/audit", title="miniapp.audit.title", permission=Permission.VIEW_AUDIT_LOGS,
         texts=("miniapp.audit.", "miniapp.period."), context=_context, order=80),
]


def _visible(member, payload: dict) -> dict:
    hidden = {key for field, keys in HIDDEN_KEYS.items() if not member.sees(field) for key in keys}
    return {k: v for k, v in payload.items() if k not in hidden}


@routes.get("/api/audit")
async def api_audit(request: web.Request) -> web.Response:
    before = request.query.get("before")
    async with signed_in(request, Permission.VIEW_AUDIT_LOGS) as (session, member):
        period = period_from(request, member)
        rows = await audit.entries(session, member.tenant_id, kind=request.query.get("kind") or None,
                                   actor=request.query.get("person") or audit.PEOPLE, since=period.start,
                                   until=period.end, before_id=int(before) if before and before.isdigit() else None)
    items = []
    for row in rows:
        payload = _visible(member, row.payload)
        changes = [{"key": c.key, "old": c.old, "new": c.new} for c in audit.changes(payload)]
        if changes:
            payload = {k: v for k, v in payload.items()
                       if k != "changes" and not k.startswith(("old_", "new_")) and k not in ("old", "new")}
        items.append({**row.as_dict(), "payload": payload, "changes": changes,
                      "label": kind_label(member, row.kind)})
    return web.json_response({"period": period_json(request, period), "items": items,
                              "more": len(rows) == audit.PAGE})
