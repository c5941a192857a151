"""Per customer message: intent → retrieve → few-shot → generate → self-check → decide → store, then hand over.

`SuggestionPipeline.run(message_id)` is the "suggest_reply" task. It reads in short transactions, talks to the
LLM with no transaction open (a 30-second model call must not hold a connection or locks), and writes everything
it decided — the Suggestion with its inputs, the spend, an escalation, the delayed auto-reply in the outbox — in
one final unit of work. Follow-up tasks ("post_suggestion_card", "refresh_customer_memory") are returned for the
caller to enqueue after that commit.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from .. import events, outbox
from ..inbox import REFRESH_CARDS
from ..db import Database, lock_dialog, retry_transaction
from ..models import (
    AIMode,
    Attachment,
    CommandOrigin,
    CommandState,
    Customer,
    Decision,
    Dialog,
    DialogStatus,
    Direction,
    Escalation,
    EscalationStatus,
    Message,
    NightMode,
    OutboxCommand,
    Suggestion,
    SuggestionState,
    Tenant,
    UsagePurpose,
)
from ..ports import Clock
from ..settings import Settings
from . import decision as engine
from . import handoff, offline, reasons, tools
from .indexing import Indexer, stale_chunk_count
from .intents import IntentResult, classify, tenant_intents
from .learning import few_shot_examples
from .memory import apply_memory, build_memory, memory_due, product_names, recent_messages
from .prompting import render
from .providers import AIProviders, AIUnavailable, model_of, provider_of
from .retrieval import (
    Hit,
    ProductFact,
    hybrid_search,
    product_name_hits,
    products_named_among,
    products_named_in_text,
    rank_products,
)
from .selfcheck import CheckFacts, check_reply
from .spend import Usage, record_usage
from .transcribe import TRANSCRIBE_VOICE, VOICE_KINDS, heard_text, transcript_of, unheard
from .textutil import detect_language, format_price

log = logging.getLogger(__name__)

POST_SUGGESTION_CARD = "post_suggestion_card"
REFRESH_CUSTOMER_MEMORY = "refresh_customer_memory"
REEMBED_STALE = "reembed_stale"
# How often a process looks for chunks made by another embedder (after the provider changed) per tenant.
STALE_CHECK_INTERVAL = 3600.0
SEND_CUSTOMER_MESSAGE = "send_customer_message"
AWAITING_TRANSCRIPT = "waiting for the voice message's transcript"

RECENT_MESSAGES = 12
RETRIEVE_LIMIT = 12
PRODUCT_CANDIDATES = 6
PROMPT_PRODUCTS = 5
PROMPT_DOCUMENTS = 4
REPLY_TEMPERATURE = 0.3
MAX_TOOL_ROUNDS = 3  # model turns that may call tools before the one that must answer

REPLY_SCHEMA = {
    "name": "sales_reply",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {
            "reply": {"type": "string"},
            "confidence": {"type": "number"},
            "needs_human": {"type": "boolean"},
            "reason": {"type": "string"},
        },
        "required": ["reply", "confidence", "needs_human", "reason"],
        "additionalProperties": False,
    },
}


@dataclass
class PipelineResult:
    suggestion_id: int | None = None
    decision: Decision | None = None
    state: SuggestionState | None = None
    skipped: str | None = None  # why nothing was drafted (duplicate task, AI off for the dialog, superseded...)
    command_id: int | None = None  # the delayed auto-reply, when AUTO_SEND
    follow_ups: list[tuple[str, dict]] = field(default_factory=list)


@dataclass
class Snapshot:
    """What the pipeline read in its first transaction. ORM objects are detached (expire_on_commit=False)."""

    tenant: Tenant
    dialog: Dialog
    customer: Customer
    message: Message
    customer_text: str  # the customer's messages since the business last wrote, joined
    recent: list[dict]  # the dialog tail as chat messages, oldest first
    customer_language: str | None
    pending_autoreply: bool = False  # the dialog had an automatic reply waiting to leave when it was read


@dataclass
class Generated:
    text: str
    confidence: float
    needs_human: bool = False
    model_reason: str = ""
    model: str = "offline"
    error: str | None = None
    basis: str = "llm"
    tools: tools.ToolRun | None = None  # what the model's tool calls returned (LLM mode)


def _pending_autoreply_filter(dialog_id) -> tuple:
    """An automatic reply of the dialog that has not left yet (`dialog_id` a value or a column)."""
    return (
        OutboxCommand.dialog_id == dialog_id,
        OutboxCommand.kind == SEND_CUSTOMER_MESSAGE,
        OutboxCommand.origin.in_([CommandOrigin.AI, CommandOrigin.SYSTEM]),
        OutboxCommand.state.in_([CommandState.PENDING_APPROVAL, CommandState.APPROVED, CommandState.QUEUED]),
    )


async def cancel_pending_autoreplies(session: AsyncSession, dialog_id: int,
                                     reason: str = "manager answered first") -> list[int]:
    """Cancel automatic replies of a dialog that have not left yet (an AI reply waiting out its human-like delay,
    a night auto-reply). Call it when a manager answers. Returns the ids of the suggestions whose auto-reply was
    cancelled (now OUTDATED), so their cards can be refreshed."""
    await lock_dialog(session, dialog_id)  # the lock order (core.db): the dialog row before its commands
    commands = list((await session.execute(
        select(OutboxCommand.id, OutboxCommand.suggestion_id).where(*_pending_autoreply_filter(dialog_id))
    )).all())
    suggestion_ids = []
    for command_id, suggestion_id in commands:
        if await outbox.cancel(session, command_id, reason=reason) and suggestion_id is not None:
            suggestion = await session.get(Suggestion, suggestion_id)
            if suggestion is not None and suggestion.state == SuggestionState.PENDING:
                suggestion.state = SuggestionState.OUTDATED
            suggestion_ids.append(suggestion_id)
    return suggestion_ids


def _chat_role(message: Message) -> str:
    return "user" if message.direction == Direction.IN else "assistant"


def _content(message: Message) -> str:
    return heard_text(message) or "[вложение без текста]"


class SuggestionPipeline:
    def __init__(self, db: Database, providers: AIProviders, settings: Settings, clock: Clock):
        self.db = db
        self.providers = providers
        self.settings = settings
        self.clock = clock
        self._pending_usage: list[Usage] = []
        self._stale_checked: dict[int, float] = {}  # tenant → when; shared by the per-run copies

    # -- spend -----------------------------------------------------------------------------------------------

    def _meter_chat(self, purpose: UsagePurpose, chat) -> None:
        if chat is None or self.providers.llm is None:
            return
        self._pending_usage.append(Usage(
            purpose, provider_of(self.providers.llm), chat.model, prompt_tokens=chat.prompt_tokens,
            completion_tokens=chat.completion_tokens, cached_tokens=chat.cached_tokens,
        ))

    async def _flush_usage(self, session: AsyncSession, tenant_id: int, dialog_id: int) -> None:
        for usage in self._pending_usage:
            await record_usage(session, self.settings.ai.price_table, usage, tenant_id=tenant_id, dialog_id=dialog_id)
        self._pending_usage.clear()

    # -- run -------------------------------------------------------------------------------------------------

    async def run(self, message_id: int) -> PipelineResult:
        # Tasks run concurrently on one pipeline: each run gets its own copy for its per-run state (spend).
        run = copy.copy(self)
        run._pending_usage = []
        return await run._run(message_id)

    async def _run(self, message_id: int) -> PipelineResult:
        timings: dict[str, float] = {}
        started = time.perf_counter()

        def lap(name: str, since: float) -> float:
            now = time.perf_counter()
            timings[name] = round((now - since) * 1000, 2)
            return now

        t = started
        async with self.db.unit_of_work() as session:
            snapshot, skipped = await self._snapshot(session, message_id)
            if snapshot is None:
                if skipped == AWAITING_TRANSCRIPT:  # drafted again by the transcription task, once it is kept
                    return PipelineResult(skipped=skipped, follow_ups=[(TRANSCRIBE_VOICE, {"message_id": message_id})])
                return PipelineResult(skipped=skipped)
            # A newer customer message supersedes automatic replies still waiting to leave: this draft answers
            # the whole burst instead. Locked and looked for again only when the snapshot saw one (most dialogs
            # have none: two statements and a write transaction's commit saved). None the snapshot missed can
            # appear: the drafts of earlier messages enqueue theirs holding the dialog lock and only when no newer
            # customer message is there, and this message was committed before this run read the dialog.
            superseded = (await cancel_pending_autoreplies(session, snapshot.dialog.id, reason="superseded")
                          if snapshot.pending_autoreply else [])
        t = lap("load", t)
        tenant_id, dialog_id = snapshot.tenant.id, snapshot.dialog.id
        try:
            intent = await classify(self.providers.llm, snapshot.customer_text, snapshot.recent,
                                    custom=tenant_intents(snapshot.tenant))
            self._meter_chat(UsagePurpose.INTENT, intent.chat)
            t = lap("intent", t)

            query_vector, embed_error = await self._embed_query(snapshot.customer_text)
            t = lap("embed", t)

            async with self.db.unit_of_work() as session:
                hits = await self._retrieve(session, tenant_id, snapshot.customer_text, query_vector)
                examples = await few_shot_examples(session, tenant_id, intent.intent, snapshot.customer_text)
                # The intent call's spend is recorded with the draft, in the final unit of work (one insert for
                # both model calls instead of one here too); the except below records it if anything fails.
                reembed = await self._stale_chunks(session, tenant_id)
            t = lap("retrieve", t)

            products = self._prompt_products(snapshot.customer_text, hits)
            documents = [h for h in hits if h.product is None][:PROMPT_DOCUMENTS]
            generated, prompt_chars = await self._generate(snapshot, intent, hits, products, documents, examples)
            t = lap("generate", t)

            usage = list(self._pending_usage)

            async def store() -> PipelineResult:
                self._pending_usage = list(usage)  # a retried attempt records the spend again, once
                async with self.db.unit_of_work() as session:
                    stored = await self._decide_and_store(
                        session, snapshot, intent, generated, hits, products, documents, examples,
                        embed_error=embed_error, prompt_chars=prompt_chars, timings=timings, started=started,
                    )
                    await self._flush_usage(session, tenant_id, dialog_id)
                return stored

            # A deadlock or serialization failure runs the final unit of work again (the model is not asked again).
            result = await retry_transaction(store, what=f"storing the draft for message {message_id}")
            if superseded:
                result.follow_ups.insert(0, (REFRESH_CARDS, {"suggestion_ids": superseded}))
            if reembed:
                result.follow_ups.append((REEMBED_STALE, {"tenant_id": tenant_id}))
            return result
        except BaseException:
            if self._pending_usage:
                # Whatever went wrong, money spent is recorded.
                async with self.db.unit_of_work() as session:
                    await self._flush_usage(session, tenant_id, dialog_id)
            raise

    async def _stale_chunks(self, session: AsyncSession, tenant_id: int) -> bool:
        """True when the tenant has chunks another embedder made (the provider changed): the vector leg cannot
        see them until they are re-embedded. Checked once an hour per tenant and process."""
        checked = self._stale_checked.get(tenant_id)
        if checked is not None and time.monotonic() - checked < STALE_CHECK_INTERVAL:
            return False
        self._stale_checked[tenant_id] = time.monotonic()
        return await stale_chunk_count(session, tenant_id, self.providers.embedder.name) > 0

    async def _snapshot(self, session: AsyncSession, message_id: int) -> tuple[Snapshot | None, str | None]:
        # One round trip for the message, its dialog, tenant and customer and the questions asked of every message
        # (drafted already? a voice message? a newer one?), where each was a statement of its own.
        newer_message = aliased(Message)
        drafted = exists().where(Suggestion.message_id == Message.id)
        voice = exists().where(Attachment.message_id == Message.id, Attachment.kind.in_(VOICE_KINDS))
        newer = exists().where(
            newer_message.dialog_id == Message.dialog_id, newer_message.direction == Direction.IN,
            newer_message.deleted_at.is_(None),
            (newer_message.sent_at > Message.sent_at)
            | ((newer_message.sent_at == Message.sent_at) & (newer_message.id > Message.id)),
        )
        pending_autoreply = exists().where(*_pending_autoreply_filter(Message.dialog_id))
        row = (await session.execute(
            select(Message, Dialog, Tenant, Customer, drafted.label("drafted"), voice.label("voice"),
                   newer.label("newer"), pending_autoreply.label("pending_autoreply"))
            .join(Dialog, Dialog.id == Message.dialog_id)
            .join(Tenant, Tenant.id == Message.tenant_id)
            .join(Customer, Customer.id == Dialog.customer_id)
            .where(Message.id == message_id)
        )).one_or_none()
        if row is None:
            return None, "no such message"
        message, dialog, tenant, customer = row.Message, row.Dialog, row.Tenant, row.Customer
        if message.direction != Direction.IN or message.deleted_at is not None or message.is_imported:
            return None, "not a live customer message"
        if row.drafted:
            return None, "already drafted"
        if row.voice and transcript_of(message) is None:  # what transcribe.awaiting_transcript asks, read above
            return None, AWAITING_TRANSCRIPT  # a voice message: the draft answers what it says, once transcribed
        if dialog.ai_mode == AIMode.OFF:
            return None, "AI is off for this dialog"
        if dialog.status == DialogStatus.INACTIVE:
            return None, "the customer blocked the business"
        if row.newer:
            return None, "a newer customer message will be answered instead"
        if tenant.restricted:
            return None, "the tenant is restricted"
        tail = list((await session.execute(
            select(Message).where(Message.dialog_id == dialog.id, Message.deleted_at.is_(None))
            .order_by(Message.sent_at.desc(), Message.id.desc()).limit(RECENT_MESSAGES)
        )).scalars())
        tail.reverse()
        burst: list[str] = []
        for m in reversed(tail):
            if m.direction != Direction.IN:
                break
            if unheard(m):
                # A voice message nobody could transcribe: the AI does not answer what it has not heard.
                return None, "a voice message that could not be transcribed"
            if heard_text(m):
                burst.append(heard_text(m))
        burst.reverse()
        customer_text = "\n".join(burst)
        if tail and tail[-1].direction != Direction.IN:
            return None, "the business has already answered"
        if not customer_text:
            return None, "no text to answer (attachments only)"
        # Telegram reports "en-US"-style codes; the self-check compares two-letter languages.
        language = detect_language(customer_text) or (customer.language or tenant.language or "ru")[:2].lower()
        recent = [{"role": _chat_role(m), "content": _content(m)} for m in tail]
        return Snapshot(tenant, dialog, customer, message, customer_text, recent, language,
                        pending_autoreply=row.pending_autoreply), None

    async def _embed_query(self, text_: str) -> tuple[list[float] | None, str | None]:
        embedder = self.providers.embedder
        try:
            vectors, tokens = await embedder.embed([text_])
        except AIUnavailable as exc:
            # Retrieval still works on full text alone; the card notes it.
            return None, exc.reason
        if provider_of(embedder) != "local":
            self._pending_usage.append(Usage(UsagePurpose.EMBED, provider_of(embedder), model_of(embedder),
                                             prompt_tokens=tokens))
        return vectors[0], None

    async def _retrieve(self, session: AsyncSession, tenant_id: int, question: str,
                        query_vector: list[float] | None) -> list[Hit]:
        """Hybrid search, plus the products the question names by a word of their name: policy pages that share
        many words with a question must not push the product it asks about out of the candidates."""
        hits = await hybrid_search(session, tenant_id, question, query_vector,
                                   embedder_name=self.providers.embedder.name, limit=RETRIEVE_LIMIT,
                                   index_scans_after=True)
        seen = {h.chunk_id for h in hits}
        named = await product_name_hits(session, tenant_id, question, limit=PRODUCT_CANDIDATES)
        return hits + [h for h in named if h.chunk_id not in seen]

    @staticmethod
    def _prompt_products(question: str, hits: list[Hit]) -> list[ProductFact]:
        return [m.product for m in rank_products(question, hits)][:PROMPT_PRODUCTS]

    async def _generate(self, snapshot: Snapshot, intent: IntentResult, hits: list[Hit],
                        products: list[ProductFact], documents: list[Hit], examples) -> tuple[Generated, int]:
        tenant = snapshot.tenant
        if self.providers.llm is None:
            draft = offline.respond(tenant, intent.intent, snapshot.customer_text, hits, snapshot.customer_language)
            return Generated(draft.text, draft.confidence, model="offline", basis=draft.basis), 0
        customer = snapshot.customer
        system = render(
            "reply_system.j2",
            tenant={
                "name": tenant.name, "tone": tenant.tone.value, "address_form": tenant.address_form.value,
                "currency": tenant.currency, "allow_discounts": tenant.allow_discounts,
                "max_discount_percent": tenant.max_discount_percent,
                "forbidden_topics": list(tenant.forbidden_topics or []),
            },
            shop_description=(tenant.extra or {}).get("description", ""),
            customer_language=snapshot.customer_language or tenant.language,
            intent=intent.intent,
            customer={
                "name": customer.first_name or customer.display_name, "summary": customer.summary or "",
                "notes": customer.notes or "", "preferences": (customer.memory or {}).get("preferences", []),
            },
            products=[{"sku": p.sku, "name": p.name, "price": format_price(p.price, p.currency), "stock": p.stock,
                       "description": p.description[:300]} for p in products],
            documents=[{"title": d.title, "text": d.text} for d in documents],
            examples=[{"customer": e.customer, "reply": e.reply} for e in examples],
        )
        messages = [{"role": "system", "content": system}, *snapshot.recent]
        prompt_chars = sum(len(m["content"]) for m in messages)
        # The model may look things up (catalog, knowledge base) or pass a lead to a manager before it answers:
        # each tool call runs in a short unit of work of its own and its result joins the conversation.
        run = tools.ToolRun()
        context = tools.ToolContext(self.db, tenant.id, self.providers.embedder.name)
        for _ in range(MAX_TOOL_ROUNDS + 1):
            try:
                chat = await self.providers.llm.chat(messages, schema=REPLY_SCHEMA, tools=tools.TOOL_SPECS,
                                                     temperature=REPLY_TEMPERATURE)
            except AIUnavailable as exc:
                return Generated("", 0.0, model=model_of(self.providers.llm), error=exc.reason,
                                 tools=run), prompt_chars
            self._meter_chat(UsagePurpose.SUGGEST, chat)
            if not chat.tool_calls:
                break
            messages.append(tools.assistant_message(chat.text, chat.tool_calls))
            for call in chat.tool_calls:
                messages.append(await tools.execute(context, run, call))
        else:
            return Generated("", 0.0, model=chat.model, error="the model kept calling tools without answering",
                             tools=run), prompt_chars
        parsed = chat.parsed or {}
        try:
            confidence = max(0.0, min(1.0, float(parsed.get("confidence", 0.0))))
        except (TypeError, ValueError):
            confidence = 0.0
        return Generated(
            text=str(parsed.get("reply", "")).strip(), confidence=confidence,
            needs_human=bool(parsed.get("needs_human", False)), model_reason=str(parsed.get("reason", "")),
            model=chat.model, tools=run,
        ), prompt_chars

    async def _check_facts(self, session: AsyncSession, snapshot: Snapshot, generated: Generated,
                           products: list[ProductFact], documents: list[Hit],
                           retrieved: list[ProductFact] | None = None,
                           retrieved_hits: list[Hit] | None = None) -> CheckFacts:
        # Prices and stock must come from what the model was given: the retrieved context or a tool result.
        # Products the reply itself names count too when retrieval found them (the model may name one retrieval
        # ranked lower); a catalog product nothing gave the model is no backing for a figure. Only retrieved ones
        # count, so they are looked for among the retrieved chunks (no round trip) when those are at hand.
        named: list[Hit] | None = []
        if generated.text:
            named = None if retrieved_hits is None else await products_named_among(
                session, generated.text, retrieved_hits)
            if named is None:
                named = await products_named_in_text(session, snapshot.tenant.id, generated.text)
        run = generated.tools
        by_id = {p.id: p for p in products}
        for product in (run.products.values() if run else []):
            by_id.setdefault(product.id, product)
        given = {p.id for p in retrieved} if retrieved is not None else None
        for hit in named:
            if hit.product is not None and (given is None or hit.product.id in given):
                by_id.setdefault(hit.product.id, hit.product)
        tenant = snapshot.tenant
        knowledge = [d.text for d in documents] + (run.knowledge_texts if run else [])
        return CheckFacts(
            products=list(by_id.values()), knowledge_texts=knowledge,
            allow_discounts=tenant.allow_discounts, max_discount_percent=tenant.max_discount_percent,
            forbidden_topics=list(tenant.forbidden_topics or []), customer_text=snapshot.customer_text,
            customer_language=snapshot.customer_language,
        )

    async def _decide_and_store(self, session: AsyncSession, snapshot: Snapshot, intent: IntentResult,
                                generated: Generated, hits: list[Hit], products: list[ProductFact],
                                documents: list[Hit], examples, *, embed_error: str | None, prompt_chars: int,
                                timings: dict, started: float) -> PipelineResult:
        t = time.perf_counter()
        now = self.clock.now()
        # Fresh state: a manager may have switched the AI mode or answered while the model was thinking.
        # The lock order (core.db): the dialog row first, then its message. The dialog lock also serialises a
        # redelivered task racing this one (the second sees the first's suggestion) and a manager acting meanwhile.
        dialog = await lock_dialog(session, snapshot.dialog.id)
        message_id = snapshot.message.id
        # Then, in one statement, the message (locked), the tenant's current settings, the customer, and whether the
        # message was drafted, followed by another or answered meanwhile. Its snapshot is taken once the dialog is
        # ours, so it sees everything committed before (a message insert waits for the dialog lock too).
        other = aliased(Message)
        since = snapshot.message.sent_at
        drafted = exists().where(Suggestion.message_id == message_id)
        newer = exists().where(
            other.dialog_id == dialog.id, other.direction == Direction.IN, other.deleted_at.is_(None),
            other.id != message_id, other.sent_at >= since,
        )
        answered = exists().where(
            other.dialog_id == dialog.id, other.direction == Direction.OUT, other.deleted_at.is_(None),
            other.sent_at >= since,
        )
        current = (await session.execute(
            select(Message.id, Tenant, Customer, drafted.label("drafted"), newer.label("newer"),
                   answered.label("answered"))
            .join(Tenant, Tenant.id == Message.tenant_id)
            .join(Customer, Customer.id == snapshot.customer.id)
            .where(Message.id == message_id)
            .with_for_update(of=Message)
        )).one()
        tenant, customer = current.Tenant, current.Customer
        if current.drafted:
            return PipelineResult(skipped="already drafted")
        newer, answered = current.newer, current.answered

        # Every knowledge chunk retrieved backs the reply's terms (the offline responder quotes any of them).
        facts = await self._check_facts(session, snapshot, generated, products,
                                        [h for h in hits if h.product is None],
                                        retrieved=[h.product for h in hits if h.product is not None],
                                        retrieved_hits=hits)
        report = check_reply(generated.text, facts) if generated.error is None else None
        handoff_reasons = [handoff.reason(s) for s in handoff.detect(snapshot.customer_text)]
        within_hours = engine.within_working_hours(tenant, now)
        inputs = engine.DecisionInputs(
            intent=intent.intent, confidence=round(generated.confidence, 4), t_auto=tenant.t_auto,
            t_escalate=tenant.t_escalate, global_autosend=self.settings.ai.global_autosend,
            tenant_autosend=tenant.autosend_allowed, dialog_mode=dialog.ai_mode.value,
            intents_autosend=list(tenant.intents_autosend or []),
            intents_force_handoff=list(tenant.intents_force_handoff or []),
            offline=self.providers.offline, offline_autosend_allowed=tenant.offline_autosend_allowed,
            within_hours=within_hours, night_mode=tenant.night_mode.value,
            check_failures=report.failures if report else [], needs_human=generated.needs_human,
            needs_human_reason=generated.model_reason, ai_error=generated.error, handoff_reasons=handoff_reasons,
        )
        decided = engine.decide(inputs)
        state = SuggestionState.FAILED if generated.error else SuggestionState.PENDING
        if newer or answered:
            state = SuggestionState.OUTDATED  # drafted for a moment that has passed: kept, never sent or shown
        timings["decide"] = round((time.perf_counter() - t) * 1000, 2)
        timings["total"] = round((time.perf_counter() - started) * 1000, 2)

        delay = 0.0
        night = not within_hours and tenant.night_mode == NightMode.DELAY
        stored_inputs = {
            **inputs.as_dict(),
            "reasons": decided.reasons,  # as text in the default locale, as rows made before codes have them
            "reason_codes": reasons.codes(decided.reasons),  # what cards put into their reader's words
            "locks": decided.locks,
            "intent_source": intent.source,
            "intent_confidence": intent.confidence,
            "intent_error": intent.error,
            "embed_error": embed_error,
            "provider": "offline" if self.providers.offline else provider_of(self.providers.llm),
            "basis": generated.basis,
            "customer_text": snapshot.customer_text,
            "customer_language": snapshot.customer_language,
            "few_shot_ids": [e.sample_id for e in examples],
            "product_ids": [p.id for p in products],
            "delay_seconds": delay,
            "prompt_chars": prompt_chars,
            "timings_ms": timings,
            "tool_calls": generated.tools.calls if generated.tools else [],
        }
        suggestion = Suggestion(
            tenant_id=tenant.id, dialog_id=dialog.id, message_id=message_id, text=generated.text,
            intent=intent.intent, confidence=generated.confidence, decision=decided.decision,
            decision_reason=decided.reason, checks=report.checks if report else {},
            sources=[h.as_source() for h in _with_tool_hits(hits, generated.tools)], model=generated.model,
            state=state, inputs=stored_inputs,
        )
        session.add(suggestion)
        await session.flush()
        if decided.decision == Decision.AUTO_SEND:
            # Seeded by the suggestion's id, known once it is inserted: only an auto-sent draft is updated after
            # its insert (the others are written in one statement).
            delay = engine.human_delay(tenant.delay_profile, generated.text, seed=suggestion.id, night=night,
                                       night_multiplier=tenant.night_multiplier)
            suggestion.inputs = {**stored_inputs, "delay_seconds": delay}
        result = PipelineResult(suggestion_id=suggestion.id, decision=decided.decision, state=state)
        events.record(session, "suggestion_created", tenant_id=tenant.id, dialog_id=dialog.id,
                      suggestion_id=suggestion.id, decision=decided.decision.value, intent=intent.intent,
                      confidence=generated.confidence, state=state.value)
        if state == SuggestionState.OUTDATED:
            result.skipped = "superseded while drafting"
            return result

        # Learning mode: the draft is kept silently — no card, no escalation, never sent — and compared with the
        # manager's own reply when it comes (core.ai.learning.compare_with_manager_reply).
        learning = dialog.ai_mode == AIMode.LEARNING
        if decided.decision == Decision.ESCALATE and not learning:
            # One open escalation per dialog: an upset customer writing five messages is one hand-off.
            open_escalation = await session.scalar(select(exists().where(
                Escalation.dialog_id == dialog.id, Escalation.status == EscalationStatus.PENDING)))
            if not open_escalation:
                session.add(Escalation(
                    tenant_id=tenant.id, dialog_id=dialog.id, suggestion_id=suggestion.id, reason=decided.reason,
                    summary=snapshot.customer.summary, proposed_answer=generated.text or None,
                ))
            dialog.status = DialogStatus.ESCALATED
        elif decided.decision == Decision.AUTO_SEND and not learning:
            command = await outbox.enqueue(
                session, kind=SEND_CUSTOMER_MESSAGE, destination=outbox.channel_dest(dialog.channel_id),
                payload={"dialog_id": dialog.id, "text": generated.text, "suggestion_id": suggestion.id,
                         "typing": tenant.typing_indicator, "delay_seconds": delay},
                idempotency_key=f"ai-reply:{suggestion.id}", tenant_id=tenant.id, dialog_id=dialog.id,
                suggestion_id=suggestion.id, origin=CommandOrigin.AI, confidence=generated.confidence,
                intent=intent.intent, not_before=now + timedelta(seconds=delay),
            )
            result.command_id = command.id

        if (decided.decision != Decision.AUTO_SEND and not within_hours
                and tenant.night_mode == NightMode.AUTO_REPLY and tenant.night_auto_reply
                and self.settings.ai.global_autosend and dialog.ai_mode != AIMode.OFF):
            # Outside hours a person may be hours away: the customer gets the tenant's own night message once.
            await outbox.enqueue(
                session, kind=SEND_CUSTOMER_MESSAGE, destination=outbox.channel_dest(dialog.channel_id),
                payload={"dialog_id": dialog.id, "text": tenant.night_auto_reply, "auto": "night"},
                idempotency_key=f"night-reply:{dialog.id}:{engine.off_hours_key(tenant, now)}",
                tenant_id=tenant.id, dialog_id=dialog.id, origin=CommandOrigin.SYSTEM, intent=intent.intent,
            )

        if not learning:
            if generated.tools and generated.tools.leads:  # each waits for a manager's Approve on its card
                await tools.stage_leads(session, dialog, suggestion.id, generated.tools.leads)
            result.follow_ups.append((POST_SUGGESTION_CARD, {"suggestion_id": suggestion.id}))
        if memory_due(customer, now):
            result.follow_ups.append((REFRESH_CUSTOMER_MEMORY, {"customer_id": customer.id}))
        return result


def _with_tool_hits(hits: list[Hit], run: tools.ToolRun | None) -> list[Hit]:
    """The retrieved chunks, then those only a tool call found (the card lists the sources a reply used)."""
    if run is None:
        return hits
    seen = {h.chunk_id for h in hits}
    return hits + [h for h in run.hits() if h.chunk_id not in seen]


async def refresh_customer_memory(db: Database, providers: AIProviders, settings: Settings, clock: Clock,
                                  customer_id: int) -> bool:
    """The "refresh_customer_memory" task: rebuild a customer's summary and preferences. Returns False when it
    was refreshed moments ago (a burst of messages refreshes once)."""
    async with db.unit_of_work() as session:
        customer = await session.get(Customer, customer_id)
        if customer is None or not memory_due(customer, clock.now()):
            return False
        messages = await recent_messages(session, customer_id)
        products = await product_names(session, customer.tenant_id)
    if not messages:
        return False
    update = await build_memory(providers.llm, customer, messages, products)
    async with db.unit_of_work() as session:
        customer = await session.get(Customer, customer_id)
        apply_memory(customer, update, clock.now())
        if update.chat is not None:
            await record_usage(session, settings.ai.price_table, Usage(
                UsagePurpose.SUMMARY, provider_of(providers.llm), update.chat.model,
                prompt_tokens=update.chat.prompt_tokens, completion_tokens=update.chat.completion_tokens,
                cached_tokens=update.chat.cached_tokens,
            ), tenant_id=customer.tenant_id)
    return True


async def reembed_tenant(db: Database, providers: AIProviders, settings: Settings, tenant_id: int) -> int:
    """The "reembed_stale" task: re-embed a tenant's chunks made by another embedder, a batch per transaction, so
    a long re-embedding keeps its progress and other workers can share it. Returns how many were re-embedded."""
    indexer = Indexer(providers.embedder, settings.ai.price_table)
    done = 0
    while True:
        async with db.unit_of_work() as session:
            count = await indexer.reembed_batch(session, tenant_id)
        if not count:
            return done
        done += count
