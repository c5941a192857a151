"""`salesop staff`: invitation links, the staff list, roles and removal — the same core functions as the bot's
/invite and /staff, acting as the installation's operator (audit events carry no actor and via="cli")."""

from __future__ import annotations

import argparse
import logging
from datetime import timedelta

from core.dispatcher import notify
from core.i18n import DEFAULT_LOCALE, t, translator
from core.services import staff as staff_service
from core.services import tenants as tenant_service
from core.settings import Settings

from ..cli import print_json
from ..context import app_context

log = logging.getLogger(__name__)

VIA = "cli"


def register(sub: argparse._SubParsersAction, locale: str = DEFAULT_LOCALE) -> None:
    _ = translator(locale)
    staff = sub.add_parser("staff", help=_("cli.help.staff")).add_subparsers(
        dest="staff_cmd", required=True)

    p = staff.add_parser("invite", help=_("cli.help.staff_invite"))
    p.add_argument("--tenant", required=True, metavar="SLUG", help=_("cli.help.tenant_slug"))
    p.add_argument("--role", required=True, help=_("cli.help.role"))
    p.add_argument("--ttl-hours", type=float, default=staff_service.INVITE_TTL.total_seconds() / 3600,
                   help=_("cli.help.ttl_hours"))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.set_defaults(handler=cmd_invite)

    p = staff.add_parser("list", help=_("cli.help.staff_list"))
    p.add_argument("--tenant", required=True, metavar="SLUG", help=_("cli.help.tenant_slug"))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.set_defaults(handler=cmd_list)

    p = staff.add_parser("role", help=_("cli.help.staff_role"))
    p.add_argument("--tenant", required=True, metavar="SLUG", help=_("cli.help.tenant_slug"))
    p.add_argument("--telegram-user-id", required=True, type=int, help=_("cli.help.telegram_user_id"))
    p.add_argument("--role", required=True, help=_("cli.help.new_role"))
    p.set_defaults(handler=cmd_role)

    p = staff.add_parser("remove", help=_("cli.help.staff_remove"))
    p.add_argument("--tenant", required=True, metavar="SLUG", help=_("cli.help.tenant_slug"))
    p.add_argument("--telegram-user-id", required=True, type=int, help=_("cli.help.telegram_user_id"))
    p.set_defaults(handler=cmd_remove)


async def bot_username(settings: Settings) -> tuple[str | None, str | None]:
    """(the bot's username from getMe, why there is none). No token configured: (None, None)."""
    if settings.telegram.bot_token is None:
        return None, None
    from aiogram.exceptions import TelegramAPIError

    from bot.surface import make_bot

    bot = make_bot(settings)
    try:
        me = await bot.get_me()
    except (TelegramAPIError, OSError) as error:
        log.debug("getMe failed", exc_info=True)
        return None, str(error) or type(error).__name__
    finally:
        await bot.session.close()
    return me.username, None


def _expires(invite: staff_service.Invite) -> str:
    return invite.expires_at.strftime("%Y-%m-%d %H:%M")


def invite_lines(invite: staff_service.Invite, username: str | None, error: str | None, *, locale: str,
                 owner: bool = False, tenant_name: str | None = None) -> list[str]:
    """What the command line prints for a new invitation: the link on a line of its own (or, with no bot to ask,
    the /start command to send)."""
    loc, expires, tenant = locale, _expires(invite), tenant_name or invite.tenant_slug
    if username:
        head = (t("staff.cli.owner_link", loc, tenant=tenant, expires=expires) if owner
                else t("staff.cli.invite_link", loc, tenant=tenant, role=invite.role_code, expires=expires))
        return [head, invite.link(username)]
    if error:
        return [t("staff.cli.no_bot", loc, error=error, token=invite.token)]
    if owner:
        return [t("staff.cli.owner_token", loc, tenant=tenant, token=invite.token, expires=expires)]
    return [t("staff.cli.invite_link", loc, tenant=tenant, role=invite.role_code, expires=expires),
            t("staff.cli.invite_token", loc, token=invite.token)]


def invite_json(invite: staff_service.Invite, username: str | None) -> dict:
    return {"link": invite.link(username) if username else None, "token": invite.token,
            "tenant": invite.tenant_slug, "role": invite.role_code, "expires_at": invite.expires_at.isoformat()}


async def cmd_invite(settings: Settings, args) -> int:
    username, error = await bot_username(settings)  # before anything is written: a link that works, or none
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            invite = await staff_service.create_invitation(
                session, tenant.id, args.role, actor=None, ttl=timedelta(hours=args.ttl_hours), via=VIA)
            tenant_name = tenant.name
    if args.json:
        print_json(invite_json(invite, username))
    else:
        for line in invite_lines(invite, username, error, locale=settings.language, tenant_name=tenant_name):
            print(line)
    return 0


async def cmd_list(settings: Settings, args) -> int:
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            rows = await staff_service.list_staff(session, tenant.id, actor=None)
    if args.json:
        print_json([row.as_dict() for row in rows])
    elif not rows:
        print(t("staff.cli.empty", settings.language, tenant=args.tenant))
    else:
        for row in rows:
            print(t("staff.cli.row", settings.language, telegram_user_id=row.telegram_user_id, name=row.name,
                    username=f" @{row.username}" if row.username else "", role=row.role_code,
                    removed="" if row.active else t("staff.cli.gone", settings.language)))
    return 0


async def cmd_role(settings: Settings, args) -> int:
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            staff_id = await staff_service.staff_id_of(session, tenant.id, args.telegram_user_id)
            row = await staff_service.change_role(session, tenant.id, staff_id, args.role, actor=None, via=VIA)
    print(t("staff.cli.role_changed", settings.language, name=row.name, role=row.role_code))
    return 0


async def cmd_remove(settings: Settings, args) -> int:
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            staff_id = await staff_service.staff_id_of(session, tenant.id, args.telegram_user_id)
            removal = await staff_service.remove_staff(session, tenant.id, staff_id, actor=None, via=VIA)
            await notify(session)  # a running dispatcher sends the bans as soon as this commits
    print(t("staff.cli.removed", settings.language, name=removal.name, groups=removal.groups,
            dialogs=len(removal.unassigned)))
    return 0
