"""The hybrid search: one SQL statement per shape (vector leg or not, exact or through the index, how many full-text
tiers, which document types), built once with bind parameters and cached, that fuses the vector and full-text legs
by reciprocal rank; and hybrid_search, which fills in its parameters and reads its rows as Hits."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Float, String, bindparam, func, literal, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from ...models import DocType, KnowledgeChunk, KnowledgeDocument, Product
from .connection import statement_connection
from .hits import Hit, _product_columns, _product_of_row
from .query import TEXT_POOL, fulltext_tiers, kept_lexemes, query_lexemes, with_topic_words
from .vector_leg import HNSW_SETTINGS, _hnsw_settings, exact_vector_search

RRF_K = 60  # the usual constant of reciprocal rank fusion: dampens the weight of the very top ranks
CANDIDATES = 40  # per leg, before fusion


@lru_cache(maxsize=None)
def _hybrid_statement(vector: str | None, tiers: int, doc_types: tuple[DocType, ...] | None,
                      index_scans_after: bool):
    """hybrid_search's statement for one shape, built once: building it anew for every question (two legs, the
    tiers, the fusion) and compiling it cost several times PostgreSQL's own work on it. `vector`: None (full text
    only), "index" (the shared HNSW index) or "exact" (the tenant's own vectors); `tiers`: how many full-text tiers.
    Bind parameters: tenant_id, embedder, query_vector, candidates, limit, tsq0…tsq{tiers-1}."""
    chunk = KnowledgeChunk
    legs = []
    tenant_id = bindparam("tenant_id")
    candidates = bindparam("candidates")

    def scoped(q):
        q = q.where(chunk.tenant_id == tenant_id)
        if doc_types:
            q = q.where(chunk.doc_type.in_(doc_types))
        return q

    if vector is not None:
        query_vector = bindparam("query_vector", type_=chunk.embedding.type)
        embedder = bindparam("embedder", type_=String)
        if vector == "exact":
            # A shop with few chunks among many others': reading its own vectors beats walking the shared HNSW
            # graph past everyone else's (the subquery keeps the planner from ordering by the index).
            own = scoped(select(chunk.id.label("id"), chunk.embedding.label("embedding"))) \
                .where(chunk.embedder == embedder).offset(0).subquery("own")
            distance = own.c.embedding.cosine_distance(query_vector)
            nearest = select(own.c.id.label("id"), distance.label("d")).order_by(distance).limit(candidates) \
                .subquery("nearest")
        else:
            distance = chunk.embedding.cosine_distance(query_vector)
            nearest = (
                scoped(select(chunk.id.label("id"), distance.label("d")))
                .where(chunk.embedder == embedder)
                .order_by(distance)
                .limit(candidates)
                .subquery("nearest")
            )
        legs.append(select(
            nearest.c.id,
            func.row_number().over(order_by=nearest.c.d).label("rank"),
            literal("v", String).label("leg"),
        ))

    if tiers:
        def tsq(i: int):
            return func.to_tsquery(literal_column("'simple'::regconfig"), bindparam(f"tsq{i}", type_=String))

        # Each tier holds the chunks matching its query and none stricter; the pool takes them in order and stops
        # once full (the Append under the LIMIT never runs a tier it does not need).
        parts = []
        for i in range(tiers):
            tier = scoped(select(chunk.id.label("id"), chunk.tsv.label("tsv"))).where(chunk.tsv.op("@@")(tsq(i)))
            if i > 0:
                tier = tier.where(~chunk.tsv.op("@@")(tsq(i - 1)))
            parts.append(tier.limit(TEXT_POOL))
        pool = (union_all(*parts).subquery("tiers") if len(parts) > 1 else parts[0].subquery("tiers"))
        pool = select(pool.c.id, pool.c.tsv).limit(TEXT_POOL).subquery("pool")
        rank = func.ts_rank_cd(pool.c.tsv, tsq(tiers - 1))
        matched = (
            select(pool.c.id.label("id"), rank.label("r"))
            .order_by(rank.desc(), pool.c.id)
            .limit(candidates)
            .subquery("matched")
        )
        legs.append(select(
            matched.c.id,
            func.row_number().over(order_by=(matched.c.r.desc(), matched.c.id)).label("rank"),
            literal("t", String).label("leg"),
        ))

    ranked = union_all(*legs).subquery("ranked") if len(legs) > 1 else legs[0].subquery("ranked")
    fused = (
        select(
            ranked.c.id,
            func.sum(literal(1.0, Float) / (RRF_K + ranked.c.rank)).label("score"),
            func.min(ranked.c.rank).filter(ranked.c.leg == "v").label("vector_rank"),
            func.min(ranked.c.rank).filter(ranked.c.leg == "t").label("text_rank"),
        )
        .group_by(ranked.c.id)
        .order_by(literal_column("score").desc(), ranked.c.id)
        .limit(bindparam("limit"))
        .subquery("fused")
    )
    return (
        select(fused, chunk.text, chunk.doc_type, chunk.document_id, chunk.meta, KnowledgeDocument.title,
               *_product_columns(),
               literal_column("current_setting('hnsw.iterative_scan', true)").label("iterative_scan"),
               # Evaluated while this statement runs, after it was planned: only the statements after it see it.
               *([literal_column("set_config('enable_seqscan', 'off', true)").label("seqscan")]
                 if index_scans_after else []))
        .join(chunk, chunk.id == fused.c.id)
        .outerjoin(KnowledgeDocument, KnowledgeDocument.id == chunk.document_id)
        .outerjoin(Product, Product.id == chunk.product_id)
        .order_by(fused.c.score.desc(), fused.c.id)
    )


async def hybrid_search(
    session: AsyncSession,
    tenant_id: int,
    query: str,
    query_vector: list[float] | None,
    *,
    embedder_name: str | None,
    limit: int = 8,
    doc_types: list[DocType] | None = None,
    candidates: int = CANDIDATES,
    index_scans_after: bool = False,
) -> list[Hit]:
    """Top `limit` chunks for `query`. `query_vector=None` (embedding unavailable) searches full text only.
    `index_scans_after`: the statement also switches sequential scans off for the rest of the transaction, as
    index_scans_only does, for the lookups that follow it (product_name_hits) — a round trip less."""
    use_vector = query_vector is not None and bool(embedder_name)
    vector = None
    params: dict = {"tenant_id": tenant_id, "candidates": candidates, "limit": limit}
    if use_vector:
        await _hnsw_settings(session)
        vector = "exact" if await exact_vector_search(session, tenant_id) else "index"
        params.update(query_vector=query_vector, embedder=embedder_name)
    tiers = fulltext_tiers(await kept_lexemes(session, await query_lexemes(session, with_topic_words(query))))
    params.update({f"tsq{i}": tier for i, tier in enumerate(tiers)})
    if vector is None and not tiers:
        return []
    statement = _hybrid_statement(vector, len(tiers), tuple(doc_types) if doc_types else None, index_scans_after)
    connection = await statement_connection(session)
    rows = (await connection.execute(statement, params)).all()
    if use_vector and rows and rows[0].iterative_scan != HNSW_SETTINGS["hnsw.iterative_scan"]:
        # The connection lost its settings (the transaction that set them was rolled back): set them, search again.
        await _hnsw_settings(session, force=True)
        rows = (await connection.execute(statement, params)).all()
    if index_scans_after and rows:  # set_config ran once per row: not at all when nothing was found
        session.info["index_scans_only"] = session.get_transaction()
    hits = []
    for row in rows:
        product = _product_of_row(row)
        hits.append(Hit(
            chunk_id=row.id, text=row.text, doc_type=row.doc_type.value, score=float(row.score),
            title=row.title or (product.name if product else ""), document_id=row.document_id, product=product,
            vector_rank=row.vector_rank, text_rank=row.text_rank, meta=row.meta or {},
        ))
    return hits
