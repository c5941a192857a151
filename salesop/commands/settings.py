"""Tenant settings from the command line, through the same validation and audit as the bot and the Mini App:

    salesop settings show --tenant S [--json]
    salesop settings set --tenant S key=value [key=value …] [--json]

`set` is all or nothing; a refused value prints one line naming the key and exits 1. Texts are in the CLI's language
(SALESOP_LANGUAGE: ru or en).
"""

from __future__ import annotations

import argparse
import os

from core.i18n import normalize, t
from core.services import tenant_settings as ts
from core.services import tenants as tenant_service
from core.settings import Settings

from ..cli import print_json
from ..context import app_context


def _help_locale() -> str:
    """The parser is built before the settings are read: its help takes SALESOP_LANGUAGE straight from the
    environment (the default, Russian, like Settings.language)."""
    return normalize(os.environ.get("SALESOP_LANGUAGE", "").strip() or None)


def _keys_help(locale: str) -> str:
    width = max(len(k) for k in ts.KEYS) + 2
    lines = [t("settings.cli.keys", locale)]
    lines += [f"  {key:<{width}}{ts.accepts_text(key, locale)}" for key in ts.KEYS]
    return "\n".join(lines) + "\n\n" + t("settings.cli.formats", locale)


def register(sub: argparse._SubParsersAction, locale: str | None = None) -> None:
    locale = locale or _help_locale()
    group = sub.add_parser("settings", help=t("settings.cli.help", locale))
    settings_sub = group.add_subparsers(dest="settings_cmd", required=True)

    p = settings_sub.add_parser("show", help=t("settings.cli.show", locale))
    p.add_argument("--tenant", required=True, help=t("settings.cli.tenant", locale))
    p.add_argument("--json", action="store_true", help=t("settings.cli.json", locale))
    p.set_defaults(handler=cmd_show)

    p = settings_sub.add_parser("set", help=t("settings.cli.set", locale), epilog=_keys_help(locale),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tenant", required=True, help=t("settings.cli.tenant", locale))
    p.add_argument("pairs", nargs="+", metavar="key=value", help=t("settings.cli.pairs", locale))
    p.add_argument("--json", action="store_true", help=t("settings.cli.json", locale))
    p.set_defaults(handler=cmd_set)


async def cmd_show(settings: Settings, args) -> int:
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            views = ts.show(tenant, ctx.secrets)
    if args.json:
        print_json({v.key: v.value for v in views})
    else:
        width = max(len(v.key) for v in views) + 2
        for view in views:
            print(f"{view.key:<{width}}{view.text}")
    return 0


async def cmd_set(settings: Settings, args) -> int:
    # A refusal (ts.SettingsError) reaches salesop.cli.main, which prints it as one line in the CLI's language.
    locale = settings.language
    assignments = ts.parse_assignments(args.pairs)
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            changes = await ts.update_from_text(session, tenant.id, assignments, secrets=ctx.secrets, via="cli")
    if args.json:
        print_json({c.key: {"old": c.old, "new": c.new} for c in changes})
    elif not changes:
        print(t("settings.cli.unchanged", locale))
    else:
        for change in changes:
            print(t("settings.cli.changed", locale, setting=change.key, old=change.old_text, new=change.new_text))
    return 0
