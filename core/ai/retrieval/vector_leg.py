"""The vector leg's set-up: pgvector's HNSW settings on the connection, and whether a tenant reads its own vectors
(exact) rather than walking the HNSW graph all tenants share."""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

HNSW_EF_SEARCH = 80


# Per-tenant filtering of the vector leg. HNSW walks one graph for every tenant and, with the tenant filter, keeps
# walking until enough of the tenant's chunks turned up: about 1 / (the tenant's share of the table) times the work of
# an unfiltered search (a 5,000-chunk shop beside a 100,000-chunk one: 26 ms where the big one takes 2). Reading the
# tenant's own vectors costs about 2 µs a chunk (11 ms for 5,000). So a tenant whose chunks × share of the table is
# below EXACT_VECTOR_WORK is searched exactly; the planner already does so for a tenant of a few hundred chunks, and
# a tenant that is most of the table keeps the index.
EXACT_VECTOR_WORK = 1_000
TENANT_SIZE_TTL = 300.0
_tenant_sizes: dict[tuple[str, int], tuple[float, bool]] = {}


async def exact_vector_search(session: AsyncSession, tenant_id: int) -> bool:
    """Whether the tenant's vector leg reads its own vectors rather than the shared HNSW index. Cached per database
    and tenant for a few minutes (the tenant's chunk count by its index, the table's from the planner's statistics)."""
    key = (str(session.bind.url), tenant_id)
    cached = _tenant_sizes.get(key)
    if cached and time.monotonic() - cached[0] < TENANT_SIZE_TTL:
        return cached[1]
    own, total = (await session.execute(text(
        "SELECT (SELECT count(*) FROM knowledge_chunks WHERE tenant_id = :t), "
        "(SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'knowledge_chunks'::regclass)"
    ), {"t": tenant_id})).one()
    total = max(float(total or 0), float(own), 1.0)
    exact = own * (own / total) < EXACT_VECTOR_WORK and own / total < 0.5
    _tenant_sizes[key] = (time.monotonic(), exact)
    return exact


HNSW_SETTINGS = {"hnsw.iterative_scan": "relaxed_order", "hnsw.ef_search": str(HNSW_EF_SEARCH)}
_HNSW_FLAG = "salesop_hnsw_settings"


async def _hnsw_settings(session: AsyncSession, *, force: bool = False) -> None:
    """pgvector's HNSW settings for this connection, set once per connection (not per transaction: a round trip
    less for every search): iterative index scans keep filling the result when the tenant / embedder filter removes
    candidates, and ef_search is the list size that feeds them. The search reads the setting back with its
    results and sets it again when a rolled-back transaction took it away."""
    connection = await session.connection()
    if connection.info.get(_HNSW_FLAG) and not force:
        return
    await session.execute(text(", ".join(
        f"SELECT set_config('{name}', '{value}', false)" if i == 0 else f"set_config('{name}', '{value}', false)"
        for i, (name, value) in enumerate(HNSW_SETTINGS.items()))))
    connection.info[_HNSW_FLAG] = True
