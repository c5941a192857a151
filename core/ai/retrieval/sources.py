"""The sources a reply actually used, among those retrieval gave it: products it names and knowledge chunks one of
whose sentences it repeats — what a suggestion card lists."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ...models import KnowledgeChunk
from ..textutil import content_words, stem, words
from .product_match import name_match


SOURCE_SENTENCE_SHARE = 0.6  # of a knowledge sentence's words the reply must repeat for the sentence to count as used


def _chunk_heading(text_: str, title: str) -> str:
    """«Доставка — По России» for a chunk «Доставка — По России: …», the question of a Q&A chunk, else the title."""
    if text_.startswith("Вопрос:") and "Ответ:" in text_:
        return text_.split("Ответ:", 1)[0].removeprefix("Вопрос:").strip()
    head, sep, _ = text_.partition(": ")
    if sep and len(head) <= 160 and "\n" not in head and not any(ch in head for ch in ".!?"):
        return head
    return title


def _chunk_used(reply_stems: set[str], chunk_text: str) -> bool:
    body = chunk_text.split(": ", 1)[1] if ": " in chunk_text[:160] else chunk_text
    if body.startswith("Вопрос:") or "Ответ:" in body:
        body = body.split("Ответ:", 1)[-1]
    for sentence in re.split(r"(?<=[.!?…])\s+|\n+", body):
        sentence_stems = {stem(w) for w in content_words(sentence) if len(w) >= 3 or w.isdigit()}
        if len(sentence_stems) >= 3 and \
                len(sentence_stems & reply_stems) >= SOURCE_SENTENCE_SHARE * len(sentence_stems):
            return True
    return False


def used_sources(reply: str, sources: list[dict], chunk_texts: dict[int, str] | None = None) -> list[dict]:
    """The sources a reply actually used, each once, in the order retrieval ranked them: products the reply names
    (by SKU or most of the name's words) as {"kind": "product", "sku", "name", "label": "Name (SKU)"}, and
    knowledge chunks one of whose sentences the reply repeats as {"kind": "document", "title", "label": "Title —
    Heading"}. `sources` are Hit.as_source() dicts (what a suggestion stores); `chunk_texts` the chunks' texts by id."""
    chunk_texts = chunk_texts or {}
    low = reply.lower()
    reply_stems = {stem(w) for w in words(reply)}
    out: list[dict] = []
    seen: set[str] = set()
    for source in sources:
        product = source.get("product") if source.get("kind") == "chunk" else (
            source if source.get("kind") == "product" else None)
        if product:
            sku, name = str(product.get("sku") or ""), str(product.get("name") or "")
            named = (sku and sku.lower() in low) or (name and name.lower() in low) or \
                name_match(reply_stems, name)[1] >= 0.75
            label = f"{name} ({sku})" if sku else name
            if named and label not in seen:
                seen.add(label)
                out.append({"kind": "product", "sku": sku, "name": name, "label": label})
            continue
        chunk_id = source.get("chunk_id")
        text_ = chunk_texts.get(chunk_id, "") if chunk_id is not None else ""
        if not text_ or not _chunk_used(reply_stems, text_):
            continue
        title = source.get("title") or ""
        heading = _chunk_heading(text_, title)
        label = heading if heading.startswith(title) or not title else f"{title} — {heading}"
        if label not in seen:
            seen.add(label)
            out.append({"kind": "document", "title": title, "chunk_id": chunk_id, "label": label})
    return out


async def chunk_texts(session: AsyncSession, chunk_ids: list[int]) -> dict[int, str]:
    if not chunk_ids:
        return {}
    rows = await session.execute(select(KnowledgeChunk.id, KnowledgeChunk.text).where(KnowledgeChunk.id.in_(chunk_ids)))
    return {r[0]: r[1] for r in rows}


CARD_SOURCES = 5


async def card_sources(session: AsyncSession, reply: str, sources: list[dict]) -> list[str]:
    """What a suggestion card lists as its sources: the ones the reply used, each once — «Доставка — По России»,
    «Кофемашина DeLonghi Magnifica S (TD-001)»."""
    ids = [s["chunk_id"] for s in sources if s.get("chunk_id") is not None and not s.get("product")]
    used = used_sources(reply or "", sources, await chunk_texts(session, ids))
    return [s["label"] for s in used][:CARD_SOURCES]
