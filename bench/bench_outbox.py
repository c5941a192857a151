"""Manager workspace and outbox benchmark, against the sandbox Telegram Bot API with the real aiogram client.

1. Latency (limits off, ours and the sandbox's): from an inbound event (core.inbox.receive, then the mirror task) to its post appearing in
   the dialog's topic. Reported for messages in existing topics and for first messages (topic + pinned card first).
2. Burst (realistic limits, time-scaled): 300 customer messages across 60 dialogs into one manager group. Reports
   the Telegram messages actually sent into the group (sends, edits, topic creations — what the group budget
   counts), the drain time, and the ratio to the bound "messages sent ÷ group budget" (must stay ≤ 1.1), both with
   the customers still writing (live) and with the backlog queued first.
3. Live ingest rate: the burst's messages enter as the userbots feed them (userbots.live.LiveIngest: the inbox
   transaction with its follow-up rows — messages arriving together share one — then the durable task queue running
   the mirror follow-ups, which prepare the topic posts; the AI's drafts are not run), 60 dialogs writing at once.
   Reported as events per second from the first event until every mirror follow-up is done (must be ≥ 300 per
   process), with the machine's load, and per event: the statements on the ingest's connections and the CPU time of
   this process.

Parts 2 and 3 run the sandbox Telegram Bot API in a process of its own (as Telegram is not in ours in production), set
up and read back through its control API: "CPU of this process" is then the product's alone (ingest, dispatcher,
command executors, the aiogram client); the stand-in's CPU is printed apart. Part 1 keeps it in-process (it reads
the posts from the sandbox's memory as they appear). Before each run of parts 2 and 3 a few warm-up dialogs
(--warm-up) are opened and drained, not counted: the figures are those of a process that has run a while, without its
first-use costs (statements compiled for a new engine, the aiogram client's models built).

    .venv/bin/python bench/bench_outbox.py
    .venv/bin/python bench/bench_outbox.py --latency-messages 300 --time-scale 60
    .venv/bin/python bench/bench_outbox.py --only ingest                      # part 3 alone (no drain after it)
    .venv/bin/python bench/bench_outbox.py --only ingest --dialogs 600 --profile /tmp/ingest.prof  # and .prof.live

The database is a throwaway embedded PostgreSQL under a temp directory (SALESOP_DATABASE_URL is not touched).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import threading
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from core import migrate  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402

from taskiq import InMemoryBroker  # noqa: E402

from bot import component  # noqa: E402
from core import followups  # noqa: E402
from core.db import EmbeddedPostgres  # noqa: E402
from core.dispatcher import running  # noqa: E402
from core.models import FollowUp, OutboxCommand  # noqa: E402
from core.ratelimit import TELEGRAM_GROUP  # noqa: E402
from core.tasks import TaskiqQueue  # noqa: E402
from bot.runtime import BotRuntime  # noqa: E402
from bot.setup import build_dispatcher  # noqa: E402
from core.models import ChannelAccount, ChannelKind, ManagerGroup  # noqa: E402
from core.services.tenants import create_tenant  # noqa: E402
from tests.bot.desk import RIGHTS, Desk, _staff, build_desk, close_desk, desk_context  # noqa: E402
from userbots.live import LiveIngest  # noqa: E402

WARM_UP = "Разогрев"  # the warm-up dialogs' customers, left out of the counts
MIRRORS = (followups.MIRROR_MESSAGE.name, followups.REFRESH_CARDS.name)

# Bot API methods the sandbox charges to a group's "20 messages a minute" (sandbox/telegram/botapi.py `_charge`).
GROUP_MESSAGES = ("sendmessage", "sendphoto", "senddocument", "sendvoice", "sendaudio", "sendvideo", "sendvideonote",
                  "sendsticker", "sendanimation", "copymessage", "forwardmessage", "createforumtopic",
                  "editforumtopic", "editmessagetext", "editmessagecaption", "editmessagereplymarkup")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


async def mirrors_done(desk) -> None:
    """Until no mirror follow-up is left (every message's topic posts are queued in the outbox)."""
    while True:
        async with desk.db.unit_of_work() as session:
            left = (await session.execute(
                select(func.count()).select_from(FollowUp).where(FollowUp.kind.in_(MIRRORS)))).scalar_one()
        if not left:
            return
        await asyncio.sleep(0.005)


class RemoteTelegram:
    """The sandbox Telegram Bot API in a child process (`--telegram-sandbox-process`), driven through its control API
    (sandbox/telegram/control.py) — so that its CPU is not this process's."""

    def __init__(self, time_scale: float):
        self.proc = subprocess.Popen([sys.executable, __file__, "--telegram-sandbox-process", "--time-scale",
                                      repr(time_scale)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process did not start")
        self.base, self.bot_token = line.split()
        self.bot_user_id = int(self.bot_token.split(":")[0])
        self.http = None

    async def call(self, method: str, path: str, body: dict | None = None):
        import aiohttp

        if self.http is None:
            self.http = aiohttp.ClientSession()
        async with self.http.request(method, f"{self.base}/_sandbox{path}", json=body) as resp:
            answer = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"{method} {path}: {answer}")
            return answer

    def cpu(self) -> float:
        """CPU seconds the sandbox process used so far (user + system)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)


def serve_telegram_sandbox(time_scale: float) -> None:
    """The child's side: one TelegramSandbox on a free loopback port until SIGTERM; prints `<base-url> <token>`."""
    from sandbox.runner import serve
    from sandbox.telegram import TelegramSandbox

    async def run() -> None:
        sb = TelegramSandbox(limits="off", time_scale=time_scale)
        runner, base = await serve(sb.app)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        # The bench's end closes our stdin, also when it was killed: no sandbox is left behind.
        threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stop.set)), daemon=True).start()
        print(base, sb.bot_token, flush=True)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(run())


async def build_remote_desk(*, database_url: str, master_key: str, data_dir, limits: str, time_scale: float):
    """tests.bot.desk.build_desk with the sandbox in its own process: the same tenant, staff, channel and forum group
    the owner connects by adding the bot. Returns the desk (its `sb` is the RemoteTelegram), a closer."""
    sb = RemoteTelegram(time_scale)
    try:
        ctx, gateway = desk_context(database_url=database_url, master_key=master_key, data_dir=data_dir,
                                    time_scale=time_scale, bot_token=sb.bot_token, api_url=sb.base)
        db = ctx.db
        people = {}
        for key, first, last, username in (("owner", "Ольга", "Владелец", "olga_owner"),
                                           ("manager", "Иван", "Менеджер", "ivan_manager"),
                                           ("viewer", "Вера", "Наблюдатель", "vera_viewer"),
                                           ("outsider", "Посторонний", None, None)):
            people[key] = await sb.call("POST", "/users", {"first_name": first, "last_name": last,
                                                           "username": username})
        async with db.unit_of_work() as session:
            tenant = await create_tenant(session, slug="shop", name="Магазин",
                                         escalation_chat_id=people["owner"]["id"])
            await session.flush()
            for role in ("owner", "manager", "viewer"):
                await _staff(session, tenant.id, role, people[role], people[role]["username"])
            channel = ChannelAccount(tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_ACCOUNT, external_id="555",
                                     title="Магазин")
            session.add(channel)
            await session.flush()
            tenant_id, channel_id = tenant.id, channel.id
        chat = await sb.call("POST", "/chats", {
            "title": "Менеджеры", "bot_rights": None, "owner_id": people["owner"]["id"],
            "members": [people[k]["id"] for k in ("manager", "viewer", "outsider")]})
        me = await ctx.services["manager_bot"].get_me()
        runtime = BotRuntime(db=db, bot_id=sb.bot_user_id, bot_username=me.username,
                             wake_dispatcher=ctx.services["outbox_dispatcher"].wake)
        desk = Desk(sb=sb, ctx=ctx, dp=build_dispatcher(runtime), gateway=gateway, tenant_id=tenant_id,
                    channel_id=channel_id, group_chat_id=chat["id"], owner=people["owner"],
                    manager=people["manager"], viewer=people["viewer"], outsider=people["outsider"],
                    tasks=component.task_handlers(ctx, ctx.services["outbox_dispatcher"].wake))
        await sb.call("POST", f"/chats/{chat['id']}/bot", {"rights": RIGHTS, "by_user_id": people["owner"]["id"]})
        await desk.settle()
        async with db.unit_of_work() as session:
            group = (await session.execute(select(ManagerGroup))).scalar_one()
            assert group.missing_rights == [] and group.tenant_id == tenant_id
        await sb.call("POST", "/limits", {"limits": limits})
    except BaseException:
        await sb.close()
        raise

    async def close() -> None:
        await ctx.services["manager_bot"].session.close()
        await ctx.services["outbox_dispatcher"].db.dispose()
        await ctx.db.dispose()
        await sb.close()

    return desk, close


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def new_database(server: EmbeddedPostgres, name: str) -> str:
    server.psql(f"CREATE DATABASE {name};\n")
    url = server.url(name)
    await migrate.upgrade(url)
    return url


async def wait_for_post(desk, text: str, timeout: float = 10.0) -> float:
    """Real time at which a bot post carrying `text` appears in the manager group."""
    chat = desk.sb.chats[desk.group_chat_id]
    deadline = time.perf_counter() + timeout
    seen = chat.next_message_id
    while time.perf_counter() < deadline:
        for message_id in range(seen - 1, chat.next_message_id):
            record = chat.messages.get(message_id)
            if record is not None and text in (record.msg.get("text") or record.msg.get("caption") or ""):
                return time.perf_counter()
        await asyncio.sleep(0.0005)
    raise TimeoutError(f"no post with {text!r}")


async def latency(url: str, master_key: str, data_dir: Path, messages: int, dialogs: int) -> dict:
    # Limits off on both sides: the sandbox does not limit, and a huge time scale makes our own budgets never bind,
    # so what is measured is the path itself (inbox, task, claim, render, Bot API call).
    desk, resources = await build_desk(database_url=url, master_key=master_key, data_dir=data_dir, limits="off",
                                       time_scale=1e6)
    try:
        customers = [desk.customer(f"Клиент{n:03d}", None) for n in range(dialogs)]
        first, steady = [], []
        async with running(desk.outbox):
            for customer in customers:  # first messages: topic, pinned card, pin, then the post
                text = f"{customer['first_name']}: здравствуйте"
                started = time.perf_counter()
                await desk.customer_writes(customer, text)
                first.append(await wait_for_post(desk, text) - started)
            await asyncio.sleep(0.2)
            for n in range(messages):
                customer = customers[n % dialogs]
                text = f"{customer['first_name']}: вопрос №{n}"
                started = time.perf_counter()
                await desk.customer_writes(customer, text)
                steady.append(await wait_for_post(desk, text) - started)
        return {"first": first, "steady": steady}
    finally:
        await close_desk(resources)


async def burst(url: str, master_key: str, data_dir: Path, time_scale: float, dialogs: int, per_dialog: int,
                *, live: bool, drain: bool = True, profile: str | None = None, warm_up: int = 3) -> dict:
    """live: the customers write while the dispatcher is posting, in this same process and event loop (the drain is
    timed from the first queued command, and separately from the first inbound event). Otherwise the whole backlog
    is queued first (a bot that was down, a flood wait) and the drain is timed from the dispatcher's start."""
    desk, close = await build_remote_desk(database_url=url, master_key=master_key, data_dir=data_dir,
                                          limits="realistic", time_scale=time_scale)
    sb = desk.sb
    try:
        # Warm-up, not counted: a few dialogs opened and drained first, so that what follows is measured warm
        # (statements compiled for this engine, the aiogram client's models built) as in a process that has run
        # for a while; otherwise the dispatcher's first-use costs fall into the live ingest's short window.
        customers = [await sb.call("POST", "/users", {"first_name": f"Клиент{n:02d}"}) for n in range(dialogs)]
        # The live path as the userbots run it: the durable in-process task queue with the bot's handlers.
        queue = TaskiqQueue(InMemoryBroker(), db=desk.db)
        for name, handler in component.task_handlers(desk.ctx, desk.outbox.wake).items():
            queue.register(name, handler)
        await queue.startup()
        ingest = LiveIngest(desk.db, queue)
        for n in range(warm_up):
            warm = await sb.call("POST", "/users", {"first_name": f"{WARM_UP}{n}"})
            for round_ in (1, 2):
                await ingest.message(desk.inbound(warm, f"{WARM_UP}{n} №{round_}"), dedup=("warm", f"{n}:{round_}"))
        await mirrors_done(desk)
        await desk.outbox.drain(timeout=600)
        stats = await sb.call("GET", "/stats")
        before, limited_before = dict(stats["requests"]), stats["too_many_requests"]
        commands_before = desk.outbox.stats.commands
        async with desk.db.unit_of_work() as session:
            last_id = (await session.execute(select(func.coalesce(func.max(OutboxCommand.id), 0)))).scalar_one()
        # What one event costs this process: statements on the ingest's connections (inbox, follow-up rows, mirrors;
        # the dispatcher has its own pool) and Python CPU time, from the first event until the mirrors are done.
        statements = [0]

        def count(*_):
            statements[0] += 1

        event.listen(desk.db.engine.sync_engine, "before_cursor_execute", count)

        async def write(customer: dict, round_: int) -> None:
            await ingest.message(desk.inbound(customer, f"{customer['first_name']} №{round_}"),
                                 dedup=("bench", f"{customer['id']}:{round_}"))

        async def write_all() -> None:
            for round_ in range(1, per_dialog + 1):
                await asyncio.gather(*(write(c, round_) for c in customers))
            await mirrors_done(desk)

        profiler = None
        if profile is not None:
            import cProfile

            profiler = cProfile.Profile(time.process_time)  # CPU, not wall time: the machine is shared
            profiler.enable()
        wall0, started, cpu0, sandbox_cpu0 = time.time(), time.perf_counter(), time.process_time(), sb.cpu()
        if live:
            async with running(desk.outbox):
                await write_all()
                written = time.perf_counter()
            ingest = written - started
        else:
            await write_all()
            written = time.perf_counter()
            ingest = written - started
            started = written
        cpu, ingest_statements = time.process_time() - cpu0, statements[0]
        window_commands = desk.outbox.stats.commands - commands_before  # completed while the ingest was timed
        sandbox_cpu = sb.cpu() - sandbox_cpu0
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        event.remove(desk.db.engine.sync_engine, "before_cursor_execute", count)
        if not drain:  # the ingest figures only (--only ingest)
            await queue.shutdown()
            return {"ingest": ingest, "events": dialogs * per_dialog, "cpu": cpu, "statements": ingest_statements,
                    "sandbox_cpu": sandbox_cpu, "window_commands": window_commands, "load": load()}
        await desk.outbox.drain(timeout=600)
        finished = time.perf_counter()
        async with desk.db.unit_of_work() as session:
            first_queued = (await session.execute(
                select(func.min(OutboxCommand.created_at)).where(OutboxCommand.id > last_id))).scalar_one()
        queued_at = started + (first_queued.timestamp() - wall0) if live else started
        stats = await sb.call("GET", "/stats")
        requests = stats["requests"]
        calls = sum(requests.get(m, 0) - before.get(m, 0) for m in requests if m.lower() in GROUP_MESSAGES)
        too_many = stats["too_many_requests"] - limited_before
        sent = calls - too_many  # a 429 answer sent nothing
        lost = 0
        group = await sb.call("GET", f"/chats/{desk.group_chat_id}")  # as Desk.live_topics and Desk.thread read it
        topics = [t for t in group["topics"] if t["id"] != 1 and not t["deleted"] and WARM_UP not in t["name"]]
        for topic in topics:
            name = topic["name"].split(" ", 1)[1].split(" · ")[0]
            text = "\n\n".join(m["text"] or "" for m in group["messages"]
                               if m["thread_id"] == topic["id"] and not m["service"] and not m["deleted"]
                               and not m["pinned"])
            lost += text != "\n\n".join(f"{name} №{n}" for n in range(1, per_dialog + 1))
        bound = sent / (TELEGRAM_GROUP.count / TELEGRAM_GROUP.per_seconds) / time_scale
        await queue.shutdown()
        return {"sent": sent, "drain": finished - queued_at, "end_to_end": finished - started, "bound": bound,
                "ingest": ingest, "events": dialogs * per_dialog, "cpu": cpu, "statements": ingest_statements,
                "sandbox_cpu": sandbox_cpu, "window_commands": window_commands, "too_many": too_many, "lost": lost, "topics": len(topics),
                "commands": desk.outbox.stats.commands - commands_before, "load": load()}
    finally:
        await close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-messages", type=int, default=200)
    parser.add_argument("--latency-dialogs", type=int, default=20)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--dialogs", type=int, default=60)
    parser.add_argument("--per-dialog", type=int, default=5)
    parser.add_argument("--only", choices=("all", "ingest"), default="all",
                        help="ingest: part 3 alone — the live ingest figures, without the latency runs and the drains")
    parser.add_argument("--warm-up", type=int, default=3, metavar="DIALOGS",
                        help="dialogs opened and drained before each burst, not counted (0: measure cold)")
    parser.add_argument("--profile", metavar="PATH",
                        help="cProfile the ingest with the dispatcher stopped into PATH, while it drained into "
                             "PATH.live (pstats format)")
    parser.add_argument("--telegram-sandbox-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    only_ingest = args.only == "ingest"

    master_key = Fernet.generate_key().decode()
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg")
        server.start()
        try:
            lat = None if only_ingest else await latency(
                await new_database(server, "latency"), master_key, Path(tmp) / "var1", args.latency_messages,
                args.latency_dialogs)
            results = {
                live: await burst(await new_database(server, f"burst_{int(live)}"), master_key,
                                  Path(tmp) / f"var_{int(live)}", args.time_scale, args.dialogs, args.per_dialog,
                                  live=live, drain=not only_ingest, warm_up=args.warm_up,
                                  profile=None if args.profile is None else f"{args.profile}{'.live' if live else ''}")
                for live in (True, False)
            }
        finally:
            server.stop()

    ms = lambda seconds: f"{seconds * 1000:.1f} ms"  # noqa: E731
    print(f"machine: {load()} (at the end)")
    if lat is not None:
        print("inbound event → topic post (limits off)")
        for label, values in (("message in an existing topic", lat["steady"]),
                              ("first message (new topic)", lat["first"])):
            print(f"  {label:<30} n={len(values):<4} p50 {ms(statistics.median(values)):>9}   "
                  f"p95 {ms(percentile(values, 95)):>9}")
    for live, result in results.items():
        if only_ingest:
            print(f"live ingest: {result['events']} messages across {args.dialogs} dialogs "
                  f"({args.per_dialog} each, the first opening the dialog), after {args.warm_up} warm-up dialogs "
                  f"drained (not counted)")
            print_ingest(result, live)
            continue
        how = "customers writing while it drains" if live else "backlog queued first"
        print(f"burst ({how}): {args.dialogs * args.per_dialog} messages across {args.dialogs} dialogs, one group, "
              f"realistic limits, time scale {args.time_scale:g}, after {args.warm_up} warm-up dialogs drained "
              f"(not counted)")
        print(f"  Telegram messages sent into the group  {result['sent']}  (for {result['commands']} outbox commands)")
        print(f"  budget bound (sent ÷ 20/min)            {result['bound']:.2f} s real  "
              f"({result['bound'] * args.time_scale / 60:.1f} emulated min)")
        print(f"  drain time                              {result['drain']:.2f} s real  → ratio "
              f"{result['drain'] / result['bound']:.3f} (must be ≤ 1.1)")
        if live:
            print(f"  from the first inbound event            {result['end_to_end']:.2f} s real  → ratio "
                  f"{result['end_to_end'] / result['bound']:.3f}")
        print_ingest(result, live)
        print(f"  429 answers {result['too_many']}, topics {result['topics']}, dialogs with lost or reordered "
              f"messages {result['lost']}")


def print_ingest(result: dict, live: bool) -> None:
    rate = result["events"] / result["ingest"]
    print(f"  live ingest: {result['events']} events (inbox + follow-up rows + mirrors) in {result['ingest']:.2f} s"
          f" → {rate:.0f} events/s {'while the dispatcher drained' if live else 'with the dispatcher stopped'}"
          f" (must be ≥ 300); {result['load']}")
    print(f"    per event: {result['statements'] / result['events']:.1f} statements, "
          f"{result['cpu'] / result['events'] * 1000:.1f} ms CPU of this process"
          f"{' (the dispatcher and its command executors included)' if live else ''}; "
          f"the Telegram stand-in (own process) {result['sandbox_cpu'] / result['events'] * 1000:.1f} ms")
    if live:  # the dispatcher's share grows with the commands it completed in the window, not with the events
        print(f"    outbox commands completed meanwhile: {result['window_commands']} (the dispatcher's CPU is "
              f"spent per command: compare with the stopped run's CPU per event)")


if __name__ == "__main__":
    if "--telegram-sandbox-process" in sys.argv:  # the child RemoteTelegram starts
        serve_telegram_sandbox(float(sys.argv[sys.argv.index("--time-scale") + 1]))
    else:
        asyncio.run(main())
