"""The retrieval-grounded responder: drafts a reply with no language model, only from the best-matching catalog
products and knowledge-base chunks, in the tenant's tone and address form. Every figure it writes is copied from
the catalog, so its drafts pass the self-check; they still never autosend unless the tenant allows it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..models import AddressForm, DocType, Tenant, Tone
from . import texts
from .retrieval import Hit, ProductMatch, rank_products
from .textutil import format_price, stem, words

# Which knowledge answers which intent, best first.
INTENT_DOC_TYPES: dict[str, list[str]] = {
    "shipping": [DocType.DELIVERY.value],
    "return": [DocType.RETURNS.value, DocType.POLICY.value],
    "complaint": [DocType.RETURNS.value, DocType.POLICY.value],
    "purchase": [DocType.PAYMENT.value],
    "discount": [DocType.POLICY.value, DocType.FAQ.value],
    "other": [DocType.FAQ.value, DocType.POLICY.value, DocType.DELIVERY.value, DocType.PAYMENT.value,
              DocType.RETURNS.value],
}
PRODUCT_INTENTS = {"price", "availability", "purchase", "discount", "other"}
SNIPPET_CHARS = 450
ALSO_MAX = 2


@dataclass
class Draft:
    text: str
    confidence: float
    basis: str  # what the draft was built from: "product", "knowledge", "greeting", "handoff", "not_found"
    product_ids: list[int] = field(default_factory=list)
    chunk_ids: list[int] = field(default_factory=list)


def _snippet(hit: Hit) -> str:
    """The chunk's content without its "Title — Heading:" prefix and markdown, cut at a sentence boundary."""
    body = hit.text
    if ": " in body[:160] and hit.title and body.startswith(hit.title):
        body = body.split(": ", 1)[1]
    if body.startswith("Вопрос:") and "Ответ:" in body:
        body = body.split("Ответ:", 1)[1]
    body = re.sub(r"[*_`#>]+", "", body)
    body = re.sub(r"^\s*[-•]\s*", "", body, flags=re.MULTILINE)
    body = " ".join(line.strip().rstrip(";") + ("" if line.strip().endswith((".", "!", "?", ":")) else ".")
                    for line in body.splitlines() if line.strip())
    if len(body) <= SNIPPET_CHARS:
        return body
    cut = body[:SNIPPET_CHARS]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    return cut[: end + 1] if end > 80 else cut.rstrip() + "…"


def _product_reply(matches: list[ProductMatch], intent: str, tenant: Tenant, language: str) -> Draft:
    top = matches[0]
    product = top.product
    address, tone = AddressForm(tenant.address_form), Tone(tenant.tone)

    def phrase(key: str, **values) -> str:
        return texts.offline_phrase(key, address=address, tone=tone, language=language, **values)

    parts = [phrase("price_line", name=product.name, price=format_price(product.price, product.currency))]
    if product.stock is None:
        parts.append(phrase("stock_line_unknown"))
    elif product.stock > 0:
        parts.append(phrase("stock_line_in", stock=product.stock))
    else:
        parts.append(phrase("stock_line_out"))
    # Products the question names just as well (two TVs for "a TV") are offered too, with their prices.
    ties = [m for m in matches[1:] if m.matched >= top.matched]
    if ties:
        items = ", ".join(f"{m.product.name} — {format_price(m.product.price, m.product.currency)}"
                          for m in ties[:ALSO_MAX])
        parts.append(phrase("also", items=items))
    if intent == "discount":
        parts.append(phrase("discount_none") if not tenant.allow_discounts else phrase("discount_manager"))
    elif product.stock is None or product.stock > 0:
        parts.append(phrase("offer_order"))
    # Sure when the question singles the product out, less so when it names a kind several products share.
    confidence = 0.55 + 0.1 * min(1.0, top.matched / 2) + (0.0 if ties else 0.25)
    return Draft(" ".join(p for p in parts if p), round(confidence, 2), "product",
                 product_ids=[product.id, *[m.product.id for m in ties[:ALSO_MAX]]])


def _knowledge_reply(question: str, knowledge: list[Hit]) -> Draft:
    """The best chunk of the wanted type. When the question names nothing that tells the chunks apart (delivery
    "to Kazan" against sections for Moscow and for Russia), the two best are quoted and confidence drops."""
    best = knowledge[0]
    query_stems = {stem(w) for w in words(question) if len(w) >= 3}
    chunk_stems = [{stem(w) for w in words(h.text)} for h in knowledge]
    distinctive = {q for q in query_stems
                   if any(q in s for s in chunk_stems) and not all(q in s for s in chunk_stems)}
    if len(knowledge) == 1 or distinctive & chunk_stems[0]:
        confidence = 0.75 if best.text_rank is not None else 0.55
        return Draft(_snippet(best), confidence, "knowledge", chunk_ids=[best.chunk_id])
    second = knowledge[1]
    return Draft(f"{_snippet(best)} {_snippet(second)}", 0.55, "knowledge",
                 chunk_ids=[best.chunk_id, second.chunk_id])


def respond(tenant: Tenant, intent: str, question: str, hits: list[Hit], language: str | None) -> Draft:
    language = "en" if language == "en" else "ru"
    address, tone = AddressForm(tenant.address_form), Tone(tenant.tone)

    def phrase(key: str, **values) -> str:
        return texts.offline_phrase(key, address=address, tone=tone, language=language, **values)

    if intent == "greeting":
        return Draft(phrase("greeting"), 0.9, "greeting")
    if intent in ("human_request", "complaint"):
        return Draft(phrase("handoff"), 0.5, "handoff")

    matches = rank_products(question, hits)
    named = [m for m in matches if m.matched > 0]
    if intent in PRODUCT_INTENTS and named:
        return _product_reply(named, intent, tenant, language)
    if intent == "discount":
        return Draft(phrase("discount_manager"), 0.4, "handoff")

    wanted = INTENT_DOC_TYPES.get(intent, INTENT_DOC_TYPES["other"])
    knowledge = [h for h in hits if h.product is None and h.doc_type in wanted]
    if intent not in INTENT_DOC_TYPES or intent == "other":
        # No intent to say which page answers: only a page sharing words with the question is on topic.
        knowledge = [h for h in knowledge if h.text_rank is not None]
    # The most wanted type first; within it, chunks that share words with the question (full text) first.
    knowledge.sort(key=lambda h: (wanted.index(h.doc_type), h.text_rank is None, -h.score))
    if knowledge:
        same_type = [h for h in knowledge if h.doc_type == knowledge[0].doc_type]
        return _knowledge_reply(question, same_type)
    # Nothing the question names: a person picks the product, the responder never guesses one.
    return Draft(phrase("not_found"), 0.2, "not_found")
