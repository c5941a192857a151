"""Shared fixtures: one embedded PostgreSQL (+pgvector) per test session, a fresh migrated database per test
(cloned from a migrated template off the test's path: tests/databases.py), and real Redis (SALESOP_TEST_REDIS_URL, else a redis-server this session
starts, else 127.0.0.1:6379 when it answers). No sqlite, no fakeredis.

`make test` runs the suite on pytest-xdist workers: each worker is a session of its own (its own PostgreSQL under
its own basetemp, its own redis-server, its own slice of ports). The one thing the workers share is read-only: the
migrated pgdata each worker's server (and a test's embedded data directory) starts from a copy of — built once per
run, by whichever worker asks first (embedded_pgdata)."""

from __future__ import annotations

import asyncio
import fcntl
import gc
import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from core import migrate
from core.db import EMBEDDED_DB_NAME, Database, EmbeddedPostgres
from core.settings import Settings
from tests.databases import TestDatabases

TEMPLATE_DB = "salesop_template"


def worker_index() -> int:
    """N for pytest-xdist's worker gwN, 0 in a run without workers."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else 0


# Ports for servers a test starts: a slice per worker, below Linux's ephemeral range (32768+). A port from bind(0)
# is an ephemeral one, which an outgoing connection (asyncpg, redis, an HTTP client — thousands in this suite) may
# take between the moment the test picks it and the moment its server binds; and two workers never pick the same.
_PORT_BASE, _PORT_SPAN, _PORT_SLICES = 20_000, 1_500, 8
_ports_given: set[int] = set()


def free_port() -> int:
    low = _PORT_BASE + (worker_index() % _PORT_SLICES) * _PORT_SPAN
    for _ in range(200):
        port = random.randrange(low, low + _PORT_SPAN)
        if port in _ports_given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))  # no SO_REUSEADDR: a port in TIME_WAIT is skipped too
            except OSError:
                continue
        _ports_given.add(port)
        return port
    with socket.socket() as s:  # the slice is exhausted (never seen): any free port
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory, embedded_pgdata) -> EmbeddedPostgres:
    # Started on a copy of the run's migrated pgdata (embedded_pgdata): initdb and the migrations once for all the
    # workers, not once in each.
    root = tmp_path_factory.mktemp("pg")
    subprocess.run(["cp", "-a", str(embedded_pgdata), str(root / "pgdata")], check=True)
    server = EmbeddedPostgres(root)
    server.start()
    # A throwaway server: no fsync. Each test's DROP DATABASE forces a checkpoint, which with fsync took ~4 s on a
    # busy machine (0.2 s without) — most of the suite's time went there. Nothing here has to survive an OS crash.
    server.psql("ALTER SYSTEM SET fsync = off;\nALTER SYSTEM SET full_page_writes = off;\n"
                "ALTER SYSTEM SET synchronous_commit = off;\nSELECT pg_reload_conf();\n")
    server.psql(f"CREATE DATABASE {TEMPLATE_DB} TEMPLATE {EMBEDDED_DB_NAME};\n")  # migrated, as `salesop` makes it
    yield server
    server.stop()


def _build_embedded_template(var: Path) -> None:
    """What `salesop` makes of an empty data directory's database — initdb, the `salesop` database, the vector
    extension, every migration — stopped cleanly, so that its pgdata can be copied."""
    server = EmbeddedPostgres(var)
    url = server.start()
    try:
        server.psql(f"\\c {EMBEDDED_DB_NAME}\nCREATE EXTENSION IF NOT EXISTS vector;\n")
        # A throwaway server, as pg_server: commits and checkpoints without fsync (a clean stop still writes all).
        server.psql("ALTER SYSTEM SET fsync = off;\nALTER SYSTEM SET full_page_writes = off;\n")
        asyncio.run(migrate.upgrade(url))
    finally:
        server.stop()
    (server.pgdata / "log").unlink(missing_ok=True)


@pytest.fixture(scope="session")
def embedded_pgdata(tmp_path_factory) -> Path:
    """A migrated embedded pgdata, made once per run for all xdist workers (under their common basetemp, a lock
    makes the first one build it) — initdb and twenty migrations cost ~15 s on a busy machine, a copy ~0.2 s."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the controller's basetemp, fresh for each run
    var = root / "embedded-template" / "var"
    with open(root / "embedded-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (var.parent / "built").exists():
            shutil.rmtree(var.parent, ignore_errors=True)
            _build_embedded_template(var)
            (var.parent / "built").touch()
    return var / "pgdata"


@pytest.fixture(scope="session")
def embedded_data_dir(embedded_pgdata):
    """`embedded_data_dir(path)`: makes `path` a data directory whose embedded database `salesop` already made and
    migrated (a copy of embedded_pgdata), as after a first `salesop migrate`; the product still starts, checks the
    migrations and stops it itself. For tests of a running product — tests of the first start itself
    (test_demo, test_cli's embedded test) start from an empty directory. `cp -a`: the files keep their owner (as root,
    the server's own system user)."""

    def make(data_dir: Path) -> Path:
        data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", str(embedded_pgdata), str(data_dir / "pgdata")], check=True)
        return data_dir

    return make


@pytest.fixture(scope="session")
def test_databases(pg_server) -> TestDatabases:
    databases = TestDatabases(pg_server.url("postgres"), TEMPLATE_DB)
    yield databases
    databases.close()


@pytest.fixture
def fresh_db_url(pg_server, test_databases) -> str:
    """An empty database with only the vector extension: for migration tests."""
    name = test_databases.empty()
    yield pg_server.url(name)
    test_databases.release(name)


@pytest.fixture
def db_url(pg_server, test_databases) -> str:
    """A migrated database of its own for each test."""
    name = test_databases.take()
    yield pg_server.url(name)
    test_databases.release(name)


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
    for _attempt in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        # Ours only while our process lives: one that exited (the port taken meanwhile) is not answering for us.
        while proc.poll() is None and time.monotonic() < deadline:
            if _redis_answers(url):
                return url, proc
            time.sleep(0.05)  # polling the server's start-up, not synchronising tests
        proc.kill()
        proc.wait()
    raise RuntimeError("redis-server did not start")


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory) -> str:
    """A redis-server of this session's own (one per xdist worker: FLUSHDB in one never touches another's keys, nor
    those of another checkout's run on the same machine); a shared one only when asked for or when none can start."""
    url = os.environ.get("SALESOP_TEST_REDIS_URL")
    if url:
        yield url
        return
    try:
        url, proc = _start_redis_server(tmp_path_factory.mktemp("redis"))
    except RuntimeError:
        if not _redis_answers("redis://127.0.0.1:6379/0"):
            raise
        yield "redis://127.0.0.1:6379/0"
        return
    yield url
    proc.terminate()
    proc.wait()


@pytest.fixture
async def redis_url(redis_server_url) -> str:
    """A database of the test Redis, emptied before each test that uses it: one per xdist worker (8 + N for gwN),
    so workers never clash on a shared server either."""
    url = redis_server_url.rsplit("/", 1)[0] + f"/{8 + worker_index() % 8}"
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


# The longest tests, spread out from the start: `make test` (--dist loadgroup --no-loadscope-reorder) hands tests to
# the workers in collection order, one or two at a time as each runs dry. The longest is collected first (started
# last it would end alone on one worker while the others sit idle); the others are dealt out over the first three
# quarters of the collection, longest first, between quick ones — all collected first, they ran at once, each
# starting processes, and on a busy machine they ran into their own timeouts. Prefixes of node ids, longest first,
# from --durations on 2 busy cores (seconds noted); a test missing here only runs in its usual place.
HEAVY = (
    "tests/test_faults.py::test_nothing_lost_nothing_twice_under_faults",  # ~550
    "tests/test_single_instance.py",  # ~400, one group (a module-scoped server)
    "tests/test_going_live.py",  # ~300
    "tests/test_demo.py",  # ~200
    "tests/bot/test_burst.py",  # ~60-200
    "tests/ai/test_offline_answers.py::test_a_tenant_defines_its_own_intent_and_routes_it",  # ~150
    "tests/ai/test_offline_answers.py::test_salesop_ask_runs_the_pipeline_and_stores_nothing",  # ~100
    "tests/test_logredact.py::test_serve_bot_at_debug_logs_no_secret",  # ~100
    "tests/test_staff_cli.py::test_bad_input_is_one_clear_line",  # ~100
    "tests/test_staff_cli.py::test_invite_list_role_remove_and_the_last_owner",  # ~100
    "tests/test_cli.py::test_embedded_database_migrate_and_url",  # ~90
    "tests/test_customer_forget.py",  # ~80
    "tests/userbots/test_import.py::test_kill_9_of_salesop_import_resumes_from_the_database_checkpoint",  # ~100
    "tests/userbots/test_import.py::test_import_cancelled_at_random_points_equals_one_clean_run",  # 3 × ~65
    "tests/ai/test_learning.py::test_learning_queue_and_jsonl_export",  # ~70
    "tests/ai/test_reasons.py::test_salesop_ask_reasons_follow_salesop_language",  # ~65
    "tests/bot/test_controls.py::test_pinned_card_controls_and_commands",  # ~45
)
_WIDE_SCOPES = ("module", "package", "class")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group markers
def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        return next((i for i, prefix in enumerate(HEAVY) if item.nodeid.startswith(prefix)), len(HEAVY))

    heavy = sorted((item for item in items if rank(item) < len(HEAVY)), key=rank)  # sorted() is stable
    if heavy:
        light = [item for item in items if rank(item) == len(HEAVY)]
        gap = max(1, (len(light) * 3 // 4) // len(heavy))
        ordered = [heavy[0]]
        for n, item in enumerate(heavy[1:]):
            ordered += light[n * gap:(n + 1) * gap] + [item]
        ordered += light[(len(heavy) - 1) * gap:]
        assert len(ordered) == len(items)
        items[:] = ordered
    for item in items:
        # A test using a module-scoped fixture stays on one worker with its module's others: spread over the
        # workers, each would set the fixture up again (test_single_instance's server: ~100 s each time).
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info is not None else ()
        if any(fixturedefs and fixturedefs[-1].scope in _WIDE_SCOPES for fixturedefs in defs):
            group = item.nodeid.split("::", 1)[0]
            item.add_marker(pytest.mark.xdist_group(group))
            if getattr(config.option, "loadgroup", False) and "@" not in item.nodeid:
                # The scheduler groups by an "@group" suffix of the node id, which xdist 3.8 appends to
                # item._nodeid — an attribute pytest 9.2 no longer reads (the id is item._id): the group was
                # ignored and test_single_instance's server started on two workers. Appended here instead.
                from _pytest.nodeid import NodeId

                item._id = NodeId.parse(f"{item.nodeid}@{group}")


def pytest_collection_finish(session):
    # The modules imported and the items collected live as long as the run: the collector's full passes stop walking
    # them (it took ~12 % of a test process's CPU, 27 → 23.5 s user on the rollup and flow tests).
    gc.freeze()
