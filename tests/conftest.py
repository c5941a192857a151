"""Shared fixtures: one embedded PostgreSQL (+pgvector) per test session, a fresh migrated database per test
(cloned from a migrated template, ~50 ms), and real Redis (SALESOP_TEST_REDIS_URL, or 127.0.0.1:6379 when it
answers, or a redis-server this session starts). No sqlite, no fakeredis."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from core import migrate
from core.db import Database, EmbeddedPostgres
from core.settings import Settings

TEMPLATE_DB = "salesop_template"
_db_counter = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory) -> EmbeddedPostgres:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    server.start()
    server.psql(f"CREATE DATABASE {TEMPLATE_DB};\n")
    asyncio.run(migrate.upgrade(server.url(TEMPLATE_DB)))
    yield server
    server.stop()


@pytest.fixture
def fresh_db_url(pg_server) -> str:
    """An empty database with only the vector extension: for migration tests."""
    name = f"empty_{os.getpid()}_{next(_db_counter)}"
    pg_server.psql(f"CREATE DATABASE {name};\n")
    yield pg_server.url(name)
    pg_server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);\n")


@pytest.fixture
def db_url(pg_server) -> str:
    """A migrated database of its own for each test."""
    name = f"t_{os.getpid()}_{next(_db_counter)}"
    pg_server.psql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB};\n")
    yield pg_server.url(name)
    pg_server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);\n")


@pytest.fixture
async def db(db_url) -> Database:
    database = Database(db_url, pool_size=5)
    yield database
    await database.dispose()


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except Exception:
        return False


def _start_redis_server(tmp: Path) -> tuple[str, subprocess.Popen]:
    binary = shutil.which("redis-server")
    if binary is None and shutil.which("apt-get"):
        # A machine without Redis: install the server package (CI images reach Debian's registry).
        subprocess.run(["apt-get", "install", "-y", "-q", "redis-server"], check=False, capture_output=True)
        binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("no Redis: set SALESOP_TEST_REDIS_URL or install redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if _redis_answers(url):
            return url, proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory) -> str:
    url = os.environ.get("SALESOP_TEST_REDIS_URL")
    if url:
        yield url
        return
    if _redis_answers("redis://127.0.0.1:6379/0"):
        yield "redis://127.0.0.1:6379/0"
        return
    url, proc = _start_redis_server(tmp_path_factory.mktemp("redis"))
    yield url
    proc.terminate()


@pytest.fixture
async def redis_url(redis_server_url) -> str:
    """Database 13 of the test Redis, emptied before each test that uses it."""
    url = redis_server_url.rsplit("/", 1)[0] + "/13"
    client = aioredis.Redis.from_url(url)
    await client.flushdb()
    await client.aclose()
    return url


@pytest.fixture
def settings(tmp_path, db_url) -> Settings:
    from cryptography.fernet import Fernet

    return Settings.load(
        data_dir=tmp_path / "var",
        db={"database_url": db_url},
        security={"master_key": Fernet.generate_key().decode()},
    )
