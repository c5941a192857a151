"""Foundation commands: migrate, db-url, tenant create/list, rotate-key, run, sandbox."""

from __future__ import annotations

import argparse
import sys

from core import crypto, migrate
from core.errors import UserError
from core.db import open_database, redact
from core.services import tenants as tenant_service
from core.settings import Settings

from ..cli import print_json
from ..context import app_context


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="apply database migrations (starts the embedded database when needed)")
    p.set_defaults(handler=cmd_migrate)

    p = sub.add_parser("db-url", help="print the effective database URL")
    p.add_argument("--show-password", action="store_true")
    p.set_defaults(handler=cmd_db_url)

    tenant = sub.add_parser("tenant", help="manage tenants").add_subparsers(dest="tenant_cmd", required=True)
    p = tenant.add_parser("create", help="create a tenant with the built-in roles")
    p.add_argument("--slug", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--timezone", default="Europe/Moscow")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_tenant_create)
    p = tenant.add_parser("list", help="list tenants")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_tenant_list)

    p = sub.add_parser("rotate-key", help="re-encrypt every stored secret under a new master key")
    p.set_defaults(handler=cmd_rotate_key)

    p = sub.add_parser("run", help="run everything in one process (sandbox demo when no bot token is set)")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("sandbox", help="run the local Telegram, VK, OpenAI and ElevenLabs stand-ins")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--limits", choices=["off", "realistic", "strict"], default="realistic",
                   help="Telegram rate limits")
    p.add_argument("--time-scale", type=float, default=1.0, help="emulated seconds per real second")
    p.set_defaults(handler=cmd_sandbox)

    p = sub.add_parser("serve", help="run some services (production split: see docker-compose.yml)")
    p.add_argument("services", nargs="+", metavar="SERVICE")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("worker", help="run a task worker on the Redis broker (scale these out)")
    p.set_defaults(handler=cmd_worker)


async def cmd_migrate(settings: Settings, args) -> int:
    handle = open_database(settings)
    try:
        await migrate.upgrade(handle.url)
        heads = await migrate.current_heads(handle.url)
    finally:
        handle.close()
    print(f"database at {', '.join(sorted(heads))}")
    return 0


def cmd_db_url(settings: Settings, args) -> int:
    handle = open_database(settings)
    try:
        print(handle.url if args.show_password else redact(handle.url))
    finally:
        # An embedded server keeps running while another process (e.g. `salesop run`) holds it.
        handle.close()
    return 0


def _tenant_row(t) -> dict:
    return {"id": t.id, "slug": t.slug, "name": t.name, "timezone": t.timezone, "language": t.language,
            "currency": t.currency, "created_at": t.created_at.isoformat() if t.created_at else None}


async def cmd_tenant_create(settings: Settings, args) -> int:
    from . import staff as staff_commands

    username, error = await staff_commands.bot_username(settings)
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.create_tenant(
                session, slug=args.slug, name=args.name, timezone=args.timezone
            )
            await session.flush()
            await session.refresh(tenant)
            row = _tenant_row(tenant)
            # Nobody works here yet: whoever opens this one-time link becomes the owner.
            invite = await staff_commands.staff_service.create_invitation(
                session, tenant.id, "owner", actor=None, via=staff_commands.VIA)
    if args.json:
        print_json({**row, "owner_invite": staff_commands.invite_json(invite, username)})
    else:
        print(f"created tenant {row['slug']} (id {row['id']})")
        for line in staff_commands.invite_lines(invite, username, error, locale=settings.language, owner=True,
                                                tenant_name=row["name"]):
            print(line)
    return 0


async def cmd_tenant_list(settings: Settings, args) -> int:
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            rows = [_tenant_row(t) for t in await tenant_service.list_tenants(session)]
    if args.json:
        print_json(rows)
    elif not rows:
        print("no tenants yet: salesop tenant create --slug shop --name 'My shop'")
    else:
        for r in rows:
            print(f"{r['id']:>5}  {r['slug']:<24} {r['name']}  ({r['timezone']})")
    return 0


async def cmd_rotate_key(settings: Settings, args) -> int:
    async with app_context(settings, run_migrations=True) as ctx:
        new_key, both = crypto.rotation_keys(settings, ctx.secrets, embedded=ctx.embedded)
        async with ctx.db.unit_of_work() as session:
            count = await crypto.reencrypt_all(session, both)
        crypto.finish_rotation(settings, new_key, embedded=ctx.embedded)
    if ctx.embedded and settings.security.master_key is None:
        print(f"re-encrypted {count} secrets; the new key is in {settings.data_dir / crypto.KEY_FILE}")
    else:
        print(f"re-encrypted {count} secrets. Set SALESOP_MASTER_KEY to the new key now:")
        print(new_key)
    return 0


async def cmd_run(settings: Settings, args) -> int:
    from ..runner import run_all

    return await run_all(settings)


async def cmd_sandbox(settings: Settings, args) -> int:
    import asyncio
    import signal

    from sandbox.runner import start_sandbox

    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    stack = await start_sandbox(args.host, telegram_limits=args.limits, time_scale=args.time_scale)
    try:
        for line in stack.lines():
            print(line, flush=True)
        print(f"(sandbox bot token: {stack.telegram.bot_token}; Ctrl-C stops)", file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        await stack.stop()
    return 0


async def cmd_serve(settings: Settings, args) -> int:
    from ..runner import SERVICES, run_all

    unknown = [s for s in args.services if s not in SERVICES]
    if unknown:
        raise UserError(f"unknown service {unknown[0]!r}; choose from: {', '.join(SERVICES)}")
    return await run_all(settings, args.services, worker=False)


async def cmd_worker(settings: Settings, args) -> int:
    from ..runner import run_all

    if not settings.redis.redis_url:
        raise UserError("a worker needs SALESOP_REDIS_URL (without Redis, `salesop run` executes tasks in-process)")
    return await run_all(settings, [], worker=True)
