"""Knowledge base and catalog: documents, products, and their chunks for hybrid retrieval."""

from __future__ import annotations

from decimal import Decimal

from pgvector.sqlalchemy import Vector
from sqlalchemy import Boolean, Computed, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdPk, Timestamps, str_enum
from .enums import DocType

# One width for every embedder: text-embedding-3-* are asked for `dimensions=512`, the local embedder makes 512.
# 512 keeps the HNSW index small and fast; re-embedding is a command when the embedder changes.
EMBEDDING_DIM = 512


class KnowledgeDocument(IdPk, Timestamps, Base):
    __tablename__ = "knowledge_documents"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(100))
    doc_type: Mapped[DocType] = mapped_column(str_enum(DocType, "doc_type"), default=DocType.FAQ)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    source: Mapped[str | None] = mapped_column(String(255))  # file it was imported from
    body: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))


class Product(IdPk, Timestamps, Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku"),
        # Name lookups by a word inside the name («самокат» in «Электросамокат»): ILIKE '%…%' on a trigram index.
        Index("ix_products_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    stock: Mapped[int | None] = mapped_column(Integer)  # None: unknown / made to order
    variants: Mapped[list[dict]] = mapped_column(JSONB, default=list)
    delivery: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class KnowledgeChunk(IdPk, Base):
    __tablename__ = "knowledge_chunks"
    __table_args__ = (
        Index(
            "ix_knowledge_chunks_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_with={"m": 16, "ef_construction": 64},
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
        # Full text per tenant: btree_gin puts the tenant column in the GIN index (migration 0014), so a search's
        # bitmap holds only the tenant's chunks; no pending list (fastupdate) for searches to scan after an import.
        Index("ix_knowledge_chunks_tenant_tsv", "tenant_id", "tsv", postgresql_using="gin",
              postgresql_with={"fastupdate": "off"}),
        Index("ix_knowledge_chunks_tenant_type", "tenant_id", "doc_type"),
    )

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("knowledge_documents.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    doc_type: Mapped[DocType] = mapped_column(str_enum(DocType, "chunk_doc_type"))
    ordinal: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[list[float] | None] = mapped_column(Vector(EMBEDDING_DIM))
    embedder: Mapped[str | None] = mapped_column(String(100))  # which model made the vector; others are stale
    tsv: Mapped[str] = mapped_column(TSVECTOR, Computed("to_tsvector('russian', text)", persisted=True))
    meta: Mapped[dict] = mapped_column(JSONB, default=dict)
