"""The traffic report (VIEW_TRAFFIC, for the head of traffic): first or last touch source / campaign / UTM →
dialogs, won deals, revenue and conversion for a period; campaign links created and listed (core.services.traffic).

`GET /api/traffic?period=...&touch=first|last&by=source,campaign`, `GET /api/traffic/campaigns`,
`POST /api/traffic/campaigns {name, source, medium}`.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from core.errors import UserError
from core.models import ChannelAccount, ChannelKind
from core.permissions import Field, Permission
from core.services import traffic
from sqlalchemy import select

from ..auth import WEBAPP_CONTEXT, signed_in
from ..pages import Page
from .dashboard import chart, money, period_from, period_json

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
BOT_USERNAME = web.AppKey("bot_username", dict)

PAGES = [
    Page(name="traffic", path="/traffic", title="miniapp.traffic.title", permission=Permission.VIEW_TRAFFIC,
         texts=("miniapp.traffic.", "miniapp.period."), charts=True, order=40),
]


async def bot_username(request: web.Request) -> str | None:
    """The bot's @username (getMe, asked once per process): campaign deep links are t.me/<bot>?start=<code>."""
    cache = request.app.get(BOT_USERNAME)
    if cache is not None and cache.get("username"):
        return cache["username"]
    settings = request.app[WEBAPP_CONTEXT].settings.telegram
    if settings.bot_token is None:
        return None
    url = f"{settings.telegram_api_url.rstrip('/')}/bot{settings.bot_token.get_secret_value()}/getMe"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            async with http.get(url) as response:
                data = await response.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        log.warning("getMe failed: campaign links are listed without the bot link for now")
        return None
    username = (data.get("result") or {}).get("username") if data.get("ok") else None
    if cache is not None and username:
        cache["username"] = username
    return username


@routes.get("/api/traffic")
async def api_traffic(request: web.Request) -> web.Response:
    touch = request.query.get("touch", "first")
    by = tuple(b for b in request.query.get("by", "source,campaign").split(",") if b)
    async with signed_in(request, Permission.VIEW_TRAFFIC) as (session, member):
        period = period_from(request, member)
        rows = await traffic.report(session, member.tenant_id, period, touch=touch, by=by, currency=member.currency)
    _ = member.t
    shows_money = member.sees(Field.DEAL_AMOUNT)
    labels = {"source": _("miniapp.traffic.col.source"), "medium": _("miniapp.traffic.col.medium"),
              "campaign": _("miniapp.traffic.col.campaign"), "content": _("miniapp.traffic.col.content"),
              "term": _("miniapp.traffic.col.term"), "ref": _("miniapp.traffic.col.ref"),
              "channel": _("miniapp.traffic.col.channel")}
    unknown = _("miniapp.traffic.unknown")
    columns = [("touch", _("miniapp.traffic.col.touch"), False), *[(b, labels[b], False) for b in by],
               ("dialogs", _("miniapp.traffic.col.dialogs"), True), ("won", _("miniapp.traffic.col.won"), True),
               ("lost", _("miniapp.traffic.col.lost"), True), ("conversion", _("miniapp.traffic.col.conversion"), True)]
    if shows_money:
        columns.append(("revenue", _("miniapp.traffic.col.revenue", currency=member.currency), True))
    data = []
    for r in rows:
        row = {"touch": " / ".join(r.keys[b] or "—" for b in by) if any(r.keys.values()) else unknown,
               **{b: r.keys[b] for b in by}, "dialogs": r.dialogs, "won": r.won, "lost": r.lost,
               "conversion": r.conversion}
        if shows_money:
            row["revenue"] = money(r.revenue)
        data.append(row)
    title = _("miniapp.traffic.chart.first") if touch == "first" else _("miniapp.traffic.chart.last")
    return web.json_response({
        "period": period_json(request, period), "touch": touch, "by": list(by),
        "totals": {"dialogs": sum(r.dialogs for r in rows), "won": sum(r.won for r in rows),
                   **({"revenue": money(sum((r.revenue for r in rows), start=0))} if shows_money else {})},
        "charts": [chart("traffic", title, "bar", "touch", ["dialogs", "won"], columns, data)],
    })


async def _campaign_rows(request: web.Request, session, member) -> list[dict]:
    found = await traffic.campaigns(session, member.tenant_id)
    figures = await traffic.campaign_figures(session, member.tenant_id, [c.code for c in found])
    communities = (await session.execute(select(ChannelAccount.external_id).where(
        ChannelAccount.tenant_id == member.tenant_id, ChannelAccount.kind == ChannelKind.VK_COMMUNITY)
        .order_by(ChannelAccount.id))).scalars().all()
    bot = await bot_username(request)
    rows = []
    for c in found:
        links = []
        if bot:
            links.append({"kind": "telegram", "url": f"https://t.me/{bot}?start={c.code}"})
        for community in communities:  # VK passes ref and ref_source to the community's messages
            links.append({"kind": "vk", "url": f"https://vk.me/club{community}?"
                                               + urlencode({"ref": c.code, "ref_source": c.source})})
        rows.append({**c.as_dict(), "links": links,
                     **figures.get(c.code, {"customers": 0, "dialogs": 0, "won": 0})})
    return rows


@routes.get("/api/traffic/campaigns")
async def api_campaigns(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.VIEW_TRAFFIC) as (session, member):
        return web.json_response({"campaigns": await _campaign_rows(request, session, member)})


@routes.post("/api/traffic/campaigns")
async def api_create_campaign(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        raise UserError("send JSON: {name, source, medium}") from None
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise UserError("a campaign needs a name", code="miniapp.traffic.bad_name")
    async with signed_in(request, Permission.VIEW_TRAFFIC) as (session, member):
        made = await traffic.create_campaign(session, member.tenant_id, name=body["name"],
                                             source=str(body.get("source") or ""),
                                             medium=str(body.get("medium") or ""), actor_staff_id=member.staff_id)
    async with signed_in(request, Permission.VIEW_TRAFFIC) as (session, member):
        rows = await _campaign_rows(request, session, member)
    return web.json_response({"created": made.code, "campaigns": rows}, status=201)
