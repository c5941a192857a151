"""The aiohttp server: Mini App pages and API, health check, and (in webhook mode) the bot's webhook route."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import text

WEBAPP_CONTEXT = web.AppKey("ctx", object)


async def health(request: web.Request) -> web.Response:
    ctx = request.app[WEBAPP_CONTEXT]
    async with ctx.db.unit_of_work() as session:
        await session.execute(text("SELECT 1"))
    return web.json_response({"ok": True, "database": "embedded" if ctx.embedded else "external"})


def build_app(ctx) -> web.Application:
    app = web.Application()
    app[WEBAPP_CONTEXT] = ctx
    app.router.add_get("/healthz", health)
    return app


async def run(ctx, stop: asyncio.Event) -> None:
    from salesop.runner import announce

    settings = ctx.settings.webapp
    runner = web.AppRunner(build_app(ctx), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.webapp_host, settings.webapp_port)
    await site.start()
    announce("webapp", f"http://{settings.webapp_host}:{settings.webapp_port}/  (health: /healthz)")
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
