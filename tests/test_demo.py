"""`salesop run` on a fresh machine with no bot token: the offline demo shows the whole loop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import aiohttp
import asyncpg
import psutil

from core.db import EMBEDDED_DB_NAME
from core.i18n import t
from tests.conftest import free_port
from tests.waiting import wait_for


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
        async with aiohttp.ClientSession() as http:
            # The shop's Telegram account is connected both ways: the userbot (signed in through MTProto) and the
            # Telegram Business connection of the same account to the manager bot.
            async with http.get(f"{telegram}/_sandbox/accounts") as resp:
                accounts = await resp.json()
            assert len(accounts) == 1
            account = accounts[0]["id"]
            async with http.get(f"{telegram}/_sandbox/business") as resp:
                connections = await resp.json()
            assert len(connections) == 1 and connections[0]["is_enabled"]
            assert connections[0]["user"]["id"] == account, "the Business connection is not the userbot's account"

            async def get(path: str):
                async with http.get(f"{telegram}/_sandbox{path}") as resp:
                    return await resp.json()

            # Customers write on VK and on the shop's Telegram account in turn: both become topics with reply cards.
            async def topics_with_cards():
                chat = await get(f"/chats/{chat_id}")
                topics = {channel: [t for t in chat["topics"] if t.get("name", "").endswith(channel)]
                          for channel in ("· VK", "· TG")}
                found = any(_has_card(t) for t in topics["· VK"]) and any(_draft(t) for t in topics["· TG"])
                return topics if found else None, chat

            topics = await _poll(topics_with_cards, "VK and Telegram topics with reply cards", timeout=120)

            # A manager sends the AI's draft in the Telegram topic: the customer wrote a moment ago, so the reply goes
            # through Telegram Business (the bot answers on the account's behalf) — one message of the account, which
            # its MTProto sessions see too — and the reply card says which way it went.
            async with http.get(f"{telegram}/_sandbox/users") as resp:
                manager = next(u for u in await resp.json() if u.get("username") == "ivan_sales")
            topic = next(t for t in topics["· TG"] if _draft(t))
            card_id, send, reply = _draft(topic)
            async with http.post(f"{telegram}/_sandbox/chats/{chat_id}/press", json={
                    "user_id": manager["id"], "message_id": card_id, "callback_data": send}) as resp:
                assert resp.status == 200, await resp.text()

            async def reply_delivered():
                delivered = []
                dialogs = await get(f"/accounts/{account}/dialogs")
                for dialog in dialogs[:5]:
                    messages = (await get(f"/accounts/{account}/chats/{dialog['peer']}"))["messages"]
                    delivered += [(dialog["peer"], m) for m in messages if m["out"] and m["text"] == reply]
                return delivered, dialogs

            delivered = await _poll(reply_delivered, "the reply reaching the customer", timeout=60)
            assert len(delivered) == 1, f"the reply was sent more than once: {delivered}"
            customer = delivered[0][0]
            async with http.get(f"{telegram}/_sandbox/business/{account}/chats/{customer}") as resp:
                business_chat = (await resp.json())["messages"]
            assert [m for m in business_chat if m["text"] == reply and m["by_bot"]], \
                f"the reply did not go through Telegram Business: {business_chat}"
            assert any(m["from"]["id"] == customer for m in business_chat), "the bot never saw the customer write"
            via = t("reply.via.telegram_business", "ru")

            async def card_says_via():
                chat = await get(f"/chats/{chat_id}")
                shown = next(x for x in chat["topics"] if x["id"] == topic["id"])
                card = next(m for m in shown["messages"] if m["message_id"] == card_id)
                return via in (card.get("text") or ""), card

            await _poll(card_says_via, f"'{via}' on the reply card", timeout=60)

            # A manager's plain reply in the topic reaches the same customer from the shop's account too.
            answer = "Да, есть в наличии — могу отложить для вас до вечера."
            async with http.post(f"{telegram}/_sandbox/chats/{chat_id}/messages", json={
                    "user_id": manager["id"], "text": answer, "thread_id": topic["id"]}) as resp:
                assert resp.status == 200, await resp.text()

            async def answer_delivered():
                messages = (await get(f"/accounts/{account}/chats/{customer}"))["messages"]
                return any(m["out"] and m["text"] == answer for m in messages), messages

            await _poll(answer_delivered, "the manager's reply reaching the customer", timeout=60)

        # One account, one world: the customer (who wrote to the account, seen by the userbot and the bot) has one
        # dialog, under the userbot's channel (the home, connected first), and each of their messages is stored once.
        db = await _embedded_database(tmp_path / "var" / "pgdata")
        try:
            channels = dict(await db.fetch("SELECT kind, id FROM channel_accounts WHERE external_id = $1",
                                           str(account)))
            assert set(channels) == {"telegram_account", "telegram_business"}, channels
            found = await db.fetch("SELECT d.id, d.channel_id FROM dialogs d JOIN channel_accounts c "
                                   "ON c.id = d.channel_id WHERE c.external_id = $1 AND d.external_chat_id = $2",
                                   str(account), str(customer))
            assert [r["channel_id"] for r in found] == [channels["telegram_account"]], found
            counts = await db.fetchrow("SELECT count(*) AS n, count(DISTINCT external_id) AS ids FROM messages "
                                       "WHERE dialog_id = $1 AND direction = 'in'", found[0]["id"])
            assert counts["n"] >= 1 and counts["n"] == counts["ids"], dict(counts)
        finally:
            await db.close()
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 0
    # Ctrl-C stops everything, the embedded PostgreSQL included.
    pgdata = str(tmp_path / "var" / "pgdata")
    assert not [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] and pgdata in " ".join(p.info["cmdline"])]


async def _poll(probe, what: str, timeout: float):
    """tests.waiting.wait_for on `probe() -> (value, what it saw)`: the test goes on soon after the product is done,
    and a timeout's message shows what the stand-in held last. Every 0.25 s: the stand-ins answer in the product's
    own event loop, and a probe (a whole chat, or six requests) takes its time there."""
    last = {}

    async def value():
        found, last["seen"] = await probe()
        return found

    try:
        return await wait_for(value, what, timeout=timeout, interval=0.25)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen: {last.get('seen')}") from None


def _draft(topic: dict) -> tuple[int, str, str] | None:
    """The topic's reply card waiting for a manager: its message id, its Send button's data and the draft's text (the
    Edit button's inline query is "#<id> <text>")."""
    for message in topic.get("messages", []):
        buttons = [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
        send = next((b["callback_data"] for b in buttons if b.get("callback_data", "").startswith("s:send:")), None)
        edit = next((b["switch_inline_query_current_chat"] for b in buttons
                     if "switch_inline_query_current_chat" in b), None)
        if send and edit:
            return message["message_id"], send, edit.partition(" ")[2]
    return None


def _has_card(topic: dict) -> bool:
    return any(m.get("reply_markup") for m in topic.get("messages", []))


async def _embedded_database(pgdata) -> asyncpg.Connection:
    """The demo's embedded PostgreSQL, found from its postmaster.pid (port on line 4, socket directory on line 5)."""
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    return await asyncpg.connect(host=lines[4], port=int(lines[3]), user="postgres", database=EMBEDDED_DB_NAME)
