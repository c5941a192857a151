"""Chunks and their vectors: documents are cut along headings and paragraphs, each product is one chunk, and
every vector records the embedder that made it so a change of embedder is caught (`reembed_stale`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import DocType, KnowledgeChunk, KnowledgeDocument, Product, UsagePurpose
from ..ports import Embedder
from .providers import model_of, provider_of
from .spend import PriceTable, Usage, record_usage
from .textutil import format_price

CHUNK_CHARS = 700  # ~175 tokens: small enough to be specific, big enough to hold a whole policy paragraph
REEMBED_BATCH = 256

_HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Section:
    heading: str
    body: str


def markdown_sections(body: str) -> list[Section]:
    sections: list[Section] = []
    heading, lines = "", []
    for line in body.splitlines():
        match = _HEADING_RE.match(line)
        if match:
            if "\n".join(lines).strip():
                sections.append(Section(heading, "\n".join(lines).strip()))
            heading, lines = match.group(2).strip(), []
        else:
            lines.append(line)
    if "\n".join(lines).strip():
        sections.append(Section(heading, "\n".join(lines).strip()))
    return sections


def _split_long(paragraph: str, limit: int) -> list[str]:
    if len(paragraph) <= limit:
        return [paragraph]
    sentences = re.split(r"(?<=[.!?…])\s+", paragraph)
    out, current = [], ""
    for sentence in sentences:
        while len(sentence) > limit:  # one enormous "sentence" (a list without full stops): cut hard
            out.append(sentence[:limit])
            sentence = sentence[limit:]
        if current and len(current) + 1 + len(sentence) > limit:
            out.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        out.append(current)
    return out


def chunk_document(title: str, body: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Sections by heading, paragraphs packed up to `limit` characters. Each chunk starts with its title and
    heading, so a chunk found alone still says what it is about (and full text matches the heading words)."""
    chunks: list[str] = []
    for section in markdown_sections(body) or [Section("", body)]:
        prefix = " — ".join(p for p in (title, section.heading) if p)
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", section.body) if p.strip()]
        current = ""
        for paragraph in paragraphs:
            for piece in _split_long(" ".join(paragraph.split()), limit):
                if current and len(current) + 2 + len(piece) > limit:
                    chunks.append(f"{prefix}: {current}" if prefix else current)
                    current = piece
                else:
                    current = f"{current}\n{piece}".strip()
        if current:
            chunks.append(f"{prefix}: {current}" if prefix else current)
    return chunks


def product_chunk_text(product: Product) -> str:
    if product.stock is None:
        stock = "наличие уточняется"
    elif product.stock > 0:
        stock = f"в наличии {product.stock} шт"
    else:
        stock = "нет в наличии"
    parts = [product.name, f"артикул {product.sku}", f"цена {format_price(product.price, product.currency)}", stock]
    if product.description:
        parts.append(product.description)
    if product.delivery:
        parts.append(f"доставка: {product.delivery}")
    return ". ".join(parts)


class Indexer:
    """Writes chunks with vectors and records the embedding spend in the same transaction."""

    def __init__(self, embedder: Embedder, price_table: PriceTable):
        self.embedder = embedder
        self.price_table = price_table

    async def embed(self, session: AsyncSession, tenant_id: int, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors, tokens = await self.embedder.embed(texts)
        if provider_of(self.embedder) != "local":
            await record_usage(session, self.price_table, Usage(
                UsagePurpose.EMBED, provider_of(self.embedder), model_of(self.embedder), prompt_tokens=tokens,
            ), tenant_id=tenant_id)
        return vectors

    async def index_document(self, session: AsyncSession, document: KnowledgeDocument,
                             chunks: list[str] | None = None) -> int:
        await session.execute(delete(KnowledgeChunk).where(KnowledgeChunk.document_id == document.id))
        texts = chunks if chunks is not None else chunk_document(document.title, document.body)
        vectors = await self.embed(session, document.tenant_id, texts)
        for ordinal, (text_, vector) in enumerate(zip(texts, vectors, strict=True)):
            session.add(KnowledgeChunk(
                tenant_id=document.tenant_id, document_id=document.id, doc_type=document.doc_type, ordinal=ordinal,
                text=text_, embedding=vector, embedder=self.embedder.name,
                meta={"category": document.category} if document.category else {},
            ))
        return len(texts)

    async def index_products(self, session: AsyncSession, tenant_id: int, product_ids: list[int]) -> int:
        if not product_ids:
            return 0
        await session.execute(delete(KnowledgeChunk).where(KnowledgeChunk.product_id.in_(product_ids)))
        products = list((await session.execute(
            select(Product).where(Product.id.in_(product_ids), Product.is_active).order_by(Product.id)
            # Rows may have just been upserted in SQL: read their new values, not the session's cached ones.
            .execution_options(populate_existing=True)
        )).scalars())
        texts = [product_chunk_text(p) for p in products]
        vectors = await self.embed(session, tenant_id, texts)
        for product, text_, vector in zip(products, texts, vectors, strict=True):
            session.add(KnowledgeChunk(
                tenant_id=tenant_id, product_id=product.id, doc_type=DocType.PRODUCT, ordinal=0, text=text_,
                embedding=vector, embedder=self.embedder.name, meta={"sku": product.sku},
            ))
        return len(products)

    async def reembed_batch(self, session: AsyncSession, tenant_id: int, batch: int = REEMBED_BATCH) -> int:
        """Re-embed up to `batch` chunks of the tenant made by another embedder (or none). Rows are taken with
        SKIP LOCKED, so several workers re-embedding one tenant share the work instead of repeating it."""
        stale = list((await session.execute(
            select(KnowledgeChunk.id, KnowledgeChunk.text)
            .where(KnowledgeChunk.tenant_id == tenant_id,
                   (KnowledgeChunk.embedder.is_(None)) | (KnowledgeChunk.embedder != self.embedder.name))
            .order_by(KnowledgeChunk.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )).all())
        if not stale:
            return 0
        vectors = await self.embed(session, tenant_id, [row.text for row in stale])
        for row, vector in zip(stale, vectors, strict=True):
            await session.execute(
                update(KnowledgeChunk).where(KnowledgeChunk.id == row.id)
                .values(embedding=vector, embedder=self.embedder.name)
            )
        return len(stale)

    async def reembed_stale(self, session: AsyncSession, tenant_id: int) -> int:
        """Re-embed every stale chunk of the tenant in this transaction. Returns how many."""
        done = 0
        while count := await self.reembed_batch(session, tenant_id):
            done += count
        return done


async def stale_chunk_count(session: AsyncSession, tenant_id: int, embedder_name: str) -> int:
    return (await session.execute(
        select(func.count(KnowledgeChunk.id)).where(
            KnowledgeChunk.tenant_id == tenant_id,
            (KnowledgeChunk.embedder.is_(None)) | (KnowledgeChunk.embedder != embedder_name),
        )
    )).scalar_one()
