"""History import benchmark: the VK stand-in (rate limits on, 40 ms latency) in its own process, the importer and
PostgreSQL here. Prints conversations/s and the ratio to the 500/s bound (20 requests/s × 25 calls per execute),
messages/s into PostgreSQL, and peak RSS sampled along the way (it must stay flat as history grows).

    .venv/bin/python bench/bench_import.py                      # 200,000 conversations × 20 messages
    .venv/bin/python bench/bench_import.py --conversations 20000

The database is SALESOP_DATABASE_URL when set, else a throwaway embedded PostgreSQL under a temp directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import BenchDatabase  # noqa: E402

GROUP = 90_000_001
BOUND = 20 * 25  # conversations/s a community token allows: 20 requests/s × 25 getHistory per execute


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_vk(port: int, latency_ms: float, ready) -> None:
    """The stand-in in a process of its own, as VK is on other machines: its CPU is not the importer's."""
    from aiohttp import web

    from sandbox.vk import VKSandbox

    sandbox = VKSandbox(limits=True, latency_ms=latency_ms)

    async def main() -> None:
        runner = web.AppRunner(sandbox.app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


async def _control(url: str, action: str, **body) -> dict:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/_sandbox/{action}", json=body) as resp:
            answer = await resp.json()
    if not answer.get("ok"):
        raise RuntimeError(f"sandbox {action}: {answer}")
    return answer.get("result")


class RSSSampler(threading.Thread):
    """Peak RSS of this process, and RSS at every tenth of the import: flat means memory does not grow with history."""

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.peak = 0
        self.samples: list[int] = []
        self.running = True

    def run(self) -> None:
        while self.running:
            rss = self.process.memory_info().rss
            self.peak = max(self.peak, rss)
            self.samples.append(rss)
            time.sleep(self.interval)

    def deciles(self) -> list[float]:
        if not self.samples:
            return []
        step = max(1, len(self.samples) // 10)
        return [round(self.samples[min(k, len(self.samples) - 1)] / 2**20, 1) for k in range(0, len(self.samples), step)]


async def main(args) -> dict:
    from core.crypto import SecretBox
    from core.db import Database
    from core.models import ChannelKind
    from core.services import channels as channel_service
    from core.services.tenants import create_tenant
    from core.settings import Settings
    from cryptography.fernet import Fernet

    from userbots.importer import run_import, tune_gc_for_bulk_work

    port = _free_port()
    ready = multiprocessing.get_context("spawn").Event()
    server = multiprocessing.get_context("spawn").Process(target=_serve_vk, args=(port, args.latency_ms, ready),
                                                          daemon=True)
    server.start()
    if not ready.wait(60):
        raise RuntimeError("the VK stand-in did not start")
    url = f"http://127.0.0.1:{port}"
    token = await _control(url, "add_community", group_id=GROUP, name="Bench shop")
    await _control(url, "seed", group_id=GROUP, conversations=args.conversations,
                   messages_per_conversation=args.messages, seed=7, attachment_every=5)

    database = BenchDatabase()
    db_url = await database.start()
    key = Fernet.generate_key().decode()
    settings = Settings.load(data_dir=database.dir / "var", db={"database_url": db_url},
                             security={"master_key": key}, vk={"vk_api_url": f"{url}/method/"})
    secrets = SecretBox([key])
    db = Database(db_url, pool_size=4)
    try:
        async with db.unit_of_work() as session:
            tenant = await create_tenant(session, slug=f"bench-{int(time.time())}", name="Bench")
            await session.flush()
            channel_id = await channel_service.add_channel(
                session, secrets, tenant_id=tenant.id, kind=ChannelKind.VK_COMMUNITY, external_id=str(GROUP),
                title="Bench shop", credentials=token)
        tune_gc_for_bulk_work()  # as `salesop import` does
        sampler = RSSSampler()
        sampler.start()
        pgdata = database.pgdata
        cpu_before = _cpu_seconds(server.pid, pgdata)
        started = time.perf_counter()
        report = await run_import(db, secrets, settings, channel_id, progress=not args.quiet)
        elapsed = time.perf_counter() - started
        cpu_after = _cpu_seconds(server.pid, pgdata)
        sampler.running = False
        stats = await _control_stats(url)
    finally:
        await db.dispose()
        server.terminate()
        database.stop()
    conv_rate = report.conversations / elapsed
    result = {
        "conversations": report.conversations,
        "messages": report.messages,
        "seconds": round(elapsed, 1),
        "conversations_per_s": round(conv_rate, 1),
        "bound_per_s": BOUND,
        "ratio_to_bound": round(conv_rate / BOUND, 3),
        "messages_per_s": round(report.messages / elapsed, 1),
        "postgres_write_capacity_messages_per_s": round(report.messages / report.write_seconds, 1)
        if report.write_seconds else None,
        "api_requests": report.requests,
        "vk_errors": stats.get("errors"),
        "peak_rss_mb": round(sampler.peak / 2**20, 1),
        "rss_mb_by_tenth": sampler.deciles(),
        "latency_ms": args.latency_ms,
        # Where the cores went: busy share of the wall time per process (1.0 = one core all the time), and the load
        # average at the end — other work on the machine slows the stand-in, and with it the import.
        "cpu_share": {k: round((cpu_after[k] - cpu_before[k]) / elapsed, 2) for k in cpu_after if k in cpu_before},
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    return result


def _cpu_seconds(server_pid: int, pgdata: Path | None) -> dict[str, float]:
    """CPU seconds used so far by the importer, the stand-in and (embedded mode) this benchmark's PostgreSQL."""
    import psutil

    def busy(p) -> float:
        try:
            t = p.cpu_times()
            return t.user + t.system
        except psutil.Error:
            return 0.0

    out = {"importer": busy(psutil.Process()), "vk_stand_in": busy(psutil.Process(server_pid))}
    if pgdata is not None:
        postmaster = next((p for p in psutil.process_iter(["cmdline"])
                           if str(pgdata) in " ".join(p.info["cmdline"] or ())), None)
        if postmaster is not None:
            out["postgres"] = busy(postmaster) + sum(busy(c) for c in postmaster.children(recursive=True))
    return out


async def _control_stats(url: str) -> dict:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/_sandbox/stats") as resp:
            return await resp.json()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=200_000)
    parser.add_argument("--messages", type=int, default=20, help="messages per conversation")
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    options = parser.parse_args()
    outcome = asyncio.run(main(options))
    if options.json:
        print(json.dumps(outcome))
    else:
        for name, value in outcome.items():
            print(f"{name:<40} {value}")
