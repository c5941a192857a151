"""Dialogs: who am I (`/api/me`), the dialog list (filters, search, keyset pages) and a dialog's page (history pages,
drafts and what became of them, outcome, notes, tags, AI mode and assignee), and their pages (`/dialogs`,
`/dialogs/<id>`).

Changes made on the dialog page go through the workspace's own functions (core.services.workspace) with an Actor
made from the Mini App member, so they check the same permissions, leave the same audit events and refresh the
topic's pinned card just as the same action in the managers' topic does.
"""

from __future__ import annotations

from aiohttp import web

from core.errors import NotFound, PermissionDenied, UserError
from core.i18n import has
from core.models import AIMode, Dialog, DialogStatus, Outcome
from core.permissions import Field, Permission
from core.services import dialog_search, miniapp
from core.services.workspace import base, controls

from ..auth import WEBAPP_CONTEXT, Member, signed_in, telegram_user
from ..pages import Page

routes = web.RouteTableDef()

OUTCOMES = ("won", "lost", "none")


async def _labels(request: web.Request, session, member: Member) -> dict:
    """Names for the scripts (statuses, outcomes, AI modes, draft states) and what the filters offer."""
    data = {
        "statuses": {s.value: member.t(f"miniapp.dialogs.status.{s.value}") for s in DialogStatus},
        "outcomes": {o: member.t(f"miniapp.dialogs.outcome.{o}") for o in OUTCOMES},
        "ai_modes": {m.value: member.t(f"miniapp.dialog.ai_mode.{m.value}") for m in AIMode},
        "draft_states": {s: member.t(f"miniapp.dialog.draft.{s}") for s in
                         ("pending", "sent", "edited", "rejected", "escalated", "outdated", "failed")},
        "can": {"manage": member.can(Permission.MANAGE_CONVERSATIONS), "ai": member.can(Permission.MANAGE_AUTOSEND),
                "tags": member.can(Permission.MANAGE_CUSTOMERS) and member.sees(Field.TAGS)},
        "me": member.staff_id,
    }
    data.update(await miniapp.list_options(session, member.tenant_id))
    return {"data": data}


async def _dialog_tenant(request: web.Request, session) -> int:
    dialog = await session.get(Dialog, int(request.match_info["dialog_id"]))
    if dialog is None:
        raise NotFound(f"no dialog {request.match_info['dialog_id']}", code="miniapp.dialog.error.unknown",
                       id=request.match_info["dialog_id"])
    return dialog.tenant_id


PAGES = [
    Page(name="dialogs", path="/dialogs", title="miniapp.dialogs.title", permission=Permission.VIEW_CONVERSATIONS,
         texts=("miniapp.dialogs.",), order=10, context=_labels),
    Page(name="dialog", path="/dialogs/{dialog_id:\\d+}", title="miniapp.dialog.title",
         permission=Permission.VIEW_CONVERSATIONS, texts=("miniapp.dialog.", "miniapp.dialogs."), nav=False,
         order=11, context=_labels, tenant=_dialog_tenant),
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


def _limit(request: web.Request, default: int) -> int:
    try:
        return int(request.query.get("limit") or default)
    except ValueError:
        raise UserError("limit must be a number") from None


@routes.get("/api/dialogs")
async def api_dialogs(request: web.Request) -> web.Response:
    """`?tenant=&status=&channel=&manager=<id>|none&outcome=won|lost|none&unread=1&escalated=1&q=&cursor=&limit=`"""
    async with signed_in(request, Permission.VIEW_CONVERSATIONS) as (session, member):
        filters = dialog_search.parse_filters(request.query)
        page = await miniapp.list_dialogs(session, tenant_id=member.tenant_id, hidden=member.hidden_fields,
                                          filters=filters, cursor=request.query.get("cursor"),
                                          limit=_limit(request, dialog_search.PAGE))
    return web.json_response(page)


def _dialog_id(request: web.Request) -> int:
    return int(request.match_info["dialog_id"])


async def _tenant_of(request: web.Request) -> int:
    async with request.app[WEBAPP_CONTEXT].db.unit_of_work() as session:
        return await _dialog_tenant(request, session)


@routes.get("/api/dialogs/{dialog_id:\\d+}")
async def api_dialog(request: web.Request) -> web.Response:
    """A dialog and a page of its history; `?before=<cursor>` pages back (the answer's `before` is the next one)."""
    telegram_user(request)
    tenant_id = await _tenant_of(request)
    async with signed_in(request, Permission.VIEW_CONVERSATIONS, tenant_id=tenant_id) as (session, member):
        data = await miniapp.dialog_view(session, dialog_id=_dialog_id(request), tenant_id=tenant_id,
                                         hidden=member.hidden_fields, before=request.query.get("before") or None,
                                         limit=_limit(request, miniapp.HISTORY_PAGE), locale=member.locale)
    return web.json_response(data)


def _actor(member: Member) -> base.Actor:
    return miniapp.actor_for(staff_id=member.staff_id, tenant_id=member.tenant_id,
                             telegram_user_id=member.user.id, name=member.name, role_code=member.role_code,
                             permissions=member.permissions)


def _refusal(exc: base.WorkspaceError) -> UserError:
    """The workspace's refusal in the Mini App's words (its code names miniapp.dialog.error.<code>)."""
    key = f"miniapp.dialog.error.{exc.code}"
    return UserError(str(exc), code=key if has(key) else None, **exc.params)


async def _body(request: web.Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise UserError("the request body must be JSON") from None
    if not isinstance(body, dict):
        raise UserError("the request body must be a JSON object")
    return body


def _change(action):
    """A POST on a dialog: the member of the dialog's tenant with VIEW_CONVERSATIONS (the action checks its own
    permission through the Actor), one unit of work, and the dialog's card as it is now in the answer."""

    async def handler(request: web.Request) -> web.Response:
        body = await _body(request)
        telegram_user(request)
        tenant_id = await _tenant_of(request)
        dialog_id = _dialog_id(request)
        async with signed_in(request, Permission.VIEW_CONVERSATIONS, tenant_id=tenant_id) as (session, member):
            try:
                await action(session, member, _actor(member), dialog_id, body)
            except base.WorkspaceError as exc:
                raise _refusal(exc) from None
            await session.flush()
            view = await miniapp.dialog_view(session, dialog_id=dialog_id, tenant_id=tenant_id,
                                             hidden=member.hidden_fields, limit=1)
        return web.json_response({"ok": True, "dialog": view["dialog"]})

    return handler


async def _ai_mode(session, member, actor, dialog_id, body) -> None:
    await controls.set_ai_mode(session, actor, dialog_id, str(body.get("mode") or ""))


async def _assign(session, member, actor, dialog_id, body) -> None:
    staff_id = body.get("staff_id")
    if staff_id is not None and not isinstance(staff_id, int):
        raise UserError("staff_id must be a number")
    await controls.assign(session, actor, dialog_id, staff_id=staff_id)


async def _unassign(session, member, actor, dialog_id, body) -> None:
    await miniapp.unassign(session, actor, dialog_id)


async def _outcome(session, member, actor, dialog_id, body) -> None:
    outcome = body.get("outcome")
    if outcome == Outcome.WON.value:
        amount = controls.parse_amount(str(body["amount"])) if body.get("amount") not in (None, "") else None
        if amount is not None and not member.sees(Field.DEAL_AMOUNT):
            amount = None  # a role that does not see amounts does not set them either
        await controls.mark_won(session, actor, dialog_id, amount)
    elif outcome == Outcome.LOST.value:
        await controls.mark_lost(session, actor, dialog_id, (str(body.get("reason") or "").strip() or None))
    elif outcome == "reopen":
        await controls.reopen_dialog(session, actor, dialog_id)
    elif outcome == "close":
        await controls.close_dialog(session, actor, dialog_id)
    else:
        raise UserError("outcome: won, lost, close or reopen", code="miniapp.dialog.error.bad_outcome")


async def _note(session, member, actor, dialog_id, body) -> None:
    await miniapp.add_note(session, actor, dialog_id, str(body.get("text") or ""))


async def _tags(session, member, actor, dialog_id, body) -> None:
    await miniapp.set_tags(session, actor, dialog_id, body.get("tags"), hidden=member.hidden_fields)


routes.post("/api/dialogs/{dialog_id:\\d+}/ai_mode")(_change(_ai_mode))
routes.post("/api/dialogs/{dialog_id:\\d+}/assign")(_change(_assign))
routes.post("/api/dialogs/{dialog_id:\\d+}/unassign")(_change(_unassign))
routes.post("/api/dialogs/{dialog_id:\\d+}/outcome")(_change(_outcome))
routes.post("/api/dialogs/{dialog_id:\\d+}/note")(_change(_note))
routes.post("/api/dialogs/{dialog_id:\\d+}/tags")(_change(_tags))
