"""The media library and quick replies (MANAGE_MEDIA): files uploaded with a name and tags — checked against what
Telegram and VK accept (core.services.media_library), previewed — and quick replies (a name, a text, files of the
library) that managers insert from a dialog's topic with `/q <words>` (core.services.quick_replies).

`GET /api/media?q=&kind=`, `POST /api/media?title=&tags=&name=&kind=` (the file's bytes as the body, its type as
Content-Type: no base64, up to the 50 MB bots can send), `GET /api/media/{id}/file` (the bytes, for previews),
`PUT|DELETE /api/media/{id}`; `GET|POST /api/quick`, `PUT|DELETE /api/quick/{id}`.
"""

from __future__ import annotations

from aiohttp import web

from core.media import MediaStore, media_root
from core.permissions import Permission
from core.services import media_library, quick_replies

from ..auth import WEBAPP_CONTEXT, signed_in
from ..pages import Page
from .knowledge import path_id, read_json

routes = web.RouteTableDef()
KINDS = [k.value for k in media_library.KINDS]


async def _context(request, session, member) -> dict:
    kinds = {k: member.t(f"miniapp.media.kind.{k}") for k in KINDS}
    limits = member.t("miniapp.media.limits", upload=media_library.UPLOAD_LIMIT // media_library.MB,
                      photo=media_library.PHOTO_LIMIT // media_library.MB)
    return {"kinds": kinds, "limits": limits,
            "data": {"kinds": kinds, "upload_limit": media_library.UPLOAD_LIMIT,
                     "media_max": quick_replies.MEDIA_MAX}}


PAGES = [
    Page(name="media", path="/media", title="miniapp.media.title", permission=Permission.MANAGE_MEDIA,
         texts=("miniapp.media.",), context=_context, order=62),
]


def _store(request: web.Request) -> MediaStore:
    return MediaStore(media_root(request.app[WEBAPP_CONTEXT].settings.data_dir))


async def _body(request: web.Request) -> bytes:
    """The uploaded file's bytes, read up to the library's limit: a larger file is refused before it is all read."""
    limit = media_library.UPLOAD_LIMIT
    if request.content_length is not None:
        media_library.check_size(request.content_length)
    chunks, size = [], 0
    while chunk := await request.content.read(1024 * 1024):
        size += len(chunk)
        if size > limit:
            media_library.check_size(size)
        chunks.append(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------------------------------------------- files


@routes.get("/api/media")
async def api_list(request: web.Request) -> web.Response:
    kind = request.query.get("kind") or None
    if kind is not None and kind not in KINDS:
        kind = None
    async with signed_in(request, Permission.MANAGE_MEDIA) as (session, member):
        items = await media_library.list_items(session, member.tenant_id, query=request.query.get("q", ""),
                                               kind=kind)
        return web.json_response({"items": [media_library.item_row(i) for i in items]})


@routes.post("/api/media")
async def api_upload(request: web.Request) -> web.Response:
    query = request.query
    kind = query.get("kind") or None
    async with signed_in(request, Permission.MANAGE_MEDIA):
        pass  # who uploads is checked before the body is read, and no transaction waits on a slow upload
    data = await _body(request)
    async with signed_in(request, Permission.MANAGE_MEDIA) as (session, member):
        item = await media_library.add_item(
            session, _store(request), member.tenant_id, data, title=query.get("title"), file_name=query.get("name"),
            mime=request.headers.get("Content-Type"), kind=kind, tags=query.get("tags", ""),
            staff_id=member.staff_id)
        return web.json_response({"item": media_library.item_row(item)}, status=201)


@routes.get(r"/api/media/{item_id:\d+}/file")
async def api_file(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.MANAGE_MEDIA) as (session, member):
        item = await media_library.get_item(session, member.tenant_id, path_id(request, "item_id"))
        key, mime, name = item.storage_key, item.mime, media_library.file_name_of(item)
    data = await _store(request).read(key)
    return web.Response(body=data, content_type=mime or "application/octet-stream",
                        headers={"Cache-Control": "private, max-age=3600",
                                 "Content-Disposition": f"inline; filename*=UTF-8''{_quote(name)}"})


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


@routes.put(r"/api/media/{item_id:\d+}")
async def api_update(request: web.Request) -> web.Response:
    body = await read_json(request)
    async with signed_in(request, Permission.MANAGE_MEDIA) as (session, member):
        item = await media_library.update_item(session, member.tenant_id, path_id(request, "item_id"),
                                               title=body.get("title"), tags=body.get("tags"),
                                               staff_id=member.staff_id)
        return web.json_response({"item": media_library.item_row(item)})


@routes.delete(r"/api/media/{item_id:\d+}")
async def api_delete(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.MANAGE_MEDIA) as (session, member):
        await media_library.delete_item(session, member.tenant_id, path_id(request, "item_id"),
                                        staff_id=member.staff_id)
    return web.json_response({"deleted": True})


# ------------------------------------------------------------------------------------------- quick replies


@routes.get("/api/quick")
async def api_quick_list(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.MANAGE_MEDIA) as (session, member):
        replies = await quick_replies.list_replies(session, member.tenant_id, request.query.get("q", ""))
        return web.json_response({"replies": [quick_replies.reply_row(r) for r in replies]})


async def _save_reply(request: web.Request, reply_id: int | None) -> web.Response:
    body = await read_json(request)
    async with signed_in(request, Permission.MANAGE_MEDIA) as (session, member):
        reply = await quick_replies.save_reply(session, member.tenant_id, name=body.get("name"),
                                               text=body.get("text"), media_item_ids=body.get("media_item_ids"),
                                               reply_id=reply_id, staff_id=member.staff_id)
        return web.json_response({"reply": quick_replies.reply_row(reply)}, status=201 if reply_id is None else 200)


@routes.post("/api/quick")
async def api_quick_create(request: web.Request) -> web.Response:
    return await _save_reply(request, None)


@routes.put(r"/api/quick/{reply_id:\d+}")
async def api_quick_update(request: web.Request) -> web.Response:
    return await _save_reply(request, path_id(request, "reply_id"))


@routes.delete(r"/api/quick/{reply_id:\d+}")
async def api_quick_delete(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.MANAGE_MEDIA) as (session, member):
        await quick_replies.delete_reply(session, member.tenant_id, path_id(request, "reply_id"),
                                         staff_id=member.staff_id)
    return web.json_response({"deleted": True})

