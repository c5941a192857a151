"""`salesop run` on a fresh machine with no bot token: the offline demo shows the whole loop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import aiohttp
import psutil

from tests.conftest import free_port


async def test_offline_demo_customer_question_reaches_a_topic_with_a_card(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    env.update(SALESOP_DATA_DIR=str(tmp_path / "var"), SALESOP_WEBAPP_PORT=str(free_port()))
    proc = subprocess.Popen([sys.executable, "-m", "salesop.cli", "run"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        lines: dict[str, str] = {}
        while "ready" not in lines:
            line = proc.stdout.readline()
            assert line, "salesop run exited early"
            name, _, rest = line.strip().partition(" ")
            lines[name] = rest.strip()
        assert {"demo", "database", "viewer", "miniapp", "telegram", "vk", "openai", "elevenlabs"} <= set(lines)
        assert {"accounts", "mtproto"} <= set(lines)
        chat_id = lines["viewer"].rsplit("/", 1)[1]
        telegram = lines["telegram"]
        deadline = time.monotonic() + 120
        async with aiohttp.ClientSession() as http:
            # Customers write on VK and on the shop's Telegram account in turn: both become topics with reply cards.
            while True:
                async with http.get(f"{telegram}/_sandbox/chats/{chat_id}") as resp:
                    chat = await resp.json()
                topics = {channel: [t for t in chat["topics"] if t.get("name", "").endswith(channel)]
                          for channel in ("· VK", "· TG")}
                if all(any(_has_card(t) for t in found) for found in topics.values()):
                    break
                assert time.monotonic() < deadline, f"no VK and Telegram topics with reply cards yet: {chat}"
                await asyncio.sleep(1)

            # A manager's plain reply in the Telegram topic reaches the customer through the shop's own account.
            async with http.get(f"{telegram}/_sandbox/users") as resp:
                manager = next(u for u in await resp.json() if u.get("username") == "ivan_sales")
            topic = next(t for t in topics["· TG"] if _has_card(t))
            reply = "Да, есть в наличии — могу отложить для вас до вечера."
            async with http.post(f"{telegram}/_sandbox/chats/{chat_id}/messages", json={
                    "user_id": manager["id"], "text": reply, "thread_id": topic["id"]}) as resp:
                assert resp.status == 200, await resp.text()
            async with http.get(f"{telegram}/_sandbox/accounts") as resp:
                account = (await resp.json())[0]
            while True:
                delivered = []
                async with http.get(f"{telegram}/_sandbox/accounts/{account['id']}/dialogs") as resp:
                    dialogs = await resp.json()
                for dialog in dialogs[:5]:
                    async with http.get(f"{telegram}/_sandbox/accounts/{account['id']}/chats/{dialog['peer']}") as resp:
                        delivered += [m for m in (await resp.json())["messages"] if m["out"] and m["text"] == reply]
                if delivered:
                    break
                assert time.monotonic() < deadline + 30, f"the manager's reply never reached the customer: {dialogs}"
                await asyncio.sleep(1)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 0
    # Ctrl-C stops everything, the embedded PostgreSQL included.
    pgdata = str(tmp_path / "var" / "pgdata")
    assert not [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] and pgdata in " ".join(p.info["cmdline"])]


def _has_card(topic: dict) -> bool:
    return any(m.get("reply_markup") for m in topic.get("messages", []))
