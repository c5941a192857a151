"""The aiohttp server: the Mini App (pages + JSON API with `Authorization: tma <initData>`) and a health check.

Every API request is authenticated from initData (core.initdata) and authorised server-side per tenant and role
(core.services.miniapp); the pages are static shells that call the API.
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import datetime
from pathlib import Path

import jinja2
from aiohttp import web
from sqlalchemy import text

from core import initdata
from core.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, UserError
from core.models import DialogStatus
from core.permissions import Permission
from core.ratelimit import Budget, build_rate_limiter
from core.services import miniapp

HERE = Path(__file__).resolve().parent
WEBAPP_CONTEXT = web.AppKey("ctx", object)
RATE_LIMITER = web.AppKey("rate_limiter", object)
RATE_BUDGET = web.AppKey("rate_budget", Budget)
REQUEST_USER = web.RequestKey("user", initdata.WebAppUser)
# Per Telegram user across the whole API: a person clicking around makes a few requests a second at most; a script
# or a stuck page looping is slowed down (429 with Retry-After) without touching the database.
API_BUDGET = Budget(120, 60.0, burst=40)
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)


def _bot_token(ctx) -> str:
    token = ctx.settings.telegram.bot_token
    if token is None:
        raise NotAuthenticated("the Mini App needs SALESOP_BOT_TOKEN to check who you are")
    return token.get_secret_value()


def _user(request: web.Request) -> initdata.WebAppUser:
    if REQUEST_USER in request:
        return request[REQUEST_USER]  # checked by the rate limit already
    ctx = request.app[WEBAPP_CONTEXT]
    scheme, _, data = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "tma" or not data:
        raise NotAuthenticated("missing 'Authorization: tma <initData>' header")
    request[REQUEST_USER] = initdata.validate(data, _bot_token(ctx), ttl=ctx.settings.webapp.initdata_ttl,
                                             now=time.time())
    return request[REQUEST_USER]


@web.middleware
async def rate_limited(request: web.Request, handler):
    """API requests of one Telegram user share one budget (core.ratelimit: in this process, or on Redis across all
    Mini App processes when SALESOP_REDIS_URL is set). Over it: 429 with Retry-After, before any work is done."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        user = _user(request)
    except NotAuthenticated:
        return await handler(request)  # the handler answers 401 the usual way
    wait = await request.app[RATE_LIMITER].try_acquire(f"miniapp:user:{user.id}", request.app[RATE_BUDGET])
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        return web.json_response({"error": "too many requests", "retry_after": retry_after}, status=429,
                                 headers={"Retry-After": str(retry_after)})
    return await handler(request)


@web.middleware
async def errors_as_json(request: web.Request, handler):
    try:
        return await handler(request)
    except NotAuthenticated as exc:
        return web.json_response({"error": str(exc)}, status=401)
    except PermissionDenied as exc:
        return web.json_response({"error": str(exc)}, status=403)
    except NotFound as exc:
        return web.json_response({"error": str(exc)}, status=404)
    except UserError as exc:
        return web.json_response({"error": str(exc)}, status=400)


async def health(request: web.Request) -> web.Response:
    ctx = request.app[WEBAPP_CONTEXT]
    async with ctx.db.unit_of_work() as session:
        await session.execute(text("SELECT 1"))
    return web.json_response({"ok": True, "database": "embedded" if ctx.embedded else "external"})


async def page(request: web.Request) -> web.Response:
    return web.Response(text=TEMPLATES.get_template("app.html").render(), content_type="text/html")


async def api_me(request: web.Request) -> web.Response:
    user = _user(request)
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


async def api_dialogs(request: web.Request) -> web.Response:
    user = _user(request)
    try:
        tenant_id = int(request.query["tenant"])
        status = DialogStatus(request.query["status"]) if request.query.get("status") else None
    except (KeyError, ValueError):
        raise UserError("query needs tenant=<id> and an optional valid status") from None
    async with request.app[WEBAPP_CONTEXT].db.unit_of_work() as session:
        _, role = await miniapp.staff_for(session, user.id, tenant_id, Permission.VIEW_CONVERSATIONS)
        rows = await miniapp.list_dialogs(session, tenant_id=tenant_id, role=role, status=status)
    return web.json_response({"dialogs": rows})


async def api_dialog(request: web.Request) -> web.Response:
    user = _user(request)
    try:
        dialog_id = int(request.match_info["dialog_id"])
        before = datetime.fromisoformat(request.query["before"]) if request.query.get("before") else None
    except ValueError:
        raise UserError("bad dialog id or 'before' timestamp") from None
    async with request.app[WEBAPP_CONTEXT].db.unit_of_work() as session:
        data = await miniapp.dialog_history(session, dialog_id=dialog_id, telegram_user_id=user.id, before=before)
    return web.json_response(data)


def build_app(ctx, *, rate_budget: Budget = API_BUDGET) -> web.Application:
    app = web.Application(middlewares=[errors_as_json, rate_limited])
    app[WEBAPP_CONTEXT] = ctx
    # Real seconds (time scale 1): the budget protects the server, not an emulated far side.
    app[RATE_LIMITER] = build_rate_limiter(ctx.settings.redis.redis_url, 1.0)
    app[RATE_BUDGET] = rate_budget

    async def close_limiter(app: web.Application) -> None:
        close = getattr(app[RATE_LIMITER], "close", None)
        if close is not None:
            await close()

    app.on_cleanup.append(close_limiter)
    app.router.add_get("/healthz", health)
    app.router.add_get("/", page)
    app.router.add_get("/dialogs/{dialog_id:\\d+}", page)
    app.router.add_get("/api/me", api_me)
    app.router.add_get("/api/dialogs", api_dialogs)
    app.router.add_get("/api/dialogs/{dialog_id:\\d+}", api_dialog)
    app.router.add_static("/static", HERE / "static")
    return app


async def run(ctx, stop: asyncio.Event) -> None:
    from salesop.runner import announce

    settings = ctx.settings.webapp
    runner = web.AppRunner(build_app(ctx), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.webapp_host, settings.webapp_port)
    try:
        await site.start()
    except OSError as exc:  # taken after the start-up check: one line, no traceback
        await runner.cleanup()
        raise Conflict(f"the Mini App cannot listen on {settings.webapp_host}:{settings.webapp_port}: "
                       f"{exc.strerror or exc}; stop what uses it or set SALESOP_WEBAPP_PORT") from None
    announce("webapp", f"http://{settings.webapp_host}:{settings.webapp_port}/  (Mini App; health: /healthz)")
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
