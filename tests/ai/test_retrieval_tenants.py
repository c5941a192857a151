"""Per-tenant filtering in hybrid retrieval: a shop with few chunks beside a bigger one gets its own nearest chunks,
and only its own, whether the vector leg reads its vectors (exact) or walks the shared HNSW graph."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import select

from core.ai import retrieval
from core.ai.demo import load_demo_shop
from core.ai.embedding import LOCAL_EMBEDDER_NAME, LocalEmbedder, embed_one
from core.models import KnowledgeChunk
from core.services.tenants import create_tenant

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import bench_retrieval  # noqa: E402


async def _search(db, tenant_id: int, question: str) -> list[retrieval.Hit]:
    async with db.unit_of_work() as session:
        return await retrieval.hybrid_search(session, tenant_id, question, embed_one(question),
                                             embedder_name=LOCAL_EMBEDDER_NAME, limit=8)


async def test_a_small_shop_beside_a_big_one_finds_its_own_chunks(db, monkeypatch):
    async with db.unit_of_work() as session:
        small = await create_tenant(session, slug="small", name="ТехноДом")
        big = await create_tenant(session, slug="big", name="Большой")
        await session.flush()
        await load_demo_shop(session, small.id, LocalEmbedder())
        small_id, big_id = small.id, big.id
    await bench_retrieval.load_chunks(db, [(big_id, 2500, 7)])
    async with db.unit_of_work() as session:
        own = {c for (c,) in (await session.execute(select(KnowledgeChunk.id).where(
            KnowledgeChunk.tenant_id == small_id))).all()}
        assert await retrieval.exact_vector_search(session, small_id)
        assert not await retrieval.exact_vector_search(session, big_id)

    question = "Сколько стоит электрический чайник Bosch?"
    exact = await _search(db, small_id, question)
    assert {h.chunk_id for h in exact} <= own and exact[0].product is not None
    assert "Чайник" in exact[0].product.name

    # The same search through the HNSW graph (the decision forced the other way) agrees on what comes first.
    monkeypatch.setattr(retrieval.vector_leg, "EXACT_VECTOR_WORK", 0)
    retrieval._tenant_sizes.clear()
    graph = await _search(db, small_id, question)
    assert {h.chunk_id for h in graph} <= own
    assert graph[0].chunk_id == exact[0].chunk_id


async def test_hnsw_settings_lost_with_a_rolled_back_transaction_are_set_again(db_url):
    from sqlalchemy import text

    from core.db import Database

    database = Database(db_url, pool_size=1)  # one connection: the next unit of work gets the same one
    try:
        async with database.unit_of_work() as session:
            tenant = await create_tenant(session, slug="shop", name="ТехноДом")
            await session.flush()
            await load_demo_shop(session, tenant.id, LocalEmbedder())
            tenant_id = tenant.id

        class Undo(Exception):
            pass

        try:
            async with database.unit_of_work() as session:  # the connection's first search sets them, then rolls back
                assert await retrieval.hybrid_search(session, tenant_id, "чайник", embed_one("чайник"),
                                                     embedder_name=LOCAL_EMBEDDER_NAME)
                raise Undo
        except Undo:
            pass
        async with database.unit_of_work() as session:
            assert (await session.execute(text("SHOW hnsw.iterative_scan"))).scalar_one() != "relaxed_order"
            hits = await retrieval.hybrid_search(session, tenant_id, "чайник", embed_one("чайник"),
                                                 embedder_name=LOCAL_EMBEDDER_NAME)
            assert hits and "Чайник" in hits[0].title
            assert (await session.execute(text("SHOW hnsw.iterative_scan"))).scalar_one() == "relaxed_order"
            assert (await session.execute(text("SHOW hnsw.ef_search"))).scalar_one() == "80"
    finally:
        await database.dispose()
