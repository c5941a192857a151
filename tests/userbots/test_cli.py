"""`salesop channel add/list` and `salesop import` as a person runs them: the database from SALESOP_DATABASE_URL,
the VK API from SALESOP_VK_API_URL (the stand-in); salesop.cli.main in this process (tests/clirun.py: the same output
and exit code without a Python start-up per command). `salesop channel add vk` and `salesop import` run as real
processes in tests/test_going_live.py and tests/userbots/test_import.py."""

from __future__ import annotations

import json
import os

import pytest

from core.services.tenants import create_tenant

from tests.clirun import run_cli_async

from .conftest import GROUP


@pytest.fixture
def cli_env(db_url, vk, settings, tmp_path) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    return {**clean, "SALESOP_DATABASE_URL": db_url, "SALESOP_VK_API_URL": vk.api_url,
            "SALESOP_MASTER_KEY": settings.security.master_key.get_secret_value(), "SALESOP_TIME_SCALE": "20",
            "SALESOP_DATA_DIR": str(tmp_path / "var"), "SALESOP_LOG_LEVEL": "WARNING"}


async def salesop(env: dict, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); asynchronously: the VK stand-in it asks lives in this event loop."""
    done = await run_cli_async(env, *args, timeout=120)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
async def tenant(db):
    async with db.unit_of_work() as session:
        await create_tenant(session, slug="shop", name="Магазин")


async def test_add_list_and_import_from_the_command_line(cli_env, vk, tenant):
    vk.sandbox.seed(GROUP, conversations=250, messages_per_conversation=4, seed=3)
    user_token = vk.sandbox.add_user_token(700_000_001)

    code, out, err = await salesop(cli_env, "channel", "add", "vk", "--tenant", "shop", "--group-id", str(GROUP),
                                   "--token", vk.token, "--json")
    assert code == 0, err
    community = json.loads(out)
    assert community["kind"] == "vk_community" and community["title"] == "Магазин «Тест»"

    code, out, err = await salesop(cli_env, "channel", "add", "vk-user", "--tenant", "shop", "--token", user_token)
    assert code == 0, err
    user_channel = int(out.strip())  # without --json: just the id
    assert user_channel != community["id"]

    code, out, err = await salesop(cli_env, "import", str(community["id"]), "--json")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["conversations"], summary["messages"]) == (250, 1000) and summary["seconds"] > 0
    assert "250/250" in err  # the progress bar: done/total on stderr

    code, out, err = await salesop(cli_env, "channel", "list", "--tenant", "shop", "--json")
    assert code == 0, err
    listed = {c["id"]: c for c in json.loads(out)}
    assert listed[community["id"]]["import"] == {"status": "done", "conversations_done": 250,
                                                 "conversations_total": 250, "messages": 1000}
    assert listed[user_channel]["kind"] == "vk_user" and listed[user_channel]["external_id"] == "700000001"
    assert all(vk.token not in json.dumps(c) for c in listed.values())  # credentials are never shown

    code, out, err = await salesop(cli_env, "channel", "list", "--tenant", "shop")
    assert code == 0 and "vk_community" in out and "[импорт: завершён, 250/250 диалогов, 1000 сообщений]" in out

    # the community revoked the token: the next import says what to do, in one line
    vk.sandbox.revoke_token(vk.token)
    code, out, err = await salesop(cli_env, "import", str(community["id"]), "--json")
    assert code == 1 and "VK отклонил токен" in err and "salesop channel add" in err and "Traceback" not in err


async def test_bad_tokens_and_ids_are_one_line_errors(cli_env, vk, tenant):
    code, out, err = await salesop(cli_env, "channel", "add", "vk", "--tenant", "shop", "--group-id", str(GROUP),
                                   "--token", "not-a-token")
    assert code == 1 and err.strip().startswith("salesop: VK отклонил токен (5") and "Traceback" not in err
    code, out, err = await salesop(cli_env, "channel", "add", "vk", "--tenant", "shop", "--group-id", "123",
                                   "--token", vk.token)
    assert code == 1 and f"принадлежит сообществу {GROUP}, а не 123" in err
    code, out, err = await salesop(cli_env, "import", "999")
    assert code == 1 and "нет канала 999" in err
