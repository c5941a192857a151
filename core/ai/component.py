"""The AI component: registers the "suggest_reply", "refresh_customer_memory" and "reembed_stale" task handlers and
offers the providers and pipeline to other components as ctx.services["ai"]. No run(): it only reacts to tasks
(re-embedding after a provider change is asked for by the pipeline itself, so it happens in every deployment).

Kept free of aiohttp/aiogram: it only touches ctx.queue, ctx.db and settings.

The draft's own follow-ups (its card, the customer's memory, cards it made stale, re-embedding) are staged as rows
after the pipeline's final commit and before the "suggest_reply" row is done, so a crash in between runs the task
again: the pipeline then skips ("already drafted") and the card is asked for again from the stored suggestion (the
card handler is idempotent on "card:<suggestion>").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from .. import followups
from ..models import Message, Suggestion
from ..settings import Settings
from .indexing import Indexer
from .pipeline import (
    SuggestionPipeline,
    reembed_tenant,
    refresh_customer_memory,
)
from .providers import AIProviders, build_providers

log = logging.getLogger(__name__)


@dataclass
class AIService:
    providers: AIProviders
    pipeline: SuggestionPipeline
    settings: Settings

    def indexer(self) -> Indexer:
        return Indexer(self.providers.embedder, self.settings.ai.price_table)


def install(ctx) -> AIService:
    providers = build_providers(ctx.settings)
    pipeline = SuggestionPipeline(ctx.db, providers, ctx.settings, ctx.clock)
    service = AIService(providers, pipeline, ctx.settings)
    ctx.services["ai"] = service

    async def suggest_reply(message_id: int) -> dict:
        result = await pipeline.run(message_id)
        follow_ups = list(result.follow_ups)
        async with ctx.db.unit_of_work() as session:
            tenant_id = await session.scalar(select(Message.tenant_id).where(Message.id == message_id))
            if result.skipped and result.suggestion_id is None:
                # e.g. "already drafted": a re-run after a crash, whose card may never have been asked for (the card
                # handler does nothing for a card already posted, an outdated draft or learning mode)
                follow_ups += [(followups.POST_SUGGESTION_CARD.name, {"suggestion_id": suggestion_id})
                               for suggestion_id in (await session.execute(
                                   select(Suggestion.id).where(Suggestion.message_id == message_id))).scalars()]
            # After the pipeline's commit: the card handler must find the suggestion row when it runs.
            await followups.stage_all(session, follow_ups, tenant_id=tenant_id)
        for name, kwargs in follow_ups:
            await ctx.queue.enqueue(name, **kwargs)
        if result.skipped:
            log.debug("no suggestion for message %s: %s", message_id, result.skipped)
        return {"suggestion_id": result.suggestion_id, "skipped": result.skipped,
                "decision": result.decision.value if result.decision else None}

    async def refresh_memory(customer_id: int) -> bool:
        return await refresh_customer_memory(ctx.db, providers, ctx.settings, ctx.clock, customer_id)

    async def reembed(tenant_id: int) -> int:
        return await reembed_tenant(ctx.db, providers, ctx.settings, tenant_id)

    # Follow-up kinds (core.followups): durable, retried, idempotent.
    ctx.queue.register(followups.SUGGEST_REPLY.name, suggest_reply)
    ctx.queue.register(followups.REFRESH_CUSTOMER_MEMORY.name, refresh_memory)
    ctx.queue.register(followups.REEMBED_STALE.name, reembed)
    mode = "offline (local embedder + grounded responder)" if providers.offline else f"LLM {ctx.settings.ai.chat_model}"
    log.info("AI pipeline: %s", mode)
    return service
