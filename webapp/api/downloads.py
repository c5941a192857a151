"""Files a page offers for download (CSV exports), for Telegram's WebApp.downloadFile.

Inside Telegram a Mini App cannot save a blob: WebApp.downloadFile (Bot API 8.0) asks the client to download an
HTTPS URL itself — without the page's Authorization header. So the page posts the file here once (signed in) and gets
a short-lived URL whose random token is the only key (`GET /downloads/<token>/<name>`, attachment). In a plain
browser the page saves the blob directly and never comes here.

The files live in this process for DOWNLOAD_TTL seconds: the client fetches right after the page asks.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import quote

from aiohttp import web

from core.errors import NotFound, UserError

from ..auth import signed_in
from ..pages import Page

routes = web.RouteTableDef()
PAGES: list[Page] = []
DOWNLOADS = web.AppKey("downloads", dict)
DOWNLOAD_TTL = 600.0
MAX_FILE = 5 * 1024 * 1024  # a CSV of a chart's table; a bigger body is refused before it is read whole
MAX_KEPT = 200  # files kept at once per process (oldest dropped first)
TYPES = {"csv": "text/csv; charset=utf-8"}


def _store(request: web.Request) -> dict:
    store = request.app.get(DOWNLOADS)
    if store is None:
        raise NotFound("no downloads here")
    now = time.monotonic()
    for token in [k for k, v in store.items() if v["until"] < now]:
        del store[token]
    return store


@routes.post("/api/downloads")
async def api_make_download(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_FILE * 2:
        raise UserError("the file is too big to download this way", code="miniapp.downloads.too_big")
    try:
        body = await request.json()
    except ValueError:
        raise UserError("send JSON: {file_name, text}") from None
    body = body if isinstance(body, dict) else {}
    name, text = body.get("file_name"), body.get("text")
    if not isinstance(name, str) or not isinstance(text, str):
        raise UserError("send JSON: {file_name, text}")
    name = "".join(c for c in name if c not in '/\\\r\n"')[:120] or "export.csv"
    kind = name.rsplit(".", 1)[-1].lower()
    if kind not in TYPES:
        raise UserError("only CSV files are downloaded this way", code="miniapp.downloads.kind")
    data = text.encode()
    if len(data) > MAX_FILE:
        raise UserError("the file is too big to download this way", code="miniapp.downloads.too_big")
    async with signed_in(request) as (_, member):
        staff_id = member.staff_id
    store = _store(request)
    while len(store) >= MAX_KEPT:
        store.pop(next(iter(store)))
    token = secrets.token_urlsafe(24)
    store[token] = {"data": data, "name": name, "type": TYPES[kind], "until": time.monotonic() + DOWNLOAD_TTL,
                    "staff_id": staff_id}
    return web.json_response({"url": f"/downloads/{token}/{quote(name)}", "expires_in": int(DOWNLOAD_TTL)},
                             status=201)


@routes.get("/downloads/{token}/{name}")
async def download(request: web.Request) -> web.Response:
    item = _store(request).get(request.match_info["token"])
    if item is None:
        raise web.HTTPNotFound(text="this download link has expired")
    return web.Response(body=item["data"], headers={
        "Content-Type": item["type"], "Cache-Control": "no-store",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(item['name'])}"})
