"""The traffic report (VIEW_TRAFFIC, for the head of traffic): first or last touch source / campaign / UTM →
dialogs, won deals, revenue and conversion for a period; campaign links created and listed (core.services.traffic).

`GET /api/traffic?period=...&touch=first|last&by=source,campaign`, `GET /api/traffic/campaigns`,
`POST /api/traffic/campaigns {name, source, medium}`,
`POST /api/traffic/campaigns/{code}/invite-links {chat, creates_join_request}` (a channel's or group's invite link
named after the campaign, made by the bot: createChatInviteLink), `POST /api/traffic/invite-links/{id}/revoke`.

A link is made only in a chat where the person asking is an administrator (getChatMember): the bot serves every
business, and a channel is not any tenant's to count just because someone typed its id.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from core.errors import PermissionDenied, UserError
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
    invite_links = await traffic.invite_links(session, member.tenant_id)
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
        rows.append({**c.as_dict(), "links": links, "invite_links": invite_links.get(c.code, []),
                     **figures.get(c.code, {"customers": 0, "dialogs": 0, "won": 0})})
    return rows


class BotApiError(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


async def bot_call(request: web.Request, method: str, **params) -> dict:
    """One Bot API call as the shop's bot; a refusal raises BotApiError with Telegram's description."""
    settings = request.app[WEBAPP_CONTEXT].settings.telegram
    if settings.bot_token is None:
        raise UserError("the bot token is not configured", code="miniapp.traffic.no_bot")
    url = f"{settings.telegram_api_url.rstrip('/')}/bot{settings.bot_token.get_secret_value()}/{method}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async with http.post(url, json=params) as response:
                data = await response.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        raise UserError("Telegram did not answer, try again", code="miniapp.traffic.telegram_down") from None
    if not data.get("ok"):
        raise BotApiError(str(data.get("description") or data.get("error_code")))
    return data["result"]


def _chat_ref(raw) -> int | str:
    """A chat as typed: @username, t.me/username, or a numeric id (-100…)."""
    text = str(raw or "").strip()
    for prefix in ("https://t.me/", "http://t.me/", "t.me/"):
        if text.startswith(prefix):
            text = "@" + text[len(prefix):].strip("/")
    if text.lstrip("-").isdigit():
        return int(text)
    if text.startswith("@") and len(text) > 1:
        return text
    raise UserError(f"not a chat: {text!r}", code="miniapp.traffic.bad_chat", chat=text or "—")


async def _chat_for_links(request: web.Request, member, raw_chat) -> dict:
    """The channel or group, checked: the bot can make links there, and the person asking administers it."""
    ref = _chat_ref(raw_chat)
    try:
        chat = await bot_call(request, "getChat", chat_id=ref)
    except BotApiError:
        raise UserError(f"the bot cannot see {ref}", code="miniapp.traffic.chat_unknown", chat=str(ref)) from None
    if chat.get("type") not in ("channel", "supergroup", "group"):
        raise UserError("links are made for channels and groups", code="miniapp.traffic.not_a_channel")
    try:
        asker = await bot_call(request, "getChatMember", chat_id=chat["id"], user_id=member.user.id)
    except BotApiError:
        asker = {}
    if asker.get("status") not in ("creator", "administrator"):
        raise PermissionDenied("only an administrator of the chat makes its links",
                               code="miniapp.traffic.not_chat_admin", chat=chat.get("title") or str(ref))
    return chat


@routes.get("/api/traffic/campaigns")
async def api_campaigns(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.VIEW_TRAFFIC) as (session, member):
        return web.json_response({"campaigns": await _campaign_rows(request, session, member),
                                  "chats": await traffic.known_chats(session, member.tenant_id)})


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


def _refused(description: str, chat: str) -> UserError:
    """Telegram's refusal in the reader's words where we know it."""
    if "not enough rights" in description or "not a member" in description or "kicked" in description:
        return UserError(description, code="miniapp.traffic.bot_rights", chat=chat)
    return UserError(description, code="miniapp.traffic.telegram_refused", error=description)


@routes.post("/api/traffic/campaigns/{code}/invite-links")
async def api_create_invite_link(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        raise UserError("send JSON: {chat, creates_join_request}") from None
    if not isinstance(body, dict):
        raise UserError("send JSON: {chat, creates_join_request}")
    async with signed_in(request, Permission.VIEW_TRAFFIC) as (session, member):
        campaign = await traffic.campaign_of(session, member.tenant_id, request.match_info["code"])
    chat = await _chat_for_links(request, member, body.get("chat"))
    title = chat.get("title") or str(chat["id"])
    try:
        link = await bot_call(request, "createChatInviteLink", chat_id=chat["id"],
                              name=traffic.invite_link_name(campaign),
                              creates_join_request=bool(body.get("creates_join_request")))
    except BotApiError as error:
        raise _refused(error.description, title) from None
    async with signed_in(request, Permission.VIEW_TRAFFIC) as (session, member):
        await traffic.add_invite_link(session, member.tenant_id, campaign=campaign, chat=chat, link=link,
                                      actor_staff_id=member.staff_id)
    async with signed_in(request, Permission.VIEW_TRAFFIC) as (session, member):
        rows = await _campaign_rows(request, session, member)
        chats = await traffic.known_chats(session, member.tenant_id)
    return web.json_response({"created": link["invite_link"], "campaigns": rows, "chats": chats}, status=201)


@routes.post("/api/traffic/invite-links/{link_id:\\d+}/revoke")
async def api_revoke_invite_link(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.VIEW_TRAFFIC) as (session, member):
        row = await traffic.invite_link(session, member.tenant_id, int(request.match_info["link_id"]))
        chat_id, url, title, revoked = row.chat_id, row.url, row.chat_title or str(row.chat_id), row.is_revoked
    if not revoked:
        try:
            await bot_call(request, "revokeChatInviteLink", chat_id=chat_id, invite_link=url)
        except BotApiError as error:
            if "INVITE_REVOKED_MISSING" not in error.description:  # revoked in Telegram already: the same result
                raise _refused(error.description, title) from None
        async with signed_in(request, Permission.VIEW_TRAFFIC) as (session, member):
            row = await traffic.invite_link(session, member.tenant_id, int(request.match_info["link_id"]))
            await traffic.revoked(session, row, actor_staff_id=member.staff_id)
    async with signed_in(request, Permission.VIEW_TRAFFIC) as (session, member):
        return web.json_response({"campaigns": await _campaign_rows(request, session, member),
                                  "chats": await traffic.known_chats(session, member.tenant_id)})
