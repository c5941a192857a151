"""How retrieval's statements run on the session's connection: prebuilt statements without the ORM's per-execution
work, and sequential scans switched off for the lookups the planner misjudges."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def statement_connection(session: AsyncSession):
    """The session's connection, for a prebuilt statement run without the ORM's per-execution work, after the flush
    session.execute would have made (autoflush): what this unit of work added is found."""
    await session.flush()
    return await session.connection()


@asynccontextmanager
async def index_scans_only(session: AsyncSession) -> AsyncIterator[None]:
    """For lookups the planner misjudges: it estimates an OR of phrases or of ILIKE patterns as matching much of
    the table and picks a sequential scan that tests every row (hundreds of ms at 100k rows), where the GIN
    indexes answer in a few. Sequential scans are off from the first such lookup to the end of the transaction
    (set_config's is_local): switching them on again cost a round trip per lookup, and what a unit of work runs
    after these lookups are key lookups and inserts, which use their indexes either way."""
    transaction = session.get_transaction()
    if transaction is None or session.info.get("index_scans_only") is not transaction:
        await session.execute(text("SELECT set_config('enable_seqscan', 'off', true)"))
        session.info["index_scans_only"] = session.get_transaction()
    yield
