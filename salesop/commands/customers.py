"""Customer data commands.

    salesop customer forget --tenant S --customer ID [--json]

Deletes a customer's personal data on request (core.services.customers): texts, files, identities, memory and
training samples go; anonymous counts stay; an audit event records it.
"""

from __future__ import annotations

import argparse

from core.i18n import t
from core.media import MediaStore, media_root
from core.services import customers as customer_service
from core.services import tenants as tenant_service
from core.settings import Settings

from ..cli import print_json
from ..context import app_context


def register(sub: argparse._SubParsersAction) -> None:
    customer = sub.add_parser("customer", help="customers' data")
    customer_sub = customer.add_subparsers(dest="customer_cmd", required=True)
    p = customer_sub.add_parser("forget", help="delete a customer's personal data on their request")
    p.add_argument("--tenant", required=True, help="tenant slug")
    p.add_argument("--customer", required=True, type=int, help="customer id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_forget)


async def cmd_forget(settings: Settings, args) -> int:
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            forgotten = await customer_service.forget_customer(
                session, tenant_id=tenant.id, customer_id=args.customer, requested_by="cli")
        # After the commit: a rolled-back deletion must not have lost the files.
        removed = customer_service.remove_files(MediaStore(media_root(settings.data_dir)), forgotten.files)
    row = {**forgotten.as_dict(), "files": removed}
    if args.json:
        print_json(row)
    else:
        print(t("reliability.forget.done", settings.language, customer=row["customer_id"], dialogs=row["dialogs"],
                messages=row["messages"], attachments=row["attachments"], files=row["files"],
                identities=row["identities"], samples=row["training_samples"]))
    return 0
