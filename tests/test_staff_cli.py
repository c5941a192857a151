"""`salesop staff` and the owner's link from `salesop tenant create` against a test database; the bot's username comes
from getMe on the sandbox Bot API.

The commands run salesop.cli.main(argv) in this process (tests/clirun.py: the same entry point the console script
runs, the same output, log lines and exit code — and on stderr what a command left open, an HTTP session, as a
process shows it at exit — without a Python start-up and aiogram's imports per call). `salesop staff` runs as a real
process in tests/test_going_live.py."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from core.db import Database
from core.models import Event, Invitation
from core.services import staff
from core.services.tenants import get_tenant
from sandbox.runner import serve
from sandbox.telegram import TelegramSandbox
from tests.clirun import run_cli_async
from tests.conftest import free_port

LINK = re.compile(r"^https://t\.me/(\w+)\?start=(\S+)$", re.M)
START = re.compile(r"/start ([A-Za-z0-9_-]+)")


@pytest.fixture
def env(tmp_path, db_url) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    return {**clean, "SALESOP_DATA_DIR": str(tmp_path / "var"), "SALESOP_DATABASE_URL": db_url,
            "SALESOP_MASTER_KEY": Fernet.generate_key().decode(), "SALESOP_LANGUAGE": "en"}


@pytest.fixture
async def telegram(env):
    """The sandbox Bot API serving in this process; `env` points the CLI at it."""
    sb = TelegramSandbox(limits="off")
    runner, base = await serve(sb.app)
    env.update(SALESOP_BOT_TOKEN=sb.bot_token, SALESOP_TELEGRAM_API_URL=base)
    yield sb
    await runner.cleanup()


async def cli(env: dict, *args: str, ok: bool = True) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `salesop *args`, asynchronously: the sandbox it asks lives in this event loop.
    An exception escaping main — a traceback for a user — fails the test."""
    done = await run_cli_async(env, *args, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    if ok:
        assert done.returncode == 0, f"salesop {' '.join(args)}: {done.stderr}"
    return done.returncode, done.stdout, done.stderr


def one_line_error(result: tuple[int, str, str]) -> str:
    code, _, stderr = result
    assert code == 1 and len(stderr.strip().splitlines()) == 1, stderr
    return stderr.strip()


def link_token(stdout: str, bot_username: str) -> str:
    [(username, token)] = LINK.findall(stdout)
    assert username == bot_username
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", token)  # Telegram's deep-link payload rules
    return token


async def claim(db_url: str, token: str, user_id: int, name: str, language_code: str = "ru") -> staff.Joined:
    """The person opens the link: what the bot's /start <token> does."""
    db = Database(db_url)
    try:
        async with db.unit_of_work() as session:
            return await staff.claim_invitation(session, token, telegram_user_id=user_id, first_name=name,
                                                username=name.lower(), language_code=language_code)
    finally:
        await db.dispose()


async def test_invite_list_role_remove_and_the_last_owner(env, db_url, telegram):
    bot_username = telegram.bot_user["username"]
    _, out, _ = await cli(env, "tenant", "create", "--slug", "shop", "--name", "Shop")
    owner_token = link_token(out, bot_username)
    assert (await claim(db_url, owner_token, 1001, "Olga")).role_code == "owner"

    _, out, _ = await cli(env, "staff", "invite", "--tenant", "shop", "--role", "manager", "--ttl-hours", "2")
    manager_token = link_token(out, bot_username)
    assert "as manager" in out and "single use" in out
    joined = await claim(db_url, manager_token, 1002, "Ivan", "en")
    assert (joined.role_code, joined.locale) == ("manager", "en")
    db = Database(db_url)
    try:
        async with db.unit_of_work() as session:
            invitations = {i.token_hash: i for i in (await session.execute(select(Invitation))).scalars()}
        assert set(invitations) == {staff.token_hash(owner_token), staff.token_hash(manager_token)}
        lifetime = invitations[staff.token_hash(manager_token)].expires_at - datetime.now(UTC)
        assert timedelta(hours=1, minutes=55) < lifetime <= timedelta(hours=2)
        lifetime = invitations[staff.token_hash(owner_token)].expires_at - datetime.now(UTC)
        assert timedelta(days=6, hours=23) < lifetime <= timedelta(days=7)
    finally:
        await db.dispose()

    _, out, _ = await cli(env, "staff", "list", "--tenant", "shop", "--json")
    rows = json.loads(out)
    assert [(r["telegram_user_id"], r["name"], r["username"], r["role"], r["active"]) for r in rows] == [
        (1001, "Olga", "olga", "owner", True), (1002, "Ivan", "ivan", "manager", True)]

    _, out, _ = await cli(env, "staff", "role", "--tenant", "shop", "--telegram-user-id", "1002", "--role", "admin")
    assert out.strip() == "Ivan is now admin."
    _, out, _ = await cli(env, "staff", "remove", "--tenant", "shop", "--telegram-user-id", "1002")
    assert out.startswith("Ivan is removed")
    _, out, _ = await cli(env, "staff", "list", "--tenant", "shop")
    assert out.splitlines() == ["1001  Olga @olga  owner", "1002  Ivan @ivan  admin (removed)"]

    # The only owner can be neither removed nor demoted; nothing changes.
    for args in (("remove", "--tenant", "shop", "--telegram-user-id", "1001"),
                 ("role", "--tenant", "shop", "--telegram-user-id", "1001", "--role", "manager")):
        message = one_line_error(await cli(env, "staff", *args, ok=False))
        assert message == "salesop: The business would be left without an owner: make someone else an owner first."
    _, out, _ = await cli(env, "staff", "list", "--tenant", "shop", "--json")
    assert [(r["role"], r["active"]) for r in json.loads(out)] == [("owner", True), ("admin", False)]

    db = Database(db_url)
    try:
        async with db.unit_of_work() as session:
            tenant = await get_tenant(session, "shop")
            audit = [(e.kind, e.actor_staff_id, e.payload.get("via")) for e in (await session.execute(
                select(Event).where(Event.tenant_id == tenant.id, Event.kind.like("staff_%")).order_by(Event.id)
            )).scalars()]
    finally:
        await db.dispose()
    assert [(kind, via) for kind, _, via in audit] == [
        ("staff_invited", "cli"), ("staff_joined", None), ("staff_invited", "cli"), ("staff_joined", None),
        ("staff_role_changed", "cli"), ("staff_removed", "cli")]
    assert all(actor is None for kind, actor, _ in audit if kind != "staff_joined")


async def test_bad_input_is_one_clear_line(env, telegram):
    await cli(env, "tenant", "create", "--slug", "shop", "--name", "Shop")
    # Refused after asking Telegram (getMe) and the database: one line all the same.
    message = one_line_error(await cli(env, "staff", "invite", "--tenant", "shop", "--role", "boss", ok=False))
    assert message == ("salesop: There is no role “boss”. Roles: owner, admin, manager, analyst, finance, tech, "
                       "viewer.")
    message = one_line_error(await cli(env, "staff", "invite", "--tenant", "nope", "--role", "manager", ok=False))
    assert "'nope'" in message
    message = one_line_error(await cli(env, "staff", "remove", "--tenant", "shop", "--telegram-user-id", "42",
                                       ok=False))
    assert message == "salesop: No staff member 42 here."
    message = one_line_error(await cli(env, "staff", "invite", "--tenant", "shop", "--role", "manager",
                                       "--ttl-hours", "0", ok=False))
    assert "from 1 minute to 90 days" in message
    # In the CLI's default language, Russian.
    message = one_line_error(await cli({**env, "SALESOP_LANGUAGE": "ru"}, "staff", "invite", "--tenant", "shop",
                                       "--role", "директор", ok=False))
    assert message == "salesop: Роли «директор» нет. Роли: owner, admin, manager, analyst, finance, tech, viewer."
    _, out, _ = await cli(env, "staff", "list", "--tenant", "shop", "--json")
    assert json.loads(out) == []


async def test_without_a_bot_the_cli_prints_the_start_command(env, db_url):
    code, out, _ = await cli(env, "tenant", "create", "--slug", "shop", "--name", "Shop", "--json")
    invite = json.loads(out)["owner_invite"]
    assert invite["link"] is None and invite["role"] == "owner"
    _, out, _ = await cli(env, "staff", "invite", "--tenant", "shop", "--role", "viewer")
    assert "https://t.me/" not in out and "SALESOP_BOT_TOKEN" in out
    [token] = START.findall(out)
    assert (await claim(db_url, token, 7, "Vera")).role_code == "viewer"
    # A token is set but Telegram cannot be reached: still a way in, and a word on why there is no link.
    env = {**env, "SALESOP_BOT_TOKEN": "123:abc", "SALESOP_TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}"}
    _, out, _ = await cli(env, "staff", "invite", "--tenant", "shop", "--role", "manager")
    assert "Could not ask Telegram" in out and len(START.findall(out)) == 1
