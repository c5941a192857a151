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
        chat_id = lines["viewer"].rsplit("/", 1)[1]
        deadline = time.monotonic() + 90
        async with aiohttp.ClientSession() as http:
            while True:
                async with http.get(f"{lines['telegram']}/_sandbox/chats/{chat_id}") as resp:
                    chat = await resp.json()
                topics = [t for t in chat["topics"] if t.get("name") != "General"]
                texts = [m.get("text") or "" for t in topics for m in t.get("messages", [])]
                buttons = [m.get("reply_markup") for t in topics for m in t.get("messages", []) if m.get("reply_markup")]
                if topics and buttons and len(texts) >= 3:
                    break
                assert time.monotonic() < deadline, f"no topic with a reply card yet: {chat}"
                await asyncio.sleep(1)
        assert "· VK" in topics[0]["name"]
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 0
    # Ctrl-C stops everything, the embedded PostgreSQL included.
    pgdata = str(tmp_path / "var" / "pgdata")
    assert not [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] and pgdata in " ".join(p.info["cmdline"])]
