"""Foundation commands: migrate, db-url, tenant create/list, rotate-key, run, sandbox."""

from __future__ import annotations

import argparse
import sys

from core import crypto
from core.errors import UserError
from core.db import open_database, redact
from core.i18n import DEFAULT_LOCALE, t, translator
from core.services import tenants as tenant_service
from core.settings import Settings

from ..cli import print_json
from ..context import app_context
from ..runner import SERVICES


def register(sub: argparse._SubParsersAction, locale: str = DEFAULT_LOCALE) -> None:
    _ = translator(locale)

    p = sub.add_parser("migrate", help=_("cli.help.migrate"))
    p.set_defaults(handler=cmd_migrate)

    p = sub.add_parser("db-url", help=_("cli.help.db_url"))
    p.add_argument("--show-password", action="store_true", help=_("cli.help.show_password"))
    p.set_defaults(handler=cmd_db_url)

    tenant = sub.add_parser("tenant", help=_("cli.help.tenant")).add_subparsers(dest="tenant_cmd", required=True)
    p = tenant.add_parser("create", help=_("cli.help.tenant_create"))
    p.add_argument("--slug", required=True, help=_("cli.help.slug"))
    p.add_argument("--name", required=True, help=_("cli.help.name"))
    p.add_argument("--timezone", default="Europe/Moscow", help=_("cli.help.timezone"))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.set_defaults(handler=cmd_tenant_create)
    p = tenant.add_parser("list", help=_("cli.help.tenant_list"))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.set_defaults(handler=cmd_tenant_list)

    p = sub.add_parser("rotate-key", help=_("cli.help.rotate_key"))
    p.set_defaults(handler=cmd_rotate_key)

    p = sub.add_parser("run", help=_("cli.help.run"))
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("sandbox", help=_("cli.help.sandbox"))
    p.add_argument("--host", default="127.0.0.1", help=_("cli.help.host"))
    p.add_argument("--limits", choices=["off", "realistic", "strict"], default="realistic", help=_("cli.help.limits"))
    p.add_argument("--time-scale", type=float, default=1.0, help=_("cli.help.time_scale"))
    p.set_defaults(handler=cmd_sandbox)

    p = sub.add_parser("serve", help=_("cli.help.serve"))
    p.add_argument("services", nargs="+", metavar="SERVICE",
                   help=_("cli.help.services", choices=", ".join(SERVICES)))
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("worker", help=_("cli.help.worker"))
    p.set_defaults(handler=cmd_worker)


async def cmd_migrate(settings: Settings, args) -> int:
    from core import migrate  # alembic: imported by the commands that migrate, not by every `salesop` start

    handle = open_database(settings)
    try:
        await migrate.upgrade(handle.url)
        heads = await migrate.current_heads(handle.url)
    finally:
        handle.close()
    print(t("cli.base.migrated", settings.language, heads=", ".join(sorted(heads))))
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
        print(t("cli.base.tenant_created", settings.language, slug=row["slug"], id=row["id"]))
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
        print(t("cli.base.no_tenants", settings.language))
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
        print(t("cli.base.rotated_file", settings.language, count=count,
                path=str(settings.data_dir / crypto.KEY_FILE)))
    else:
        print(t("cli.base.rotated_env", settings.language, count=count))
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
        # "sandbox bot token: <token>;" is read by scripts; the rest is for the person.
        print(f"(sandbox bot token: {stack.telegram.bot_token}; {t('cli.base.sandbox_stop', settings.language)})",
              file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        await stack.stop()
    return 0


async def cmd_serve(settings: Settings, args) -> int:
    from ..runner import run_all

    unknown = [s for s in args.services if s not in SERVICES]
    if unknown:
        raise UserError(f"unknown service {unknown[0]!r}; choose from: {', '.join(SERVICES)}",
                        code="cli.base.unknown_service", service=unknown[0], choices=", ".join(SERVICES))
    return await run_all(settings, args.services, worker=False)


async def cmd_worker(settings: Settings, args) -> int:
    from ..runner import run_all

    if not settings.redis.redis_url:
        raise UserError("a worker needs SALESOP_REDIS_URL (without Redis, `salesop run` executes tasks in-process)",
                        code="cli.base.worker_needs_redis")
    return await run_all(settings, [], worker=True)
