"""The README's "Running it for real", walked as a new business would: `salesop run` in production mode (a bot token,
no demo) against the Bot API and VK stand-ins, every command the README gives run as a subprocess, and real Telegram
updates — tenant create → the owner opens the printed link → /connect in a forum group → `salesop channel add vk` →
a customer writes at once → topic and card → a manager joins through `salesop staff invite` and answers from the
topic → the customer receives it → a stranger in the group writes and nothing reaches the customer → the manager is
removed → their next reply and button press do nothing, and the group bans them."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys

import aiohttp
import pytest

from sandbox.runner import start_sandbox
from tests.clirun import run_cli_async
from tests.conftest import free_port
from tests.waiting import wait_for

TIME_SCALE = 30.0  # the product and the stand-ins agree on how fast emulated time runs
LINK = re.compile(r"https://t\.me/(\w+)\?start=([A-Za-z0-9_-]{1,64})")
RIGHTS = {"can_manage_topics": True, "can_pin_messages": True, "can_delete_messages": True,
          "can_restrict_members": True}
VK_GROUP = 4242


class Live:
    """The running product, the stand-ins, and the people in them."""

    def __init__(self, stack, env: dict, http: aiohttp.ClientSession, started: asyncio.Task):
        self.stack, self.env, self.http = stack, env, http
        self.started = started  # done once `salesop run` printed "ready"
        self.tg = stack.urls["telegram"]
        self.vk = stack.urls["vk"].removesuffix("/method/")

    async def cli(self, *args: str) -> str:
        """A command the README tells the person to run, as a subprocess; awaited, so the stand-ins in this event loop
        keep answering it (getMe)."""
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "salesop.cli", *args, env=self.env,
                                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 180)
        assert proc.returncode == 0, f"salesop {' '.join(args)}: {err.decode()}"
        assert b"Traceback" not in err
        return out.decode()

    async def ask(self, *args: str) -> str:
        """What the test itself asks the CLI to check a step (`staff list`): in this process (tests/clirun.py), the
        same output without a Python start and the application's imports per question — seconds each on a busy
        machine, several of them while the product waits."""
        result = await run_cli_async(self.env, *args)
        assert result.returncode == 0, f"salesop {' '.join(args)}: {result.stderr}"
        return result.stdout

    async def tg_post(self, path: str, **body) -> dict:
        async with self.http.post(f"{self.tg}/_sandbox{path}", json=body) as resp:
            data = await resp.json()
            assert resp.status == 200, data
            return data

    async def tg_try(self, path: str, **body) -> None:
        """An action the stand-in may refuse (a banned member cannot post): its answer does not matter."""
        async with self.http.post(f"{self.tg}/_sandbox{path}", json=body) as resp:
            await resp.read()

    async def tg_get(self, path: str, **query):
        async with self.http.get(f"{self.tg}/_sandbox{path}", params=query) as resp:
            return await resp.json()

    async def vk_post(self, action: str, **body):
        async with self.http.post(f"{self.vk}/_sandbox/{action}", json=body) as resp:
            data = await resp.json()
            assert data.get("ok"), data
            return data["result"]

    async def vk_sent(self) -> list[dict]:
        async with self.http.get(f"{self.vk}/_sandbox/sent") as resp:
            return await resp.json()

    async def until(self, what: str, probe, timeout: float = 90.0, interval: float = 0.05):
        """Wait for a condition the running product must bring about (polling the stand-ins' read-back, in this
        event loop: a probe costs a request, and the test goes on as soon as the product is done)."""
        return await wait_for(probe, what, timeout=timeout, interval=interval)

    async def said_to(self, user_id: int, needle: str) -> bool:
        return any(needle in (m.get("text") or "") for m in await self.tg_get("/sent", chat_id=user_id))


def _env(tmp_path, stack) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    env.update(
        SALESOP_DATA_DIR=str(tmp_path / "var"),
        SALESOP_WEBAPP_PORT=str(free_port()),
        SALESOP_BOT_TOKEN=stack.telegram.bot_token,
        SALESOP_TELEGRAM_API_URL=stack.urls["telegram"],
        SALESOP_VK_API_URL=stack.urls["vk"],
        SALESOP_TIME_SCALE=str(TIME_SCALE),
        SALESOP_LANGUAGE="en",
    )
    return env


async def _until_ready(proc: subprocess.Popen, log) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, proc.stdout.readline)
        assert line, f"salesop run exited early: {log.read_text()[-3000:]}"
        assert not line.startswith("demo"), "production mode must not run the demo"
        if line.startswith("ready"):
            return


@pytest.fixture
async def live(tmp_path, embedded_data_dir):
    """`salesop run` started, not yet waited for: the test awaits `live.started` where a person would look at the
    first terminal again."""
    embedded_data_dir(tmp_path / "var")  # the database already made; this test is about what comes after
    stack = await start_sandbox(telegram_limits="realistic", time_scale=TIME_SCALE)
    env = _env(tmp_path, stack)
    proc = subprocess.Popen([sys.executable, "-m", "salesop.cli", "run"], stdout=subprocess.PIPE,
                            stderr=open(tmp_path / "run.log", "w"), text=True, env=env)
    started = asyncio.create_task(_until_ready(proc, tmp_path / "run.log"))
    try:
        async with aiohttp.ClientSession() as http:
            yield Live(stack, env, http, started)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            # Waited for in a thread: the stand-ins live in this event loop, and the product's shutdown waits on
            # them (its in-flight getUpdates). A blocking wait held the loop, the shutdown took the whole minute and,
            # on a busy machine, ran the test past pytest-timeout's 300 s.
            await asyncio.get_running_loop().run_in_executor(None, proc.wait, 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        started.cancel()  # a no-op once it finished; its outcome, if the test never awaited it, is not the news
        await asyncio.gather(started, return_exceptions=True)
        await stack.stop()


async def test_a_business_goes_live_by_the_readme(live: Live):
    # 1. The business is created in a second terminal — typed while `salesop run` is still starting: the two
    # process starts overlap, seconds each on a busy machine. The printed link makes whoever opens it the owner.
    out, _ = await asyncio.gather(live.cli("tenant", "create", "--slug", "shop", "--name", "Shop"), live.started)
    bot_username, token = LINK.search(out).groups()
    me = await live.tg_get("/")
    assert bot_username == me["bot"]["username"]
    owner = await live.tg_post("/users", first_name="Olga", username="olga_owner", language_code="ru")
    await live.tg_post(f"/chats/{owner['id']}/messages", user_id=owner["id"], text=f"/start {token}")
    await live.until("the owner is greeted", lambda: live.tg_get("/sent", chat_id=owner["id"]))
    staff = await live.until("the owner is staff", lambda: _staff(live), interval=0.25)
    assert [(s["telegram_user_id"], s["role"], s["active"]) for s in staff] == [(owner["id"], "owner", True)]

    # 2. A forum group with the bot as admin, connected with /connect.
    group = await live.tg_post("/chats", title="Shop managers", is_forum=True, members=[owner["id"]],
                               owner_id=owner["id"])
    chat_id = group["id"]
    await live.tg_post(f"/chats/{chat_id}/bot", rights=RIGHTS, by_user_id=owner["id"])
    await live.tg_post(f"/chats/{chat_id}/messages", user_id=owner["id"], text="/connect shop")
    await live.until("the group is ready", lambda: _group_ready(live, chat_id))

    # 3. A VK community; a customer writes the moment it is added — nothing may be lost. Meanwhile, in a second
    # terminal, the owner invites a manager (step 4): neither command waits for the other, and each process start
    # costs seconds on a busy machine.
    vk_token = await live.vk_post("add_community", group_id=VK_GROUP, name="Shop VK")
    invite = asyncio.create_task(live.cli("staff", "invite", "--tenant", "shop", "--role", "manager"))
    try:
        await live.cli("channel", "add", "vk", "--tenant", "shop", "--group-id", str(VK_GROUP), "--token", vk_token)
        customer = 700_000_001
        await live.vk_post("user_writes", group_id=VK_GROUP, user_id=customer, text="Здравствуйте! Есть доставка?")
        topic = await live.until("a topic with the customer's message",
                                 lambda: _topic_with(live, chat_id, "Есть доставка"), timeout=120)
        out = await invite
    finally:
        invite.cancel()  # a no-op once it finished; else the failure above is what the test reports

    # 4. A manager joins through the invitation and answers from the topic; the customer receives it.
    _, manager_token = LINK.search(out).groups()
    manager = await live.tg_post("/users", first_name="Ivan", username="ivan_sales", language_code="en")
    await live.tg_post(f"/chats/{manager['id']}/messages", user_id=manager["id"], text=f"/start {manager_token}")
    await live.until("the manager is staff", lambda: _is_staff(live, manager["id"]), interval=0.25)
    await live.tg_post(f"/chats/{chat_id}/members", user_id=manager["id"])
    answer = "Да, доставляем по всей России."
    await live.tg_post(f"/chats/{chat_id}/messages", user_id=manager["id"], text=answer, thread_id=topic["id"])
    await live.until("the customer receives the manager's answer", lambda: _vk_got(live, customer, answer))

    # 5. A group member who is not staff writes in the topic: nothing reaches the customer.
    stranger = await live.tg_post("/users", first_name="Random")
    await live.tg_post(f"/chats/{chat_id}/members", user_id=stranger["id"])
    leak = "Пишите мне в личку, дешевле"
    await live.tg_post(f"/chats/{chat_id}/messages", user_id=stranger["id"], text=leak, thread_id=topic["id"])

    # 6. The manager is removed: the group bans them, their next reply and button press do nothing.
    await live.cli("staff", "remove", "--tenant", "shop", "--telegram-user-id", str(manager["id"]))
    # At once, before the ban may have landed: their reply and a button press are refused.
    after = "Это уже не должно уйти"
    await live.tg_try(f"/chats/{chat_id}/messages", user_id=manager["id"], text=after, thread_id=topic["id"])
    card = await _card(live, chat_id, topic["id"])
    if card is not None:
        data = card["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        await live.tg_try(f"/chats/{chat_id}/press", user_id=manager["id"], message_id=card["message_id"],
                          callback_data=data)
    await live.until("the group bans the removed manager", lambda: _banned(live, chat_id, manager["id"]))
    # A marker that everything before it was processed: the owner's own reply goes through after them.
    done = "Спасибо, что написали!"
    await live.tg_post(f"/chats/{chat_id}/messages", user_id=owner["id"], text=done, thread_id=topic["id"])
    await live.until("the owner's reply arrives", lambda: _vk_got(live, customer, done))
    texts = [m["message"] for m in await live.vk_sent() if m.get("peer_id") == customer]
    assert leak not in texts and after not in texts
    assert texts.count(answer) == 1
    staff = {s["telegram_user_id"]: s for s in await _staff(live)}
    assert staff[manager["id"]]["active"] is False


async def _staff(live: Live) -> list[dict]:
    import json

    return json.loads(await live.ask("staff", "list", "--tenant", "shop", "--json"))


async def _is_staff(live: Live, user_id: int) -> bool:
    return any(s["telegram_user_id"] == user_id and s["active"] for s in await _staff(live))


async def _group_ready(live: Live, chat_id: int) -> bool:
    chat = await live.tg_get(f"/chats/{chat_id}")
    return any("✅" in (m.get("text") or "") for m in chat.get("messages", []))


async def _topic_with(live: Live, chat_id: int, needle: str) -> dict | None:
    chat = await live.tg_get(f"/chats/{chat_id}")
    for topic in chat.get("topics", []):
        if any(needle in (m.get("text") or "") for m in topic.get("messages", [])):
            return topic
    return None


async def _card(live: Live, chat_id: int, thread_id: int) -> dict | None:
    chat = await live.tg_get(f"/chats/{chat_id}")
    topic = next(t for t in chat["topics"] if t["id"] == thread_id)
    cards = [m for m in topic.get("messages", []) if m.get("reply_markup")]
    return cards[-1] if cards else None


async def _vk_got(live: Live, user_id: int, text: str) -> bool:
    return any(m.get("peer_id") == user_id and m.get("message") == text for m in await live.vk_sent())


async def _banned(live: Live, chat_id: int, user_id: int) -> bool:
    chat = await live.tg_get(f"/chats/{chat_id}")
    return any(m["user"]["id"] == user_id and m["status"] == "kicked" for m in chat.get("members", []))
