"""The aiohttp server: the Mini App (pages + JSON API with `Authorization: tma <initData>`) and a health check.

Layout (see also webapp/pages.py):
- webapp/auth.py      initData → Telegram user → staff member + role + tenant (`signed_in`, `current_member`)
- webapp/pages.py     the page registry, the shell every page URL serves, `/view/<path>` rendering a page
- webapp/api/<area>.py  one module per area: its JSON routes (`routes`) and its pages (`PAGES`), listed in AREAS
- webapp/templates/   base.html (the shell) and <page>.html per page; webapp/static/ app.js, app.css,
                      pages/<page>.js, vendor/ (chart.js, pinned)

Every API request is authenticated from initData (core.initdata) and authorised server-side per tenant and role;
a per-user request budget guards the API (429 with Retry-After).

Telegram's WebApp SDK comes from telegram.org in production. When the Bot API URL (SALESOP_TELEGRAM_API_URL) is
not Telegram's own and answers as the Telegram sandbox (`GET /_sandbox/version`), the page loads the sandbox's
stand-in of the SDK from that server instead (`<sandbox>/js/telegram-web-app.js`, the path telegram.org uses):
there is no internet in sandbox mode, and the stand-in draws the BackButton and MainButton a Telegram client would.
"""

from __future__ import annotations

import asyncio
import logging
import math

import aiohttp
from aiohttp import web
from sqlalchemy import text

from core.app import announce
from core.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, UserError
from core.i18n import t
from core.ratelimit import Budget, build_rate_limiter

from . import pages
from .api import dashboard, dialogs, spend, traffic
from .api import audit, catalog, escalations, knowledge
from .api import help as help_area
from .api import settings as settings_area
from .api import staff as staff_area
from .api import roles as roles_area
from .api import media as media_area
from .api import downloads
from .auth import REQUEST_LOCALE, REQUEST_USER, WEBAPP_CONTEXT, current_member, signed_in, telegram_user  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

RATE_LIMITER = web.AppKey("rate_limiter", object)
RATE_BUDGET = web.AppKey("rate_budget", Budget)
# Per Telegram user across the whole API: a person clicking around makes a few requests a second at most; a script
# or a stuck page looping is slowed down (429 with Retry-After) without touching the database.
API_BUDGET = Budget(120, 60.0, burst=40)
TELEGRAM_BOT_API = "https://api.telegram.org"
HERE = pages.HERE

# The areas in navigation order; each has `routes` (web.RouteTableDef) and `PAGES` (list[pages.Page]).
AREAS = (dialogs, dashboard, spend, traffic)
AREAS += (escalations, knowledge, catalog, settings_area, audit, help_area)
AREAS += (staff_area,)
AREAS += (roles_area,)
AREAS += (media_area,)
AREAS += (downloads,)  # CSV exports handed to Telegram's WebApp.downloadFile (no page of its own)


@web.middleware
async def rate_limited(request: web.Request, handler):
    """API requests of one Telegram user share one budget (core.ratelimit: in this process, or on Redis across all
    Mini App processes when SALESOP_REDIS_URL is set). Over it: 429 with Retry-After, before any work is done."""
    if not request.path.startswith(("/api/", "/view/")):
        return await handler(request)
    try:
        user = telegram_user(request)
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
    except UserError as exc:
        status = (401 if isinstance(exc, NotAuthenticated) else 403 if isinstance(exc, PermissionDenied)
                  else 404 if isinstance(exc, NotFound) else 400)
        # in the caller's language when the error names its text and the caller is known (webapp.auth)
        return web.json_response({"error": exc.text(request.get(REQUEST_LOCALE))}, status=status)


async def health(request: web.Request) -> web.Response:
    ctx = request.app[WEBAPP_CONTEXT]
    async with ctx.db.unit_of_work() as session:
        await session.execute(text("SELECT 1"))
    # What this process's components report (core.app: services["health"]), e.g. the bot waiting out a Bot API
    # storm at start-up or the userbots waiting for the database: the process is up, yet not everything works.
    components = dict(ctx.services.get("health", {})) if getattr(ctx, "services", None) is not None else {}
    ok = all(c.get("state") == "ok" for c in components.values())
    return web.json_response({"ok": ok, "database": "embedded" if ctx.embedded else "external",
                              "components": components})


async def sdk_url_for(bot_api_url: str) -> str:
    """telegram.org's SDK, unless the Bot API server is the Telegram sandbox: then its stand-in."""
    base = bot_api_url.rstrip("/")
    if base == TELEGRAM_BOT_API:
        return pages.TELEGRAM_SDK
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
            async with http.get(f"{base}/_sandbox/version") as response:
                if response.status == 200 and "version" in await response.json(content_type=None):
                    return f"{base}/js/telegram-web-app.js"
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        pass
    return pages.TELEGRAM_SDK


def build_app(ctx, *, rate_budget: Budget = API_BUDGET, telegram_sdk: str | None = None) -> web.Application:
    """`telegram_sdk`: the WebApp SDK's URL; None decides at start-up from the Bot API URL (see the module doc)."""
    app = web.Application(middlewares=[errors_as_json, rate_limited])
    app[WEBAPP_CONTEXT] = ctx
    # Real seconds (time scale 1): the budget protects the server, not an emulated far side.
    app[RATE_LIMITER] = build_rate_limiter(ctx.settings.redis.redis_url, 1.0)
    app[RATE_BUDGET] = rate_budget
    app[pages.SDK_URL] = pages.SdkUrl(telegram_sdk or pages.TELEGRAM_SDK)
    app[traffic.BOT_USERNAME] = {}
    app[downloads.DOWNLOADS] = downloads.build_store(ctx.settings)  # seen by every Mini App process

    async def choose_sdk(app: web.Application) -> None:
        if telegram_sdk is None:
            app[pages.SDK_URL].url = await sdk_url_for(ctx.settings.telegram.telegram_api_url)

    async def close_limiter(app: web.Application) -> None:
        close = getattr(app[RATE_LIMITER], "close", None)
        if close is not None:
            await close()

    async def close_downloads(app: web.Application) -> None:
        await app[downloads.DOWNLOADS].close()

    app.on_startup.append(choose_sdk)
    app.on_cleanup.append(close_limiter)
    app.on_cleanup.append(close_downloads)
    app.router.add_get("/healthz", health)
    app.router.add_get("/", pages.shell)
    app.router.add_get("/view/", pages.home_view)
    app.router.add_get(pages.CHART_JS, pages.vendor_script)
    pages.install(app, [pages.NOTHING])
    for area in AREAS:
        app.router.add_routes(area.routes)
        pages.install(app, area.PAGES)
    app.router.add_static("/static", HERE / "static")
    return app


async def run(ctx, stop: asyncio.Event) -> None:

    settings, language = ctx.settings.webapp, ctx.settings.language
    runner = web.AppRunner(build_app(ctx), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.webapp_host, settings.webapp_port)
    try:
        await site.start()
    except OSError as exc:  # taken after the start-up check: one line, no traceback
        await runner.cleanup()
        raise Conflict(f"the Mini App cannot listen on {settings.webapp_host}:{settings.webapp_port}: "
                       f"{exc.strerror or exc}; stop what uses it or set SALESOP_WEBAPP_PORT") from None
    announce("webapp", t("cli.run.webapp", language, url=f"http://{settings.webapp_host}:{settings.webapp_port}/"))
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
