"""Catalog, knowledge base, training data and AI spend from the command line:

salesop products import --tenant S FILE        CSV (UTF-8/cp1251, ; or ,), bad rows reported by line
salesop products list --tenant S [--json]
salesop kb import --tenant S PATH [--type T]   markdown, text, CSV of questions/answers; a file or a folder
salesop kb list --tenant S [--json]
salesop kb reembed --tenant S                  re-embed chunks made by another embedder
salesop kb load-demo --tenant S                the demo shop's catalog and knowledge base
salesop training export --tenant S [--out F]   JSONL in the chat fine-tuning format
salesop training queue --tenant S              dialogs worth reviewing
salesop spend --tenant S [--days N] [--by day,purpose]
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

from core.ai import learning, spend
from core.ai.demo import load_demo_shop
from core.ai.indexing import Indexer, stale_chunk_count
from core.ai.providers import build_providers
from core.errors import UserError
from core.i18n import DEFAULT_LOCALE, t, translator
from core.services import catalog, knowledge
from core.services import tenants as tenant_service
from core.settings import Settings

from ..cli import print_json
from ..context import app_context


def register(sub: argparse._SubParsersAction, locale: str = DEFAULT_LOCALE) -> None:
    _ = translator(locale)
    products = sub.add_parser("products", help=_("cli.help.products")).add_subparsers(dest="products_cmd",
                                                                                      required=True)
    p = products.add_parser("import", help=_("cli.help.products_import"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.add_argument("file", type=Path, help=_("cli.help.products_file"))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.set_defaults(handler=cmd_products_import)
    p = products.add_parser("list", help=_("cli.help.products_list"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.set_defaults(handler=cmd_products_list)

    kb = sub.add_parser("kb", help=_("cli.help.kb")).add_subparsers(dest="kb_cmd", required=True)
    p = kb.add_parser("import", help=_("cli.help.kb_import"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.add_argument("path", type=Path, help=_("cli.help.kb_path"))
    p.add_argument("--type", dest="doc_type", help=_("cli.help.kb_type"))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.set_defaults(handler=cmd_kb_import)
    p = kb.add_parser("list", help=_("cli.help.kb_list"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.set_defaults(handler=cmd_kb_list)
    p = kb.add_parser("reembed", help=_("cli.help.kb_reembed"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.set_defaults(handler=cmd_kb_reembed)
    p = kb.add_parser("load-demo", help=_("cli.help.kb_load_demo"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.set_defaults(handler=cmd_kb_load_demo)

    training = sub.add_parser("training", help=_("cli.help.training")).add_subparsers(dest="training_cmd",
                                                                                      required=True)
    p = training.add_parser("export", help=_("cli.help.training_export"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.add_argument("--out", type=Path, help=_("cli.help.out"))
    p.add_argument("--won-only", action="store_true", help=_("cli.help.won_only"))
    p.set_defaults(handler=cmd_training_export)
    p = training.add_parser("queue", help=_("cli.help.training_queue"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.add_argument("--limit", type=int, default=20, help=_("cli.help.limit"))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.set_defaults(handler=cmd_training_queue)

    p = sub.add_parser("spend", help=_("cli.help.spend"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.add_argument("--days", type=int, default=30, help=_("cli.help.days"))
    p.add_argument("--by", default="day", help=_("cli.help.by", choices=", ".join(spend.GROUPINGS)))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.set_defaults(handler=cmd_spend)


def _indexer(settings: Settings) -> Indexer:
    return Indexer(build_providers(settings).embedder, settings.ai.price_table)


async def cmd_products_import(settings: Settings, args) -> int:
    if not args.file.is_file():
        raise UserError(f"no such file: {args.file}", code="cli.kb.no_file", path=str(args.file))
    data = args.file.read_bytes()
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            report = await catalog.import_products_csv(session, tenant.id, data, indexer=_indexer(settings),
                                                       default_currency=tenant.currency)
    if args.json:
        print_json(report.as_dict())
        return 0
    lang = settings.language
    print(t("cli.kb.imported", lang, created=report.created, updated=report.updated, unchanged=report.unchanged,
            errors=len(report.errors)))
    for error in report.errors:
        print(t("cli.kb.bad_row", lang, line=error.line, reason=error.text(lang)))
    if report.ignored_columns:
        print(t("cli.kb.ignored", lang, columns=", ".join(report.ignored_columns)))
    return 0


async def cmd_products_list(settings: Settings, args) -> int:
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            rows = [catalog.product_row(p) for p in await catalog.list_products(session, tenant.id)]
    if args.json:
        print_json(rows)
    elif not rows:
        print(t("cli.kb.no_products", settings.language, slug=args.tenant))
    else:
        for r in rows:
            stock = "?" if r["stock"] is None else r["stock"]
            print(f"{r['sku']:<16} {r['price']:>12} {r['currency']}  {stock!s:>5}  {r['name']}")
    return 0


async def cmd_kb_import(settings: Settings, args) -> int:
    doc_type = knowledge.parse_doc_type(args.doc_type) if args.doc_type else None
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            report = await knowledge.import_path(session, tenant.id, args.path, indexer=_indexer(settings),
                                                 doc_type=doc_type)
    if args.json:
        print_json(report.as_dict())
        return 0
    print(t("cli.kb.kb_imported", settings.language, created=report.created, updated=report.updated,
            unchanged=report.unchanged, chunks=report.chunks, errors=len(report.errors)))
    for error in report.errors:
        print(t("cli.kb.kb_error", settings.language, error=error))
    return 0


async def cmd_kb_list(settings: Settings, args) -> int:
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            rows = [{"id": d.id, "title": d.title, "type": d.doc_type.value, "category": d.category,
                     "tags": d.tags, "source": d.source} for d in await knowledge.list_documents(session, tenant.id)]
    if args.json:
        print_json(rows)
    elif not rows:
        print(t("cli.kb.no_documents", settings.language, slug=args.tenant))
    else:
        for r in rows:
            print(f"{r['id']:>5}  {r['type']:<10} {r['title']}  ({r['source'] or '—'})")
    return 0


async def cmd_kb_reembed(settings: Settings, args) -> int:
    indexer = _indexer(settings)
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            count = await indexer.reembed_stale(session, tenant.id)
            left = await stale_chunk_count(session, tenant.id, indexer.embedder.name)
    print(t("cli.kb.reembedded", settings.language, count=count, left=left, embedder=indexer.embedder.name))
    return 0


async def cmd_kb_load_demo(settings: Settings, args) -> int:
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            report = await load_demo_shop(session, tenant.id, build_providers(settings).embedder,
                                          settings.ai.price_table)
    print(t("cli.kb.demo_loaded", settings.language, products=report.products.imported,
            documents=report.knowledge.created + report.knowledge.updated + report.knowledge.unchanged))
    return 0


async def cmd_training_export(settings: Settings, args) -> int:
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            if args.out is None:
                count = await learning.export_jsonl(session, tenant, sys.stdout, only_won=args.won_only)
            else:
                with args.out.open("w", encoding="utf-8") as out:
                    count = await learning.export_jsonl(session, tenant, out, only_won=args.won_only)
    # The count goes to stderr so stdout stays pure JSONL.
    print(t("cli.kb.exported", settings.language, count=count, target=str(args.out or "stdout")), file=sys.stderr)
    return 0


async def cmd_training_queue(settings: Settings, args) -> int:
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            items = await learning.learning_queue(session, tenant.id, limit=args.limit)
    if args.json:
        print_json([i.as_dict() for i in items])
    elif not items:
        print(t("cli.kb.queue_empty", settings.language))
    else:
        for item in items:
            row = item.as_dict()
            print(t("cli.kb.queue_row", settings.language, **{**row, "dialog_id": f"{row['dialog_id']:>6}",
                                                            "score": f"{row['score']:>5.1f}"}))
    return 0


async def cmd_spend(settings: Settings, args) -> int:
    by = tuple(b.strip() for b in args.by.split(",") if b.strip())
    unknown = set(by) - set(spend.GROUPINGS)
    if unknown:
        raise UserError(f"--by: unknown grouping {', '.join(sorted(unknown))}; "
                        f"choose from: {', '.join(spend.GROUPINGS)}",
                        code="cli.kb.bad_grouping", unknown=", ".join(sorted(unknown)),
                        choices=", ".join(spend.GROUPINGS))
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            since = ctx.clock.now() - timedelta(days=args.days)
            rows = await spend.spend_summary(session, tenant.id, since=since, by=by, timezone=tenant.timezone)
            total = await spend.spend_total(session, tenant.id, since=since)
    if args.json:
        print_json({"rows": [r.as_dict() for r in rows], "total": total.as_dict()})
        return 0
    if by:
        for row in rows:
            keys = "  ".join(str(row.as_dict()[k]) for k in by)
            print(f"{keys}  ${row.cost_usd}  ({row.calls})")
    print(t("cli.kb.spend_total", settings.language, cost=str(total.cost_usd), calls=total.calls))
    return 0
