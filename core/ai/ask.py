"""A test question through the pipeline a live customer message goes through — intent, retrieval, generation,
self-check, the decision under the tenant's current settings — with nothing sent or stored: `salesop ask` and the
Mini App's "ask a test question" (knowledge base page) both answer with `ask()`.

The dialog's AI mode is "auto" unless `mode` says otherwise, so the decision answers "would this reply leave on its
own?". The answer: reply, intent, confidence (0–1), decision (auto_send | need_approval | escalate), reasons,
sources (each with kind product | document, and sku or title), checks, basis, model, mode, channel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from ..clock import SystemClock
from ..db import Database
from ..models import AIMode, Customer, Dialog, Message, Tenant
from ..settings import Settings
from . import decision as engine
from . import handoff, reasons
from .intents import classify, tenant_intents
from .pipeline import Generated, Snapshot, SuggestionPipeline
from .providers import AIProviders
from .retrieval import chunk_texts, used_sources
from .selfcheck import check_reply
from .textutil import detect_language

CHANNELS = ("telegram", "vk")


@dataclass
class Answer:
    reply: str
    intent: str
    confidence: float
    decision: str
    reasons: list[str]  # in the reader's language (locale)
    sources: list[dict]
    checks: dict = field(default_factory=dict)
    basis: str = ""
    model: str = ""
    mode: str = AIMode.AUTO.value
    channel: str = "telegram"
    retrieved: list[dict] = field(default_factory=list)  # every hit, best first
    products: list[str] = field(default_factory=list)  # SKUs of the products the question names, best first
    reason_codes: list = field(default_factory=list)  # each reason as {"code", "args"} (core.ai.reasons)

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
                                            [h for h in hits if h.product is None],
                                            retrieved=[h.product for h in hits if h.product is not None],
                                            retrieved_hits=hits)
        texts_by_id = await chunk_texts(session, [h.chunk_id for h in hits if h.product is None])
    report = check_reply(generated.text, facts) if generated.error is None else None
    decided = engine.decide(_inputs(pipeline, tenant, mode, intent.intent, generated, report, question, now))
    sources = used_sources(generated.text, [h.as_source() for h in hits], texts_by_id)
    return Answer(
        reply=generated.text, intent=intent.intent, confidence=round(generated.confidence, 4),
        decision=decided.decision.value, reasons=[reasons.render(r, locale) for r in decided.reasons],
        reason_codes=reasons.codes(decided.reasons),
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


def source_label(source: dict) -> str:
    if source.get("kind") == "product":
        return f"{source.get('name')} ({source.get('sku')})"
    return str(source.get("title") or "")
