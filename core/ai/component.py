"""The AI component: registers the "suggest_reply", "refresh_customer_memory" and "reembed_stale" task handlers and
offers the providers and pipeline to other components as ctx.services["ai"]. No run(): it only reacts to tasks
(re-embedding after a provider change is asked for by the pipeline itself, so it happens in every deployment).

Kept free of aiohttp/aiogram: it only touches ctx.queue, ctx.db and settings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..inbox import SUGGEST_REPLY
from ..settings import Settings
from .indexing import Indexer
from .pipeline import (
    REEMBED_STALE,
    REFRESH_CUSTOMER_MEMORY,
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
        # After the pipeline's commit: the card handler must find the suggestion row when it runs.
        for name, kwargs in result.follow_ups:
            await ctx.queue.enqueue(name, **kwargs)
        if result.skipped:
            log.debug("no suggestion for message %s: %s", message_id, result.skipped)
        return {"suggestion_id": result.suggestion_id, "skipped": result.skipped,
                "decision": result.decision.value if result.decision else None}

    async def refresh_memory(customer_id: int) -> bool:
        return await refresh_customer_memory(ctx.db, providers, ctx.settings, ctx.clock, customer_id)

    async def reembed(tenant_id: int) -> int:
        return await reembed_tenant(ctx.db, providers, ctx.settings, tenant_id)

    ctx.queue.register(SUGGEST_REPLY, suggest_reply)
    ctx.queue.register(REFRESH_CUSTOMER_MEMORY, refresh_memory)
    ctx.queue.register(REEMBED_STALE, reembed)
    mode = "offline (local embedder + grounded responder)" if providers.offline else f"LLM {ctx.settings.ai.chat_model}"
    log.info("AI pipeline: %s", mode)
    return service
