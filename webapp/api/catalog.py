"""The catalog (MANAGE_PRODUCTS): products listed, searched, created, edited and deleted with the CSV import's own
rules for each field; a catalog CSV uploaded through `salesop products import`'s reader (UTF-8 or cp1251, ; or ,,
Russian or English headers; bad rows reported by line, good rows kept). Every change re-embeds the product.

`GET /api/catalog?q=`, `POST /api/catalog`, `PUT|DELETE /api/catalog/{id}`, `POST /api/catalog/upload {name, data}`.
"""

from __future__ import annotations

from aiohttp import web

from core.permissions import Permission
from core.services import knowledge_admin

from ..auth import signed_in
from ..pages import Page
from .knowledge import indexer, path_id, read_json, upload_of

routes = web.RouteTableDef()

PAGES = [
    Page(name="catalog", path="/catalog", title="miniapp.catalog.title", permission=Permission.MANAGE_PRODUCTS,
         texts=("miniapp.catalog.",), shared=("editing",), order=61),
]
FIELDS = ("sku", "name", "price", "currency", "stock", "description", "delivery")


def product_row(p) -> dict:
    return {"id": p.id, "sku": p.sku, "name": p.name, "price": str(p.price), "currency": p.currency,
            "stock": p.stock, "description": p.description, "delivery": p.delivery}


@routes.get("/api/catalog")
async def api_list(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.MANAGE_PRODUCTS) as (session, member):
        rows = await knowledge_admin.list_products(session, member.tenant_id, query=request.query.get("q", ""))
        total = await knowledge_admin.count_products(session, member.tenant_id)
        return web.json_response({"products": [product_row(p) for p in rows], "total": total,
                                  "limit": knowledge_admin.LIST_LIMIT})


async def _save(request: web.Request, product_id: int | None) -> web.Response:
    body = await read_json(request)
    values = {k: body.get(k) for k in FIELDS}
    if values["stock"] in ("", None):
        values["stock"] = None
    async with signed_in(request, Permission.MANAGE_PRODUCTS) as (session, member):
        product = await knowledge_admin.save_product(session, member.tenant_id, values, indexer=indexer(request),
                                                     default_currency=member.currency, product_id=product_id,
                                                     actor_staff_id=member.staff_id)
        row = product_row(product)
    return web.json_response({"product": row}, status=201 if product_id is None else 200)


@routes.post("/api/catalog")
async def api_create(request: web.Request) -> web.Response:
    return await _save(request, None)


@routes.put(r"/api/catalog/{product_id:\d+}")
async def api_update(request: web.Request) -> web.Response:
    return await _save(request, path_id(request, "product_id"))


@routes.delete(r"/api/catalog/{product_id:\d+}")
async def api_delete(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.MANAGE_PRODUCTS) as (session, member):
        await knowledge_admin.delete_product(session, member.tenant_id, path_id(request, "product_id"),
                                             actor_staff_id=member.staff_id)
    return web.json_response({"deleted": True})


@routes.post("/api/catalog/upload")
async def api_upload(request: web.Request) -> web.Response:
    body = await read_json(request, knowledge_admin.MAX_UPLOAD * 4 // 3 + 4096)
    name, data = upload_of(body)
    async with signed_in(request, Permission.MANAGE_PRODUCTS) as (session, member):
        report = await knowledge_admin.upload_products(session, member.tenant_id, name, data,
                                                       indexer=indexer(request), default_currency=member.currency,
                                                       actor_staff_id=member.staff_id)
    _ = member.t
    return web.json_response({
        "created": report.created, "updated": report.updated, "unchanged": report.unchanged,
        "errors": [{"line": e.line, "reason": e.text(member.locale),
                    "text": _("cli.kb.bad_row", line=e.line, reason=e.text(member.locale)).strip()}
                   for e in report.errors],
        "ignored_columns": report.ignored_columns,
        "ignored": _("cli.kb.ignored", columns=", ".join(report.ignored_columns)).strip()
        if report.ignored_columns else None,
        # the lines `salesop products import` prints
        "summary": _("cli.kb.imported", created=report.created, updated=report.updated,
                     unchanged=report.unchanged, errors=len(report.errors)),
    })
