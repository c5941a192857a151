"""Knowledge chunks keep their vectors in the row (migration 0018): reading a shop's own vectors — the exact
nearest-neighbour scan for a small shop, each HNSW candidate's distance — touches no TOAST pages."""

from __future__ import annotations

from sqlalchemy import text

from .conftest import make_shop


async def test_chunk_vectors_are_stored_in_the_row(db, settings, offline_providers):
    await make_shop(db, offline_providers, settings)  # the demo shop: catalog and knowledge base, embedded
    async with db.unit_of_work() as session:
        chunks = (await session.execute(text(
            "SELECT count(*) FROM knowledge_chunks WHERE embedding IS NOT NULL"))).scalar_one()
        options = (await session.execute(text(
            "SELECT reloptions FROM pg_class WHERE relname = 'knowledge_chunks'"))).scalar_one()
        toast_pages = (await session.execute(text(
            "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 'knowledge_chunks'"))).scalar_one()
    assert chunks > 20
    assert "toast_tuple_target=8160" in options
    # Before, every 2 KB vector went to the TOAST table (273 MB of it for the benchmark's 105,000 chunks).
    assert toast_pages == 0
