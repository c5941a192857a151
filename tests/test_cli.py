"""The CLI as a user runs it: exit codes, one-line errors, JSON output. A real subprocess where the process itself is
what is tested (a user error's exit status and stderr, an embedded server the command starts and stops); the other
calls run salesop.cli.main in this process (tests/clirun.py: the same output and exit code, without a Python start-up
and the application's imports per call)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from core.crypto import SecretBox
from core.db import Database
from core.models import ChannelAccount, ChannelKind
from core.services.tenants import get_tenant
from tests.clirun import run_cli

SALESOP = [sys.executable, "-m", "salesop.cli"]


def run_process(*args, env=None, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run([*SALESOP, *args], capture_output=True, text=True, env=env, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"salesop {args} failed: {result.stderr}")
    return result


def run(*args, env, check=True) -> subprocess.CompletedProcess:
    result = run_cli(env, *args)
    if check and result.returncode != 0:
        raise AssertionError(f"salesop {args} failed: {result.stderr}")
    return result


@pytest.fixture
def env(tmp_path, db_url):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    return {**clean, "SALESOP_DATA_DIR": str(tmp_path / "var"), "SALESOP_DATABASE_URL": db_url,
            "SALESOP_MASTER_KEY": Fernet.generate_key().decode()}


def test_tenant_create_list_and_duplicate(env):
    out = run("tenant", "create", "--slug", "shop", "--name", "Магазин «Ромашка»", "--json", env=env)
    created = json.loads(out.stdout)
    assert created["slug"] == "shop" and created["timezone"] == "Europe/Moscow"
    dup = run_process("tenant", "create", "--slug", "shop", "--name", "Другой", env=env, check=False)
    assert dup.returncode == 1
    assert dup.stderr.strip() == "salesop: компания с кодом «shop» уже есть"
    assert "Traceback" not in dup.stderr
    run("tenant", "create", "--slug", "flowers", "--name", "Цветы", "--timezone", "Asia/Yekaterinburg", env=env)
    listed = json.loads(run("tenant", "list", "--json", env=env).stdout)
    assert [(t["slug"], t["name"], t["timezone"]) for t in listed] == [
        ("shop", "Магазин «Ромашка»", "Europe/Moscow"), ("flowers", "Цветы", "Asia/Yekaterinburg")]


@pytest.mark.parametrize("args, message", [
    (["tenant", "create", "--slug", "Bad Slug", "--name", "x"], "должен быть длиной 2–63 символа"),
    (["tenant", "create", "--slug", "ok", "--name", "x", "--timezone", "Mars/Olympus"], "неизвестный часовой пояс"),
])
def test_user_errors_are_one_line(env, args, message):
    result = run(*args, env=env, check=False)
    assert result.returncode == 1 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_cli_speaks_the_language_of_salesop_language(env):
    dup = run("tenant", "create", "--slug", "Bad Slug", "--name", "x", env={**env, "SALESOP_LANGUAGE": "en"},
              check=False)
    assert dup.returncode == 1
    assert dup.stderr.strip() == "salesop: slug 'Bad Slug' must be 2-63 characters: lowercase latin letters, digits and '-'"
    wrong = run("tenant", "list", env={**env, "SALESOP_LANGUAGE": "de"}, check=False)
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert wrong.stderr.startswith("salesop: неверная настройка: SALESOP_LANGUAGE: ")


def test_external_database_without_master_key_refuses_to_start(env):
    env = {k: v for k, v in env.items() if k != "SALESOP_MASTER_KEY"}
    result = run("tenant", "list", env=env, check=False)
    assert result.returncode == 1 and "SALESOP_MASTER_KEY is required" in result.stderr


def test_bad_database_url_is_a_clear_error(env):
    result = run("db-url", env={**env, "SALESOP_DATABASE_URL": "mysql://x@y/z"}, check=False)
    assert result.returncode == 1 and "must start with postgresql://" in result.stderr


@pytest.mark.parametrize("command", [("tenant", "list"), ("settings", "show", "--tenant", "shop")])
def test_a_database_that_does_not_answer_is_one_line_without_the_password(env, command):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"postgresql://app:s3cret@127.0.0.1:{port}/salesop"
    result = run(*command, env={**env, "SALESOP_DATABASE_URL": url, "SALESOP_LANGUAGE": "en"}, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"salesop: the database does not answer (postgresql://app:***@127.0.0.1:{port}/salesop): [Errno 111] Connect "
        f"call failed ('127.0.0.1', {port}) — is PostgreSQL running and SALESOP_DATABASE_URL right?"]


def test_db_url_redacts_password(env):
    url = "postgresql://app:s3cret@db.internal:5432/salesop"
    assert run("db-url", env={**env, "SALESOP_DATABASE_URL": url}).stdout.strip() == \
        "postgresql://app:***@db.internal:5432/salesop"


async def test_rotate_key_reencrypts_secrets(env, db_url):
    old_key = env["SALESOP_MASTER_KEY"]
    run("tenant", "create", "--slug", "shop", "--name", "Shop", env=env)
    db = Database(db_url)
    async with db.unit_of_work() as session:
        tenant = await get_tenant(session, "shop")
        session.add(ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id="1",
                                   credentials_enc=SecretBox([old_key]).encrypt("vk1.a.token")))
    out = run("rotate-key", env=env)
    new_key = out.stdout.strip().splitlines()[-1]
    assert "перешифрован 1 секрет" in out.stdout and new_key != old_key  # the default language: Russian
    async with db.unit_of_work() as session:
        stored = (await session.execute(select(ChannelAccount.credentials_enc))).scalar_one()
    await db.dispose()
    assert SecretBox([new_key]).decrypt(stored) == "vk1.a.token"


def test_embedded_database_migrate_and_url(tmp_path):
    """No SALESOP_DATABASE_URL: an embedded PostgreSQL under the data dir, started and stopped by the command."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    env["SALESOP_DATA_DIR"] = str(tmp_path / "var")
    assert run_process("migrate", env=env).stdout.startswith("база данных на версии ")
    url = run_process("db-url", env=env).stdout.strip()
    assert url.startswith("postgresql://postgres@/salesop?host=") and str(tmp_path / "var" / "pgdata") in url
    assert json.loads(run_process("tenant", "list", "--json", env=env).stdout) == []
    key_file = tmp_path / "var" / "master.key"
    assert key_file.exists() and key_file.stat().st_mode & 0o777 == 0o600
