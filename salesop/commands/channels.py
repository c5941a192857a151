"""Channel commands: connect a VK community or VK user account, list channels, import a channel's history.

    salesop channel add vk --tenant S --group-id G --token T [--json]
    salesop channel add vk-user --tenant S --token T [--json]
    salesop channel list --tenant S [--json]
    salesop import CHANNEL_ID [--json]

The database comes from settings (SALESOP_DATABASE_URL or the embedded one), the VK API from SALESOP_VK_API_URL.
"""

from __future__ import annotations

import argparse

from core.errors import UserError
from core.i18n import DEFAULT_LOCALE, t, translator
from core.models import ChannelKind, ChannelStatus
from core.services import channels as channel_service
from core.services import readiness
from core.services import tenants as tenant_service
from core.settings import Settings

from ..cli import print_json
from ..context import app_context


def register(sub: argparse._SubParsersAction, locale: str = DEFAULT_LOCALE) -> None:
    _ = translator(locale)
    channel = sub.add_parser("channel", help=_("cli.help.channel"))
    channel_sub = channel.add_subparsers(dest="channel_cmd", required=True)

    add = channel_sub.add_parser("add", help=_("cli.help.channel_add")).add_subparsers(dest="channel_kind",
                                                                                       required=True)
    p = add.add_parser("vk", help=_("cli.help.channel_add_vk"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.add_argument("--group-id", required=True, type=int, help=_("cli.help.group_id"))
    p.add_argument("--token", required=True, help=_("cli.help.community_token"))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.set_defaults(handler=cmd_add_vk)

    p = add.add_parser("vk-user", help=_("cli.help.channel_add_vk_user"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.add_argument("--token", required=True, help=_("cli.help.user_token"))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.set_defaults(handler=cmd_add_vk_user)

    p = channel_sub.add_parser("list", help=_("cli.help.channel_list"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("import", help=_("cli.help.import"))
    p.add_argument("channel_id", type=int, metavar="CHANNEL_ID", help=_("cli.help.channel_id"))
    p.add_argument("--json", action="store_true", help=_("cli.help.import_json"))
    p.add_argument("--no-progress", action="store_true", help=_("cli.help.no_progress"))
    p.set_defaults(handler=cmd_import)


async def _resolve_vk(settings: Settings, token: str, *, community: bool, group_id: int | None = None):
    """Ask VK whose token this is, so a wrong or revoked token is refused now, not at the first message; and where
    live ingest begins (VK's time, newest message id, long-poll ts), so what customers write before the first
    connection is fetched then. Returns (identity, start state)."""
    import aiohttp
    from vkbottle.exception_factory import VKAPIError

    from userbots.vk import api as vk_api
    from userbots.vk.realtime import live_start

    api = vk_api.build_api(settings, token, community=community)
    try:
        if community:
            identity = await vk_api.resolve_community(api)
            if group_id is not None and identity.id != group_id:
                raise UserError(f"the token belongs to community {identity.id}, not {group_id}",
                                code="cli.channel.wrong_community", actual=identity.id, expected=group_id)
        else:
            identity = await vk_api.resolve_user(api)
        start = await live_start(api, community=community, group_id=identity.id if community else None)
    except VKAPIError as exc:
        raise UserError(f"VK rejected the token ({exc.code}: {exc.error_msg})", code="cli.channel.vk_rejected",
                        vk_code=exc.code, message=exc.error_msg) from None
    except LookupError as exc:
        raise UserError(str(exc), code="cli.channel.not_a_community" if community else "cli.channel.not_a_user") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise UserError(f"VK API is unreachable at {settings.vk.vk_api_url}: {exc}", code="cli.channel.vk_unreachable",
                        url=settings.vk.vk_api_url, error=str(exc)) from None
    finally:
        await api.close()
    return identity, start


async def _add(settings: Settings, args, kind: ChannelKind, identity, start: dict) -> int:
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            channel_id = await channel_service.add_channel(
                session, ctx.secrets, tenant_id=tenant.id, kind=kind, external_id=str(identity.id),
                title=identity.title, credentials=args.token, start_state=start,
            )
    if args.json:
        print_json({"id": channel_id, "kind": kind.value, "external_id": str(identity.id), "title": identity.title})
    else:
        print(channel_id)
    return 0


async def cmd_add_vk(settings: Settings, args) -> int:
    identity, start = await _resolve_vk(settings, args.token, community=True, group_id=args.group_id)
    return await _add(settings, args, ChannelKind.VK_COMMUNITY, identity, start)


async def cmd_add_vk_user(settings: Settings, args) -> int:
    identity, start = await _resolve_vk(settings, args.token, community=False)
    return await _add(settings, args, ChannelKind.VK_USER, identity, start)


def _business_detail(ways: readiness.BusinessWays, locale: str) -> str:
    """The line under a Telegram Business channel, worded here (the stored detail is in the default language and was
    written before the same account may have been connected as a userbot too): Telegram gives the bot no history;
    when the account is also a userbot, that channel's import fills the dialogs both share."""
    if not ways.enabled:
        return t("business.channel.detail_disabled", locale)
    if ways.userbot_id is None:
        return t("business.channel.detail_no_history" if ways.can_reply else "business.channel.detail_no_reply", locale)
    key = "business.channel.detail_history_userbot" if ways.can_reply else "business.channel.detail_no_reply_userbot"
    return t(key, locale, channel=ways.userbot_id)


async def cmd_list(settings: Settings, args) -> int:
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            views = await channel_service.list_channels(session, tenant.id)
            ways = await readiness.business_ways(session, tenant.id)
    if args.json:
        rows = [v.as_dict() for v in views]
        for row in rows:
            if row["id"] in ways:  # Telegram Business: where its history comes from (the same account's userbot)
                row["history"] = {"from": ways[row["id"]].history.value, "channel": ways[row["id"]].userbot_id}
        print_json(rows)
        return 0
    if not views:
        print(t("cli.channel.none", settings.language, slug=args.tenant))
        return 0
    for v in views:
        line = f"{v.id:>5}  {v.kind:<17} {v.external_id:<14} {v.status:<11} {v.title}"
        if v.import_status:
            total = f"/{v.conversations_total}" if v.conversations_total is not None else ""
            line += "  " + t("cli.channel.import_line", settings.language,
                             status=t(f"cli.import.status.{v.import_status}", settings.language),
                             done=v.conversations_done, total=total,
                             count=v.conversations_total if v.conversations_total is not None else v.conversations_done,
                             messages=t("plural.messages", settings.language, count=v.messages_imported))
        worded = v.id in ways and v.status in (ChannelStatus.ACTIVE.value, ChannelStatus.DISABLED.value)
        detail = _business_detail(ways[v.id], settings.language) if worded else v.status_detail
        if detail:
            line += f"\n       {detail}"
        print(line)
    return 0


async def cmd_import(settings: Settings, args) -> int:
    from userbots.importer import run_import, tune_gc_for_bulk_work

    async with app_context(settings, run_migrations=True) as ctx:
        tune_gc_for_bulk_work()
        report = await run_import(ctx.db, ctx.secrets, settings, args.channel_id, progress=not args.no_progress)
    if args.json:
        print_json(report.as_dict())
    else:
        print(t("cli.import.done", settings.language, channel=report.channel_id, conversations=report.conversations,
                messages=t("plural.messages", settings.language, count=report.messages),
                this_run=report.messages_this_run, seconds=f"{report.seconds:.1f}"))
        for error in report.errors[:20]:
            print(t("cli.import.not_imported", settings.language, error=error))
    return 0
