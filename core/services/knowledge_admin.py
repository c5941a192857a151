"""Editing the knowledge base and the catalog one item at a time (the Mini App's knowledge and catalog pages), and
uploads of the files `salesop kb import` / `salesop products import` read — through the very same functions
(core.services.knowledge.import_file, core.services.catalog.import_products_csv), so an upload is validated and
its bad lines reported exactly as the CLI reports them.

Every change re-chunks and re-embeds what it touched in the same transaction (core.ai.indexing.Indexer) and is
recorded as an event ("kb_document_saved", "kb_document_deleted", "product_saved", "product_deleted", "kb_uploaded",
"products_uploaded") with who did it. Nothing here commits.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..ai.indexing import Indexer
from ..errors import NotFound, UserError
from ..models import DocType, KnowledgeChunk, KnowledgeDocument, Product
from . import catalog, knowledge

MAX_UPLOAD = 5 * 1024 * 1024  # bytes: a catalog of tens of thousands of rows fits
LIST_LIMIT = 200


def _like(query: str) -> str:
    return "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# ------------------------------------------------------------------------------------------------- documents


@dataclass(frozen=True)
class DocumentRow:
    id: int
    title: str
    doc_type: str
    category: str | None
    tags: list[str]
    source: str | None
    chunks: int
    stale: int  # chunks embedded by another embedder than the current one
    updated_at: str | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


async def list_documents(session: AsyncSession, tenant_id: int, *, query: str = "", doc_type: str | None = None,
                         embedder: str | None = None, limit: int = LIST_LIMIT) -> list[DocumentRow]:
    """Documents by title, newest change first within equal titles; `query` searches title, body, category, tags."""
    chunks = (select(KnowledgeChunk.document_id, func.count().label("n"),
                     func.count().filter(KnowledgeChunk.embedder.is_distinct_from(embedder)).label("stale"))
              .where(KnowledgeChunk.tenant_id == tenant_id, KnowledgeChunk.document_id.is_not(None))
              .group_by(KnowledgeChunk.document_id).subquery())
    stmt = (select(KnowledgeDocument, func.coalesce(chunks.c.n, 0), func.coalesce(chunks.c.stale, 0))
            .outerjoin(chunks, chunks.c.document_id == KnowledgeDocument.id)
            .where(KnowledgeDocument.tenant_id == tenant_id))
    if doc_type:
        stmt = stmt.where(KnowledgeDocument.doc_type == knowledge.parse_doc_type(doc_type))
    if query.strip():
        pattern = _like(query.strip())
        stmt = stmt.where(or_(KnowledgeDocument.title.ilike(pattern), KnowledgeDocument.body.ilike(pattern),
                              KnowledgeDocument.category.ilike(pattern),
                              func.array_to_string(KnowledgeDocument.tags, " ").ilike(pattern)))
    rows = (await session.execute(stmt.order_by(KnowledgeDocument.title, KnowledgeDocument.id).limit(limit))).all()
    return [DocumentRow(d.id, d.title, d.doc_type.value, d.category, list(d.tags or []), d.source, n,
                        stale if embedder else 0, d.updated_at.isoformat() if d.updated_at else None)
            for d, n, stale in rows]


async def get_document(session: AsyncSession, tenant_id: int, document_id: int) -> KnowledgeDocument:
    document = await session.get(KnowledgeDocument, document_id)
    if document is None or document.tenant_id != tenant_id:
        raise NotFound(f"no document {document_id}", code="knowledge.error.unknown_document", document=document_id)
    return document


def _tags(raw) -> list[str]:
    items = raw if isinstance(raw, list) else str(raw or "").split(",")
    tags = []
    for item in items:
        tag = str(item).strip()
        if tag and tag not in tags:
            if len(tag) > 64:
                raise UserError(f"a tag is longer than 64 characters: {tag[:20]}…",
                                code="miniapp.knowledge.error.tag_long", tag=tag[:20])
            tags.append(tag)
    return tags


async def save_document(session: AsyncSession, tenant_id: int, *, indexer: Indexer, title: str, body: str,
                        doc_type: str | None = None, category: str | None = None, tags=None,
                        document_id: int | None = None, actor_staff_id: int | None = None) -> KnowledgeDocument:
    """Create (document_id None) or edit a document; its chunks are made again when its text changed."""
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise UserError("a document needs a title", code="miniapp.knowledge.error.no_title")
    if len(title) > 255:
        raise UserError("the title is longer than 255 characters", code="miniapp.knowledge.error.title_long")
    if not body:
        raise UserError("a document needs a text", code="miniapp.knowledge.error.no_body")
    kind = knowledge.parse_doc_type(doc_type) if doc_type else knowledge.infer_doc_type(title)
    if kind == DocType.PRODUCT:
        raise UserError("products live in the catalog", code="miniapp.knowledge.error.product_type")
    category = (category or "").strip() or None
    if category is not None and len(category) > 100:
        raise UserError("the category is longer than 100 characters", code="miniapp.knowledge.error.category_long")
    tag_list = _tags(tags)
    digest = knowledge.content_hash(title, body, kind.value, category or "", ",".join(tag_list))
    if document_id is None:
        document = KnowledgeDocument(tenant_id=tenant_id, source=None)
        session.add(document)
        status = "created"
    else:
        document = await get_document(session, tenant_id, document_id)
        status = "unchanged" if document.content_hash == digest else "updated"
    if status != "unchanged":
        document.title, document.body, document.doc_type = title, body, kind
        document.category, document.tags, document.content_hash = category, tag_list, digest
        await session.flush()
        await indexer.index_document(session, document)
        await session.refresh(document)  # updated_at, set by the database
        events.record(session, "kb_document_saved", tenant_id=tenant_id, actor_staff_id=actor_staff_id,
                      document_id=document.id, title=title, status=status)
    return document


async def delete_document(session: AsyncSession, tenant_id: int, document_id: int, *,
                          actor_staff_id: int | None = None) -> None:
    document = await get_document(session, tenant_id, document_id)
    title = document.title
    await knowledge.delete_document(session, tenant_id, document_id)
    events.record(session, "kb_document_deleted", tenant_id=tenant_id, actor_staff_id=actor_staff_id,
                  document_id=document_id, title=title)


def _upload_name(name: str, allowed: tuple[str, ...]) -> str:
    """The uploaded file's own name, without folders; its suffix decides how it is read, as for the CLI."""
    base = re.sub(r"[\\/]+", "/", name or "").rsplit("/", 1)[-1].strip()
    if not base or base.startswith(".") or Path(base).suffix.lower() not in allowed:
        raise UserError(f"upload a file of type {', '.join(allowed)}", code="miniapp.knowledge.error.file_type",
                        types=", ".join(allowed))
    return base[:200]


def _check_size(data: bytes) -> None:
    if not data.strip():
        raise UserError("the file is empty", code="miniapp.knowledge.error.empty_file")
    if len(data) > MAX_UPLOAD:
        raise UserError("the file is larger than 5 MB", code="miniapp.knowledge.error.big_file",
                        mb=MAX_UPLOAD // (1024 * 1024))


async def upload_documents(session: AsyncSession, tenant_id: int, name: str, data: bytes, *, indexer: Indexer,
                           doc_type: str | None = None, actor_staff_id: int | None = None
                           ) -> knowledge.KBImportReport:
    """A markdown, text or questions-and-answers CSV file, read by `salesop kb import`'s own code: the same
    document (by file name) is updated, not copied; bad CSV lines come back one by one with their numbers."""
    name = _upload_name(name, knowledge.SUPPORTED)
    _check_size(data)
    kind = knowledge.parse_doc_type(doc_type) if doc_type else None
    with tempfile.TemporaryDirectory(prefix="salesop-kb-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        report = await knowledge.import_file(session, tenant_id, path, indexer=indexer, doc_type=kind)
    events.record(session, "kb_uploaded", tenant_id=tenant_id, actor_staff_id=actor_staff_id, file=name,
                  **{k: v for k, v in report.as_dict().items() if k != "errors"}, errors=len(report.errors))
    return report


# ------------------------------------------------------------------------------------------------- products


async def list_products(session: AsyncSession, tenant_id: int, *, query: str = "", limit: int = LIST_LIMIT
                        ) -> list[Product]:
    """Active products by SKU; `query` searches SKU, name and description."""
    stmt = select(Product).where(Product.tenant_id == tenant_id, Product.is_active)
    if query.strip():
        pattern = _like(query.strip())
        stmt = stmt.where(or_(Product.sku.ilike(pattern), Product.name.ilike(pattern),
                              Product.description.ilike(pattern)))
    return list((await session.execute(stmt.order_by(Product.sku).limit(limit))).scalars())


async def count_products(session: AsyncSession, tenant_id: int) -> int:
    return (await session.execute(select(func.count(Product.id)).where(
        Product.tenant_id == tenant_id, Product.is_active))).scalar_one()


async def get_product(session: AsyncSession, tenant_id: int, product_id: int) -> Product:
    product = await session.get(Product, product_id)
    if product is None or product.tenant_id != tenant_id or not product.is_active:
        raise NotFound(f"no product {product_id}", code="miniapp.catalog.error.unknown", product=product_id)
    return product


def _field(problem: catalog.RowProblem) -> UserError:
    """A catalog row problem about one field of the form, in the words the CSV import uses for it."""
    return UserError(str(problem), code=problem.code, **problem.params)


def parse_product(values: dict, default_currency: str) -> dict:
    """The form's fields checked with the CSV import's own rules (catalog.parse_price / parse_stock, SKU length,
    currency): the same value is refused in a file and in the form with the same words."""
    sku = str(values.get("sku") or "").strip()
    name = str(values.get("name") or "").strip()
    try:
        if not sku:
            raise catalog.RowProblem("catalog.problem.sku_missing")
        if len(sku) > 64:
            raise catalog.RowProblem("catalog.problem.sku_too_long")
        if not name:
            raise catalog.RowProblem("catalog.problem.name_missing")
        price: Decimal = catalog.parse_price(str(values.get("price") or ""))
        stock_raw = values.get("stock")
        stock = None if stock_raw is None else catalog.parse_stock(str(stock_raw))
        currency = str(values.get("currency") or "").strip().upper() or default_currency
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise catalog.RowProblem("catalog.problem.currency_bad", value=currency)
    except catalog.RowProblem as problem:
        raise _field(problem) from None
    return {"sku": sku, "name": name[:255], "price": price, "stock": stock, "currency": currency,
            "description": str(values.get("description") or "").strip(),
            "delivery": str(values.get("delivery") or "").strip() or None}


async def save_product(session: AsyncSession, tenant_id: int, values: dict, *, indexer: Indexer,
                       default_currency: str = "RUB", product_id: int | None = None,
                       actor_staff_id: int | None = None) -> Product:
    """Create (product_id None) or edit a product; an SKU is the tenant's own (another product with it: refused,
    a removed one with it: brought back). Its chunk is made again."""
    fields = parse_product(values, default_currency)
    same_sku = (await session.execute(select(Product).where(
        Product.tenant_id == tenant_id, Product.sku == fields["sku"]))).scalar_one_or_none()
    if product_id is None:
        if same_sku is not None and same_sku.is_active:
            raise UserError(f"SKU {fields['sku']} exists already", code="miniapp.catalog.error.sku_taken",
                            sku=fields["sku"])
        product = same_sku or Product(tenant_id=tenant_id, variants=[])
        if same_sku is None:
            session.add(product)
        status = "created"
    else:
        product = await get_product(session, tenant_id, product_id)
        if same_sku is not None and same_sku.id != product.id:
            raise UserError(f"SKU {fields['sku']} exists already", code="miniapp.catalog.error.sku_taken",
                            sku=fields["sku"])
        status = "updated"
    changed = any(getattr(product, k, None) != v for k, v in fields.items()) or not product.is_active
    for key, value in fields.items():
        setattr(product, key, value)
    product.is_active = True
    await session.flush()
    if changed or status == "created":
        await indexer.index_products(session, tenant_id, [product.id])
        events.record(session, "product_saved", tenant_id=tenant_id, actor_staff_id=actor_staff_id,
                      product_id=product.id, sku=product.sku, status=status)
    return product


async def delete_product(session: AsyncSession, tenant_id: int, product_id: int, *,
                         actor_staff_id: int | None = None) -> None:
    """The product leaves the catalog (its chunk with it): the AI no longer offers it."""
    product = await get_product(session, tenant_id, product_id)
    await session.delete(product)  # its chunk goes with it (ON DELETE CASCADE)
    events.record(session, "product_deleted", tenant_id=tenant_id, actor_staff_id=actor_staff_id,
                  product_id=product_id, sku=product.sku)


async def upload_products(session: AsyncSession, tenant_id: int, name: str, data: bytes, *, indexer: Indexer,
                          default_currency: str = "RUB", actor_staff_id: int | None = None) -> catalog.ImportReport:
    """A catalog CSV, read by `salesop products import`'s own code: good rows kept, bad ones reported by line."""
    name = _upload_name(name, (".csv", ".txt"))
    _check_size(data)
    report = await catalog.import_products_csv(session, tenant_id, data, indexer=indexer,
                                               default_currency=default_currency)
    events.record(session, "products_uploaded", tenant_id=tenant_id, actor_staff_id=actor_staff_id, file=name,
                  created=report.created, updated=report.updated, unchanged=report.unchanged,
                  errors=len(report.errors))
    return report


async def reembed(session: AsyncSession, tenant_id: int, *, indexer: Indexer) -> tuple[int, int]:
    """`salesop kb reembed`: every chunk made by another embedder embedded again. Returns (done, left)."""
    from ..ai.indexing import stale_chunk_count

    done = await indexer.reembed_stale(session, tenant_id)
    return done, await stale_chunk_count(session, tenant_id, indexer.embedder.name)
