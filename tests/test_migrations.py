"""Stairway: upgrade to head, down to base, up again — and the models match what the migrations build."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from core import migrate
from core.db import to_sqlalchemy_url
from core.models import Base


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(to_sqlalchemy_url(url), poolclass=pool.NullPool)
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        names = {r[0] for r in rows}
    await engine.dispose()
    return names


async def test_upgrade_downgrade_upgrade(fresh_db_url):
    await migrate.upgrade(fresh_db_url)
    assert set(Base.metadata.tables) <= await _tables(fresh_db_url)
    await migrate.downgrade(fresh_db_url, "base")
    assert await _tables(fresh_db_url) == {"alembic_version"}
    await migrate.upgrade(fresh_db_url)
    assert set(Base.metadata.tables) <= await _tables(fresh_db_url)


async def test_models_match_migrations(db_url):
    """A model change without a migration fails here, not in production."""
    engine = create_async_engine(to_sqlalchemy_url(db_url), poolclass=pool.NullPool)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
        )
    await engine.dispose()
    assert diff == []
