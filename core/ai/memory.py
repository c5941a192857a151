"""Customer memory: a rolling summary, preferences and topics per customer, refreshed after activity.

With an LLM the summary is written by the model from the previous memory and the recent dialog (structured
output); without one it is assembled from the customer's own messages: the topics they asked about (local intent
classifier), the catalog products they named, and the last question.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Customer, Dialog, Direction, Message, Product
from ..ports import LLM, ChatResult
from . import texts
from .intents import classify_local
from .prompting import render
from .providers import AIUnavailable
from .retrieval import name_match
from .textutil import stem, words

# A burst of messages refreshes the memory once; the next message after this pause refreshes it again.
MIN_REFRESH_INTERVAL = timedelta(minutes=2)
RECENT_MESSAGES = 30
MAX_PREFERENCES = 8

MEMORY_SCHEMA = {
    "name": "customer_memory",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {
            "summary": {"type": "string"},
            "preferences": {"type": "array", "items": {"type": "string"}},
            "topics": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["summary", "preferences", "topics"],
        "additionalProperties": False,
    },
}


@dataclass
class MemoryUpdate:
    summary: str
    preferences: list[str]
    topics: list[str]
    chat: ChatResult | None = None


def memory_due(customer: Customer, now: datetime) -> bool:
    return customer.summary_updated_at is None or now - customer.summary_updated_at >= MIN_REFRESH_INTERVAL


async def recent_messages(session: AsyncSession, customer_id: int, limit: int = RECENT_MESSAGES) -> list[Message]:
    rows = list((await session.execute(
        select(Message)
        .join(Dialog, Dialog.id == Message.dialog_id)
        .where(Dialog.customer_id == customer_id, Message.deleted_at.is_(None), Message.text != "")
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(limit)
    )).scalars())
    return list(reversed(rows))


async def product_names(session: AsyncSession, tenant_id: int) -> list[str]:
    return list((await session.execute(
        select(Product.name).where(Product.tenant_id == tenant_id, Product.is_active)
    )).scalars())


def offline_memory(customer: Customer, messages: list[Message], products: list[str]) -> MemoryUpdate:
    inbound = [m.text for m in messages if m.direction == Direction.IN and m.text.strip()]
    topics = Counter(classify_local(t).intent for t in inbound)
    topics.pop("other", None)
    topics.pop("greeting", None)
    topic_names = [texts.intent_name(t) for t, _ in topics.most_common(5)]

    named: list[str] = []
    for message in inbound:  # in each message, the products it names best (ties kept: "наушники")
        said = {stem(w) for w in words(message)}
        scored = [(name_match(said, name)[0], name) for name in products]
        best = max((score for score, _ in scored), default=0.0)
        named += [name for score, name in scored if score > 0 and score == best][:3]
    named = list(dict.fromkeys(named))[-MAX_PREFERENCES:]

    preferences = list(dict.fromkeys([*(customer.memory or {}).get("preferences", []), *named]))[-MAX_PREFERENCES:]
    lines = []
    if topic_names:
        lines.append(texts.memory_line("asked_about", topics=", ".join(topic_names)))
    if named:
        lines.append(texts.memory_line("interested_in", products=", ".join(named)))
    if inbound:
        last = " ".join(inbound[-1].split())
        lines.append(texts.memory_line("last_question", text=last[:200]))
    return MemoryUpdate(". ".join(lines), preferences, topic_names)


async def llm_memory(llm: LLM, customer: Customer, messages: list[Message]) -> MemoryUpdate:
    memory = customer.memory or {}
    chat_messages = [{"role": "system", "content": render(
        "memory.j2", previous_summary=customer.summary or "", previous_preferences=memory.get("preferences", []),
    )}]
    for m in messages:
        chat_messages.append({"role": "user" if m.direction == Direction.IN else "assistant", "content": m.text})
    result = await llm.chat(chat_messages, schema=MEMORY_SCHEMA, temperature=0.2)
    parsed = result.parsed or {}
    return MemoryUpdate(
        summary=str(parsed.get("summary", "")).strip(),
        preferences=[str(p) for p in parsed.get("preferences", [])][:MAX_PREFERENCES],
        topics=[str(t) for t in parsed.get("topics", [])][:MAX_PREFERENCES],
        chat=result,
    )


async def build_memory(llm: LLM | None, customer: Customer, messages: list[Message],
                       products: list[str]) -> MemoryUpdate:
    """No transaction is open while this runs: the LLM call may take seconds."""
    if llm is not None:
        try:
            return await llm_memory(llm, customer, messages)
        except AIUnavailable:
            pass  # the offline memory is still better than a stale one
    return offline_memory(customer, messages, products)


def apply_memory(customer: Customer, update: MemoryUpdate, now: datetime) -> None:
    customer.summary = update.summary or customer.summary
    customer.memory = {**(customer.memory or {}), "preferences": update.preferences, "topics": update.topics}
    customer.summary_updated_at = now
