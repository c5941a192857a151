"""Run Alembic migrations programmatically (used by `salesop migrate`, `salesop run` and the tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import create_async_engine

from .db import to_sqlalchemy_url

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


async def _run(url: str, fn, *args) -> None:
    engine = create_async_engine(to_sqlalchemy_url(url), poolclass=pool.NullPool)
    async with engine.begin() as conn:

        def sync(connection):
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            fn(cfg, *args)

        await conn.run_sync(sync)
    await engine.dispose()


async def upgrade(url: str, revision: str = "head") -> None:
    await _run(url, command.upgrade, revision)


async def downgrade(url: str, revision: str = "base") -> None:
    await _run(url, command.downgrade, revision)


async def current_heads(url: str) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    engine = create_async_engine(to_sqlalchemy_url(url), poolclass=pool.NullPool)
    async with engine.connect() as conn:
        heads = await conn.run_sync(lambda c: set(MigrationContext.configure(c).get_current_heads()))
    await engine.dispose()
    return heads


def run_sync(coro) -> None:
    asyncio.run(coro)
