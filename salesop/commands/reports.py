"""Status reports from the command line:

salesop report preview --tenant S --slot morning|evening [--date YYYY-MM-DD] [--json] [--chart FILE]

Prints the report as the tenant's chats would get it (their audience's visibility) in the CLI's language
(SALESOP_LANGUAGE); --json prints everything it was made from (the analytics figures, unfiltered); --chart writes
the chart it would carry as a PNG file. Nothing is posted.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from core.errors import UserError
from core.i18n import DEFAULT_LOCALE, t, translator
from core.models import ReportKind
from core.services import reports
from core.services import tenants as tenant_service
from core.settings import Settings

from ..cli import print_json
from ..context import app_context


def register(sub: argparse._SubParsersAction, locale: str = DEFAULT_LOCALE) -> None:
    _ = translator(locale)
    report = sub.add_parser("report", help=_("report.cli.help")).add_subparsers(dest="report_cmd", required=True)
    p = report.add_parser("preview", help=_("report.cli.help_preview"))
    p.add_argument("--tenant", required=True, metavar="SLUG", help=_("cli.help.tenant_slug"))
    p.add_argument("--slot", required=True, choices=[k.value for k in ReportKind], help=_("report.cli.help_slot"))
    p.add_argument("--date", metavar="YYYY-MM-DD", help=_("report.cli.help_date"))
    p.add_argument("--json", action="store_true", help=_("report.cli.help_json"))
    p.add_argument("--chart", type=Path, metavar="FILE", help=_("report.cli.help_chart"))
    p.set_defaults(handler=cmd_preview)


def _date(raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise UserError(f"the date must be YYYY-MM-DD: {raw}", code="report.cli.bad_date", value=raw) from None


async def cmd_preview(settings: Settings, args) -> int:
    day = _date(args.date)
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            now = ctx.clock.now()
            report = await reports.preview(session, tenant, ReportKind(args.slot),
                                           day or reports.local_today(tenant, now), now=now,
                                           locale=settings.language)
    if args.chart is not None and report.chart is not None:
        args.chart.write_bytes(reports.chart_png(report.chart, report.locale))
    if args.json:
        print_json({**report.figures, "html": report.html})
        return 0
    print(reports.plain_text(report.html))
    if args.chart is not None and report.chart is not None:
        print(t("report.cli.chart", settings.language, path=str(args.chart)))
    return 0
