"""Alembic environment: async, same settings as the app. The URL comes from the caller (`salesop migrate`, tests)
via config.attributes["url"], or from SALESOP_* settings when run as plain `alembic upgrade head`."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import create_async_engine

from core.db import open_database, to_sqlalchemy_url
from core.models import Base
from core.settings import Settings

config = context.config
target_metadata = Base.metadata


def _do_run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(to_sqlalchemy_url(url), poolclass=pool.NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(_do_run)
        await conn.commit()
    await engine.dispose()


def run() -> None:
    url = config.attributes.get("url")
    handle = None
    if url is None:
        handle = open_database(Settings.load())
        url = handle.url
    try:
        asyncio.run(_run_async(url))
    finally:
        if handle is not None:
            handle.close()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")

connection = config.attributes.get("connection")
if connection is not None:
    _do_run(connection)
else:
    run()
