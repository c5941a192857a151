"""The knowledge base (MANAGE_KNOWLEDGE_BASE): documents listed, searched, created, edited and deleted; markdown,
text and question/answer CSV files uploaded through `salesop kb import`'s own reader (same validation, same per-line
errors); chunks made by another embedder re-embedded; and "ask a test question": the question through the pipeline
`salesop ask` runs (core.ai.ask), showing the reply, intent, confidence, decision, reasons and the sources used.

`GET /api/knowledge?q=&type=`, `GET|PUT|DELETE /api/knowledge/{id}`, `POST /api/knowledge`,
`POST /api/knowledge/upload {name, data (base64), type}`, `POST /api/knowledge/reembed`,
`POST /api/knowledge/ask {question, channel, mode}` (MANAGE_KNOWLEDGE_BASE or MANAGE_PRODUCTS).
"""

from __future__ import annotations

import base64
import binascii
import json
import weakref

from aiohttp import web

from core import i18n
from core.ai.ask import CHANNELS, ask
from core.ai.indexing import Indexer
from core.ai.providers import AIProviders, build_providers
from core.errors import PermissionDenied, UserError
from core.models import AIMode, DocType
from core.permissions import Permission
from core.services import knowledge_admin

from ..auth import WEBAPP_CONTEXT, signed_in
from ..pages import Page

routes = web.RouteTableDef()
DOC_TYPES = [d.value for d in DocType if d != DocType.PRODUCT]
MAX_QUESTION = 2000
_PROVIDERS: "weakref.WeakKeyDictionary[object, AIProviders]" = weakref.WeakKeyDictionary()


async def _context(request, session, member) -> dict:
    types = {d: member.t(f"miniapp.knowledge.type.{d}") for d in DOC_TYPES}
    decisions = {d: member.t(f"miniapp.knowledge.decision.{d}") for d in ("auto_send", "need_approval", "escalate")}
    modes = {m.value: member.t(f"miniapp.knowledge.mode.{m.value}") for m in AIMode}
    return {"types": types, "modes": modes, "channels": CHANNELS,
            "data": {"types": types, "decisions": decisions}}


PAGES = [
    Page(name="knowledge", path="/knowledge", title="miniapp.knowledge.title",
         permission=Permission.MANAGE_KNOWLEDGE_BASE, texts=("miniapp.knowledge.",), shared=("editing",), context=_context,
         order=60),
]


# ------------------------------------------------------------------------------------------------ shared helpers


def providers(request: web.Request) -> AIProviders:
    """The AI component's providers when it is installed in this process, else built once from the settings."""
    ctx = request.app[WEBAPP_CONTEXT]
    service = getattr(ctx, "services", {}).get("ai")
    if service is not None:
        return service.providers
    if ctx not in _PROVIDERS:
        _PROVIDERS[ctx] = build_providers(ctx.settings)
    return _PROVIDERS[ctx]


def indexer(request: web.Request) -> Indexer:
    ctx = request.app[WEBAPP_CONTEXT]
    return Indexer(providers(request).embedder, ctx.settings.ai.price_table)


async def read_json(request: web.Request, limit: int = 64 * 1024) -> dict:
    """The JSON body, read up to `limit` bytes (uploads are larger than aiohttp's default body limit)."""
    data = await request.content.read(limit + 1)
    if len(data) > limit:
        raise UserError("the request is too large", code="miniapp.knowledge.error.big_file",
                        mb=max(1, limit // (1024 * 1024)))
    try:
        body = json.loads(data or b"{}")
    except ValueError:
        raise UserError("send JSON") from None
    if not isinstance(body, dict):
        raise UserError("send a JSON object")
    return body


def upload_of(body: dict) -> tuple[str, bytes]:
    """{name, data}: the file's name and its bytes, base64 as the page reads them (any encoding stays intact)."""
    try:
        return str(body.get("name") or ""), base64.b64decode(str(body.get("data") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise UserError("the file did not arrive whole; try again", code="miniapp.knowledge.error.bad_upload") from None


def path_id(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except (KeyError, ValueError):
        raise UserError(f"{name} must be a number") from None


def document_row(d) -> dict:
    return {"id": d.id, "title": d.title, "type": d.doc_type.value, "category": d.category, "tags": list(d.tags or []),
            "source": d.source, "body": d.body, "updated_at": d.updated_at.isoformat() if d.updated_at else None}


# ------------------------------------------------------------------------------------------------------ documents


@routes.get("/api/knowledge")
async def api_list(request: web.Request) -> web.Response:
    embedder = providers(request).embedder.name
    async with signed_in(request, Permission.MANAGE_KNOWLEDGE_BASE) as (session, member):
        rows = await knowledge_admin.list_documents(session, member.tenant_id, query=request.query.get("q", ""),
                                                    doc_type=request.query.get("type") or None, embedder=embedder)
    return web.json_response({"documents": [r.as_dict() for r in rows], "embedder": embedder,
                              "stale": sum(r.stale for r in rows)})


@routes.get(r"/api/knowledge/{document_id:\d+}")
async def api_get(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.MANAGE_KNOWLEDGE_BASE) as (session, member):
        document = await knowledge_admin.get_document(session, member.tenant_id, path_id(request, "document_id"))
        return web.json_response({"document": document_row(document)})


async def _save(request: web.Request, document_id: int | None) -> web.Response:
    body = await read_json(request, 1024 * 1024)
    async with signed_in(request, Permission.MANAGE_KNOWLEDGE_BASE) as (session, member):
        document = await knowledge_admin.save_document(
            session, member.tenant_id, indexer=indexer(request), title=str(body.get("title") or ""),
            body=str(body.get("body") or ""), doc_type=str(body.get("type") or "") or None,
            category=str(body.get("category") or ""), tags=body.get("tags"), document_id=document_id,
            actor_staff_id=member.staff_id)
        row = document_row(document)
    return web.json_response({"document": row}, status=201 if document_id is None else 200)


@routes.post("/api/knowledge")
async def api_create(request: web.Request) -> web.Response:
    return await _save(request, None)


@routes.put(r"/api/knowledge/{document_id:\d+}")
async def api_update(request: web.Request) -> web.Response:
    return await _save(request, path_id(request, "document_id"))


@routes.delete(r"/api/knowledge/{document_id:\d+}")
async def api_delete(request: web.Request) -> web.Response:
    async with signed_in(request, Permission.MANAGE_KNOWLEDGE_BASE) as (session, member):
        await knowledge_admin.delete_document(session, member.tenant_id, path_id(request, "document_id"),
                                              actor_staff_id=member.staff_id)
    return web.json_response({"deleted": True})


@routes.post("/api/knowledge/upload")
async def api_upload(request: web.Request) -> web.Response:
    body = await read_json(request, knowledge_admin.MAX_UPLOAD * 4 // 3 + 4096)
    name, data = upload_of(body)
    async with signed_in(request, Permission.MANAGE_KNOWLEDGE_BASE) as (session, member):
        report = await knowledge_admin.upload_documents(
            session, member.tenant_id, name, data, indexer=indexer(request),
            doc_type=str(body.get("type") or "") or None, actor_staff_id=member.staff_id)
    _ = member.t
    # the lines `salesop kb import` prints
    return web.json_response({**report.as_dict(), "summary": _(
        "cli.kb.kb_imported", created=report.created, updated=report.updated, unchanged=report.unchanged,
        chunks=report.chunks, errors=len(report.errors))})


@routes.post("/api/knowledge/reembed")
async def api_reembed(request: web.Request) -> web.Response:
    index = indexer(request)
    async with signed_in(request, Permission.MANAGE_KNOWLEDGE_BASE) as (session, member):
        done, left = await knowledge_admin.reembed(session, member.tenant_id, indexer=index)
    return web.json_response({"done": done, "left": left, "embedder": index.embedder.name,
                              "summary": member.t("cli.kb.reembedded", count=done, left=left,
                                                  embedder=index.embedder.name)})


# ------------------------------------------------------------------------------------------------ a test question


@routes.post("/api/knowledge/ask")
async def api_ask(request: web.Request) -> web.Response:
    body = await read_json(request)
    question = str(body.get("question") or "").strip()
    channel = str(body.get("channel") or "telegram")
    mode = str(body.get("mode") or AIMode.AUTO.value)
    async with signed_in(request) as (session, member):
        if not (member.can(Permission.MANAGE_KNOWLEDGE_BASE) or member.can(Permission.MANAGE_PRODUCTS)):
            raise PermissionDenied(member.t("miniapp.error.forbidden", role=member.role_name))
    if not question:
        raise UserError("write a question", code="miniapp.knowledge.error.no_question")
    if len(question) > MAX_QUESTION:
        raise UserError("the question is too long", code="miniapp.knowledge.error.question_long", max=MAX_QUESTION)
    if channel not in CHANNELS or mode not in {m.value for m in AIMode}:
        raise UserError("unknown channel or mode", code="miniapp.knowledge.error.bad_mode")
    ctx = request.app[WEBAPP_CONTEXT]
    answer = await ask(ctx.db, providers(request), ctx.settings, member.tenant_id, question, channel=channel,
                       mode=mode, locale=member.locale)
    out = answer.as_dict()
    out["decision_label"] = member.t(f"miniapp.knowledge.decision.{answer.decision}")
    out["intent_label"] = member.t(f"ai.intent.{answer.intent}") if i18n.has(f"ai.intent.{answer.intent}",
                                                                           member.locale) else answer.intent
    return web.json_response(out)
