"""The composition root: settings → database (embedded or external) → secrets. Everything the entrypoints share."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core import migrate
from core.crypto import SecretBox, load_secret_box
from core.db import Database, DatabaseHandle, open_database
from core.settings import Settings

log = logging.getLogger("salesop")


@dataclass
class AppContext:
    settings: Settings
    handle: DatabaseHandle
    db: Database
    secrets: SecretBox

    @property
    def embedded(self) -> bool:
        return self.handle.embedded is not None


@asynccontextmanager
async def app_context(settings: Settings, *, run_migrations: bool = False) -> AsyncIterator[AppContext]:
    """Opens the database (starting the embedded server when needed) and closes everything on exit, even on errors."""
    handle = open_database(settings)
    try:
        secrets = load_secret_box(settings, embedded=handle.embedded is not None)
        if run_migrations:
            await migrate.upgrade(handle.url)
        db = Database(handle.url, pool_size=settings.db.db_pool_size)
        try:
            yield AppContext(settings=settings, handle=handle, db=db, secrets=secrets)
        finally:
            await db.dispose()
    finally:
        handle.close()
