"""salesop ask --tenant S [--channel telegram|vk] [--mode auto] [--json] "question"

Runs a question (core.ai.ask, shared with the Mini App's test question) through the same pipeline a live customer
message goes through — intent, retrieval, generation,
self-check, the decision under the tenant's current settings — and sends and stores nothing. The dialog's AI mode
is "auto" unless --mode says otherwise, so the decision answers "would this reply leave on its own?".

JSON: reply, intent, confidence (0–1), decision (auto_send | need_approval | escalate), reasons (text in
SALESOP_LANGUAGE), reason_codes (each reason as {"code", "args"}), sources (each with kind product | document, and
sku or title), checks, basis, model, mode, channel.
"""

from __future__ import annotations

import argparse

from core.ai.ask import CHANNELS, ask, source_label
from core.ai.intents import remove_tenant_intent, set_tenant_intent, tenant_intents
from core.ai.providers import build_providers
from core.i18n import DEFAULT_LOCALE, t, translator
from core.models import AIMode
from core.services import tenants as tenant_service
from core.settings import Settings

from ..cli import print_json
from ..context import app_context


def register(sub: argparse._SubParsersAction, locale: str = DEFAULT_LOCALE) -> None:
    _ = translator(locale)
    p = sub.add_parser("ask", help=_("ai.ask.help"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.add_argument("--channel", choices=CHANNELS, default="telegram", help=_("ai.ask.help-channel"))
    p.add_argument("--mode", choices=[m.value for m in AIMode], default=AIMode.AUTO.value, help=_("ai.ask.help-mode"))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.add_argument("question", help=_("ai.ask.help-question"))
    p.set_defaults(handler=cmd_ask)

    intents = sub.add_parser("intents", help=_("ai.intents.help")).add_subparsers(dest="intents_cmd", required=True)
    p = intents.add_parser("set", help=_("ai.intents.help-set"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.add_argument("name", help=_("ai.intents.help-name"))
    p.add_argument("words", help=_("ai.intents.help-words"))
    p.set_defaults(handler=cmd_intents)
    p = intents.add_parser("remove", help=_("ai.intents.help-remove"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.add_argument("name", help=_("ai.intents.help-name"))
    p.set_defaults(handler=cmd_intents)
    p = intents.add_parser("list", help=_("ai.intents.help-list"))
    p.add_argument("--tenant", required=True, help=_("cli.help.tenant_slug"))
    p.add_argument("--json", action="store_true", help=_("cli.help.json"))
    p.set_defaults(handler=cmd_intents)


async def cmd_ask(settings: Settings, args) -> int:
    providers = build_providers(settings)
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            tenant_id = tenant.id
        answer = await ask(ctx.db, providers, settings, tenant_id, args.question, channel=args.channel,
                           mode=args.mode, locale=settings.language)
    if args.json:
        print_json(answer.as_dict())
        return 0
    lang = settings.language
    print(t("ai.ask.reply", lang, reply=answer.reply))
    print(t("ai.ask.meta", lang, intent=answer.intent, confidence=f"{answer.confidence:.2f}",
            decision=answer.decision))
    if answer.reasons:
        print(t("ai.ask.reasons", lang, reasons="; ".join(answer.reasons)))
    labels = [source_label(s) for s in answer.sources]
    print(t("ai.ask.sources", lang, sources=", ".join(labels)) if labels else t("ai.ask.no-sources", lang))
    return 0


async def cmd_intents(settings: Settings, args) -> int:
    """salesop intents set|remove|list --tenant S: the tenant's own intents (Tenant.extra["intents"]); once defined,
    the classifier answers them and intents_autosend / intents_force_handoff may name them."""
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            if args.intents_cmd == "set":
                custom = await set_tenant_intent(session, tenant.id, args.name, args.words.split(","))
            elif args.intents_cmd == "remove":
                custom = await remove_tenant_intent(session, tenant.id, args.name)
            else:
                custom = tenant_intents(tenant)
    if getattr(args, "json", False):
        print_json({name: list(words) for name, words in custom.items()})
    elif not custom:
        print(t("ai.intents.none", settings.language))
    else:
        for name, words in custom.items():
            print(t("ai.intents.line", settings.language, name=name, words=", ".join(words)))
    return 0
