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
            # The shop's second Telegram account has connected the bot through Telegram Business.
            async with http.get(f"{telegram}/_sandbox/business") as resp:
                connections = await resp.json()
            assert len(connections) == 1 and connections[0]["is_enabled"]
            business_account = connections[0]["user"]["id"]

            # Customers write on VK, on the shop's Telegram account (userbot) and on its Telegram Business account in
            # turn: all three become topics with reply cards.
            while True:
                async with http.get(f"{telegram}/_sandbox/chats/{chat_id}") as resp:
                    chat = await resp.json()
                business = await _business_customers(http, telegram, business_account)
                topics = {channel: [t for t in chat["topics"] if t.get("name", "").endswith(channel)]
                          for channel in ("· VK", "· TG")}
                topics["business"] = [t for t in topics["· TG"] if _named(t, business)]
                topics["· TG"] = [t for t in topics["· TG"] if not _named(t, business)]
                if all(any(_has_card(t) for t in found) for found in topics.values()):
                    break
                assert time.monotonic() < deadline, f"no VK, Telegram and Business topics with reply cards yet: {chat}"
                await asyncio.sleep(1)

            # A manager's reply in a Business customer's topic reaches them from the shop's account, through the bot.
            async with http.get(f"{telegram}/_sandbox/users") as resp:
                manager = next(u for u in await resp.json() if u.get("username") == "ivan_sales")
            topic = next(t for t in topics["business"] if _has_card(t))
            answer = "Здравствуйте! Да, доставим завтра."
            async with http.post(f"{telegram}/_sandbox/chats/{chat_id}/messages", json={
                    "user_id": manager["id"], "text": answer, "thread_id": topic["id"]}) as resp:
                assert resp.status == 200, await resp.text()
            customer = business[_named(topic, business)]
            while True:
                async with http.get(f"{telegram}/_sandbox/business/{business_account}/chats/{customer}") as resp:
                    messages = (await resp.json())["messages"]
                if any(m["by_bot"] and m["text"] == answer for m in messages):
                    break
                assert time.monotonic() < deadline + 30, f"the reply never reached the Business chat: {messages}"
                await asyncio.sleep(1)

            # A manager's plain reply in the Telegram topic reaches the customer through the shop's own account.
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


async def _business_customers(http: aiohttp.ClientSession, telegram: str, account: int) -> dict[str, int]:
    """The topic name ("Name · TG") of each user who wrote to the Business account, and their user id."""
    async with http.get(f"{telegram}/_sandbox/users") as resp:
        users = [u for u in await resp.json() if u["id"] != account and not u.get("is_bot")]
    found = {}
    for user in users:
        async with http.get(f"{telegram}/_sandbox/business/{account}/chats/{user['id']}") as resp:
            messages = (await resp.json())["messages"]
        if any(m["from"]["id"] == user["id"] for m in messages):
            name = " ".join(p for p in (user["first_name"], user.get("last_name")) if p)
            found[f"{name} · TG"] = user["id"]
    return found


def _named(topic: dict, names: dict[str, int]) -> str | None:
    """Which of `names` the topic is named after (its name starts with the dialog's status icon)."""
    return next((name for name in names if topic["name"].endswith(" " + name)), None)


def _has_card(topic: dict) -> bool:
    return any(m.get("reply_markup") for m in topic.get("messages", []))
