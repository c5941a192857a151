"""The long fault-injection soak (tests/test_faults.py is its short form; both use tests/faults_harness.py).

The product runs as production runs it — `salesop serve bot userbots` and two `salesop worker` processes over Redis,
on a PostgreSQL this script owns — against the Bot API, VK and MTProto stand-ins. VK and Telegram-account customers
write, a manager answers in the topics, and at random points of progress (counts of customer messages the product
has stored, never wall-clock times) the script:

- kills processes with SIGKILL (one, two or all three; sometimes customers write while nothing runs),
- kills Redis and starts it again empty, stops and starts PostgreSQL while customers write,
- makes the Bot API answer storms of 429 (with retry_after), 500 and 502,
- makes VK's long poll fail (key expired, history outdated, information lost) and messages.send fail (6, 10).

- kills the bot while the Bot API answers getMe with 500 (it must wait the storm out, not crash-loop).

Then every customer message, topic post, card and manager reply is compared with what the stand-ins recorded, and
the figures are printed: kills, messages, replies, lost, duplicated, and the product's own count of sends it made
again not knowing whether the first arrived (unconfirmed sends: the bot killed between a Bot API call and its
record). Exit code 1 when anything was lost, or duplicated without the product counting it.

    .venv/bin/python bench/soak_faults.py [--messages 300] [--kills 24] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.faults_harness import Fault, Soak, run_plan  # noqa: E402

SEND_METHODS = ["sendMessage", "createForumTopic", "editForumTopic", "editMessageText", "editMessageReplyMarkup",
                "pinChatMessage", "setMessageReaction"]
KILL_SETS = [["bot"], ["worker1"], ["worker2"], ["bot", "worker1"], ["worker1", "worker2"],
             ["bot", "worker1", "worker2"]]


def plan(rng: random.Random, messages: int, kills: int) -> list[Fault]:
    """Faults at random points of progress, spread over the run."""
    def at() -> int:
        return rng.randint(2, max(3, messages - 4))

    faults: list[Fault] = []
    for _ in range(kills):
        names, writes = rng.choice(KILL_SETS), rng.choice([0, 0, 1, 2, 3])
        faults.append(Fault(at(), f"kill -9 {'+'.join(names)}" + (f" (customers write {writes})" if writes else ""),
                            _kill(names, writes)))
    for _ in range(2):
        faults.append(Fault(at(), "Redis restarted empty", _redis(rng.randint(0, 3))))
        faults.append(Fault(at(), "PostgreSQL stopped and started", _postgres(rng.randint(1, 4))))
    for status, count in ((429, 8), (429, 5), (502, 6), (500, 4)):
        faults.append(Fault(at(), f"Bot API {status} storm ×{count}",
                            _storm(status, count, methods=SEND_METHODS if status == 429 else None,
                                   retry_after=rng.randint(1, 4))))
    for failed in (2, 1, 3, 2):
        faults.append(Fault(at(), f"VK long poll failed {failed}", _longpoll(failed)))
    for code in (6, 10):
        faults.append(Fault(at(), f"VK messages.send error {code} ×2", _vk_api("messages.send", code, 2)))
    faults.append(Fault(at(), "kill -9 bot into a getMe 500 storm ×6", _kill_into_storm("bot", 500, 6, ["getMe"])))
    return faults


def _kill_into_storm(name: str, status: int, count: int, methods: list[str]):
    async def action(soak: Soak):
        soak.kill(name, hold=True)
        await soak.telegram_storm(status, count, methods=methods)
        soak.procs[name].release()
        await soak.all_ready()

    return action


def _kill(names: list[str], writes: int):
    async def action(soak: Soak):
        if writes:
            await soak.kill_and_write(names, writes)
        else:
            for name in names:
                soak.kill(name)
        await soak.all_ready()

    return action


def _redis(writes: int):
    async def action(soak: Soak):
        await soak.restart_redis(writes)

    return action


def _postgres(writes: int):
    async def action(soak: Soak):
        await soak.restart_postgres(writes)

    return action


def _storm(status: int, count: int, **kw):
    async def action(soak: Soak):
        await soak.telegram_storm(status, count, **kw)

    return action


def _longpoll(failed: int):
    async def action(soak: Soak):
        await soak.vk_longpoll_fails(failed)

    return action


def _vk_api(method: str, code: int, times: int):
    async def action(soak: Soak):
        await soak.vk_api_fails(method, code, times)

    return action


async def main(args) -> int:
    rng = random.Random(args.seed)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="salesop-soak-"))
    started = time.monotonic()

    def progress(line: str) -> None:
        print(f"[{time.monotonic() - started:6.0f} s] {line}", flush=True)

    faults = plan(rng, args.messages, args.kills)
    progress(f"working in {workdir}; {len(faults)} faults planned")
    async with Soak(workdir, vk_customers=args.vk, tg_customers=args.tg, workers=2, seed=args.seed) as soak:
        progress("the product is up")
        await run_plan(soak, messages=args.messages, replies_every=args.replies_every, faults=faults,
                       progress=progress, timeout=300)
        progress("customers are done; waiting for the product to catch up")
        try:
            await soak.settle(timeout=600)
        except TimeoutError as error:  # something was lost: the report below says what
            progress(str(error))
        report = await soak.check()
    print()
    print(f"fault soak: {args.vk} VK + {args.tg} Telegram-account customers, seed {args.seed}")
    for line in report.lines():
        print(line)
    for line in report.details:
        print("  " + line)
    uncounted = (report.stored_twice or report.replies_twice or report.posts_twice != report.posts_resent
                 or report.duplicated > report.unconfirmed_sends)
    return 1 if report.lost or uncounted else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--kills", type=int, default=24)
    parser.add_argument("--replies-every", type=int, default=4)
    parser.add_argument("--vk", type=int, default=8)
    parser.add_argument("--tg", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir")
    sys.exit(asyncio.run(main(parser.parse_args())))
