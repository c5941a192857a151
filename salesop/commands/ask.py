"""salesop ask --tenant S [--channel telegram|vk] [--mode auto] [--json] "question"

Runs a question through the same pipeline a live customer message goes through — intent, retrieval, generation,
self-check, the decision under the tenant's current settings — and sends and stores nothing. The dialog's AI mode
is "auto" unless --mode says otherwise, so the decision answers "would this reply leave on its own?".

JSON: reply, intent, confidence (0–1), decision (auto_send | need_approval | escalate), reasons, sources (each
with kind product | document, and sku or title), checks, basis, model, mode, channel.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field
from datetime import datetime

from core.ai import decision as engine
from core.ai import handoff
from core.ai.intents import classify, remove_tenant_intent, set_tenant_intent, tenant_intents
from core.ai.pipeline import Generated, Snapshot, SuggestionPipeline
from core.ai.providers import AIProviders, build_providers
from core.ai.retrieval import chunk_texts, used_sources
from core.ai.selfcheck import check_reply
from core.ai.textutil import detect_language
from core.clock import SystemClock
from core.db import Database
from core.i18n import DEFAULT_LOCALE, t, translator
from core.models import AIMode, Customer, Dialog, Message, Tenant
from core.services import tenants as tenant_service
from core.settings import Settings

from ..cli import print_json
from ..context import app_context

CHANNELS = ("telegram", "vk")


@dataclass
class Answer:
    reply: str
    intent: str
    confidence: float
    decision: str
    reasons: list[str]
    sources: list[dict]
    checks: dict = field(default_factory=dict)
    basis: str = ""
    model: str = ""
    mode: str = AIMode.AUTO.value
    channel: str = "telegram"
    retrieved: list[dict] = field(default_factory=list)  # every hit, best first
    products: list[str] = field(default_factory=list)  # SKUs of the products the question names, best first

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("retrieved")
        out.pop("products")
        return out


class _Clock:
    def __init__(self, at: datetime | None):
        self.at = at

    def now(self) -> datetime:
        return self.at or SystemClock().now()


async def ask(db: Database, providers: AIProviders, settings: Settings, tenant_id: int, question: str, *,
              channel: str = "telegram", mode: str = AIMode.AUTO.value, now: datetime | None = None,
              locale: str | None = None) -> Answer:
    """The pipeline's answer to `question` as if a new customer of `tenant_id` wrote it, with nothing sent or stored
    (spend is not recorded either: nothing was asked by a customer)."""
    pipeline = SuggestionPipeline(db, providers, settings, _Clock(now))
    async with db.unit_of_work() as session:
        tenant = await session.get(Tenant, tenant_id)
        session.expunge(tenant)
    language = detect_language(question) or (tenant.language or "ru")[:2].lower()
    customer = Customer(tenant_id=tenant.id, first_name=None, display_name="", summary=None, notes=None, memory={})
    dialog = Dialog(tenant_id=tenant.id, ai_mode=AIMode(mode))
    recent = [{"role": "user", "content": question}]
    snapshot = Snapshot(tenant=tenant, dialog=dialog, customer=customer, message=Message(text=question),
                        customer_text=question, recent=recent, customer_language=language)

    intent = await classify(providers.llm, question, recent, custom=tenant_intents(tenant))
    query_vector, _ = await pipeline._embed_query(question)
    async with db.unit_of_work() as session:
        hits = await pipeline._retrieve(session, tenant.id, question, query_vector)
        products = pipeline._prompt_products(question, hits)
        documents = [h for h in hits if h.product is None][:4]
        generated, _ = await pipeline._generate(snapshot, intent, hits, products, documents, [])
        facts = await pipeline._check_facts(session, snapshot, generated, products,
                                            [h for h in hits if h.product is None])
        texts_by_id = await chunk_texts(session, [h.chunk_id for h in hits if h.product is None])
    report = check_reply(generated.text, facts) if generated.error is None else None
    decided = engine.decide(_inputs(pipeline, tenant, mode, intent.intent, generated, report, question, now))
    sources = used_sources(generated.text, [h.as_source() for h in hits], texts_by_id)
    return Answer(
        reply=generated.text, intent=intent.intent, confidence=round(generated.confidence, 4),
        decision=decided.decision.value, reasons=decided.reasons,
        sources=[_public(s) for s in sources],
        checks=report.checks if report else {}, basis=generated.basis, model=generated.model, mode=mode,
        channel=channel, retrieved=[h.as_source() for h in hits], products=[p.sku for p in products],
    )


def _public(source: dict) -> dict:
    if source["kind"] == "product":
        return {"kind": "product", "sku": source["sku"], "name": source["name"]}
    return {"kind": "document", "title": source["label"]}


def _inputs(pipeline: SuggestionPipeline, tenant: Tenant, mode: str, intent: str, generated: Generated, report,
            question: str, now: datetime | None) -> engine.DecisionInputs:
    moment = now or SystemClock().now()
    return engine.DecisionInputs(
        intent=intent, confidence=round(generated.confidence, 4), t_auto=tenant.t_auto,
        t_escalate=tenant.t_escalate, global_autosend=pipeline.settings.ai.global_autosend,
        tenant_autosend=tenant.autosend_allowed, dialog_mode=mode,
        intents_autosend=list(tenant.intents_autosend or []),
        intents_force_handoff=list(tenant.intents_force_handoff or []),
        offline=pipeline.providers.offline, offline_autosend_allowed=tenant.offline_autosend_allowed,
        within_hours=engine.within_working_hours(tenant, moment), night_mode=tenant.night_mode.value,
        check_failures=report.failures if report else [], needs_human=generated.needs_human,
        needs_human_reason=generated.model_reason, ai_error=generated.error,
        handoff_reasons=[handoff.reason(s) for s in handoff.detect(question)],
    )


# ------------------------------------------------------------------------------------------------- the CLI

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


def source_label(source: dict) -> str:
    if source.get("kind") == "product":
        return f"{source.get('name')} ({source.get('sku')})"
    return str(source.get("title") or "")


async def cmd_ask(settings: Settings, args) -> int:
    providers = build_providers(settings)
    async with app_context(settings, run_migrations=True) as ctx:
        async with ctx.db.unit_of_work() as session:
            tenant = await tenant_service.get_tenant(session, args.tenant)
            tenant_id = tenant.id
        answer = await ask(ctx.db, providers, settings, tenant_id, args.question, channel=args.channel,
                           mode=args.mode)
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
