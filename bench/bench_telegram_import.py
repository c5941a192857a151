"""Telegram-account history import benchmark: the MTProto stand-in (realistic flood limits) in its own process, real
Telethon and the importer here. Prints messages/s and the ratio of the time the stand-in's read budget allows
(3 history requests/s after a burst of 30, 100 messages per request) to the time taken.

    .venv/bin/python bench/bench_telegram_import.py                       # 300 conversations × 60 messages
    .venv/bin/python bench/bench_telegram_import.py --conversations 100

The database is SALESOP_DATABASE_URL when set, else a throwaway embedded PostgreSQL under a temp directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import BenchDatabase  # noqa: E402

PHONE = "+79990000001"
API_ID, API_HASH = 12345, "0123456789abcdef0123456789abcdef"


def _serve(conversations: int, messages: int, answers) -> None:
    """The stand-in in a process of its own (Telegram's CPU is not the importer's). It signs the account in with
    Telethon — phone and code, as a person does — and hands the session string over."""

    async def main() -> None:
        from telethon import TelegramClient
        from telethon.crypto import rsa
        from telethon.sessions import StringSession

        from sandbox.mtproto import MTProtoSandbox

        sandbox = MTProtoSandbox(limits="realistic")
        await sandbox.start()
        account = sandbox.create_account(PHONE, "Bench", "Shop")
        sandbox.seed(account.user.id, conversations, messages)
        rsa.add_key(sandbox.public_key, old=False)
        session = StringSession()
        session.set_dc(2, sandbox.server.host, sandbox.server.port)
        client = TelegramClient(session, API_ID, API_HASH)
        await client.connect()
        await client.send_code_request(PHONE)
        await client.sign_in(PHONE, sandbox.login_code(PHONE))
        string = session.save()
        await client.disconnect()
        sandbox.calls.clear()
        answers.put({"address": sandbox.address, "public_key": sandbox.public_key, "session": string,
                     "user_id": account.user.id})
        await asyncio.Event().wait()  # serve until the benchmark terminates this process

    asyncio.run(main())


async def main(args) -> dict:
    from cryptography.fernet import Fernet

    from core.crypto import SecretBox
    from core.db import Database
    from core.models import ChannelKind
    from core.services import channels as channel_service
    from core.services.tenants import create_tenant
    from core.settings import Settings
    from userbots.importer import run_import, tune_gc_for_bulk_work

    spawn = multiprocessing.get_context("spawn")
    answers = spawn.Queue()
    server = spawn.Process(target=_serve, args=(args.conversations, args.messages, answers), daemon=True)
    server.start()
    stand_in = answers.get(timeout=120)

    database = BenchDatabase()
    db_url = await database.start()
    key = Fernet.generate_key().decode()
    settings = Settings.load(
        data_dir=database.dir / "var", db={"database_url": db_url}, security={"master_key": key},
        telegram={"telegram_api_id": API_ID, "telegram_api_hash": API_HASH,
                  "telegram_mtproto_address": stand_in["address"],
                  "telegram_mtproto_public_key": stand_in["public_key"]})
    secrets = SecretBox([key])
    db = Database(db_url, pool_size=4)
    try:
        async with db.unit_of_work() as session:
            tenant = await create_tenant(session, slug=f"bench-{int(time.time())}", name="Bench")
            await session.flush()
            channel_id = await channel_service.add_channel(
                session, secrets, tenant_id=tenant.id, kind=ChannelKind.TELEGRAM_ACCOUNT,
                external_id=str(stand_in["user_id"]), title="Bench shop", credentials=stand_in["session"])
        tune_gc_for_bulk_work()
        started = time.perf_counter()
        report = await run_import(db, secrets, settings, channel_id, progress=not args.quiet)
        elapsed = time.perf_counter() - started
    finally:
        await db.dispose()
        server.terminate()
        database.stop()
    # What the read budget allows: one history page per dialog (≤ 100 messages each), one dialog-list page per 100
    # dialogs, each pass of the import (the listing, then a catch-up pass over the dialogs touched since it began).
    pages_per_dialog = math.ceil(args.messages / 100)
    requests = args.conversations * pages_per_dialog + 2 * math.ceil((args.conversations + 1) / 100)
    bound_seconds = max(0.0, requests - 30) / 3
    return {
        "conversations": report.conversations,
        "messages": report.messages,
        "seconds": round(elapsed, 1),
        "messages_per_s": round(report.messages / elapsed, 1),
        "read_requests_min": requests,
        "bound_seconds": round(bound_seconds, 1),
        "ratio_to_bound": round(bound_seconds / elapsed, 3) if elapsed else None,
        "status": report.status,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--messages", type=int, default=60)
    parser.add_argument("--quiet", action="store_true")
    print(json.dumps(asyncio.run(main(parser.parse_args())), ensure_ascii=False, indent=2))
