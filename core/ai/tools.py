"""Tools the model may call while drafting a reply (LLM mode, the OpenAI tools API): catalog search (by name, SKU or
attributes, with price, stock and variants), knowledge-base search, and a lead — a customer's request a manager
must approve before it is recorded.

The pipeline's generation step (core.ai.pipeline) offers TOOL_SPECS with every reply request; when the model answers
with tool calls, each runs here in a short read-only unit of work of its own (no transaction stays open while the
model thinks) and its result goes back as a `tool` message. What the tools returned is kept in a ToolRun: the
products and knowledge texts join what the self-check trusts (a price or a stock figure must come from the retrieved
context or a tool result), their chunks join the suggestion's sources, and the leads are staged in the pipeline's
final unit of work:

- an outbox command LEAD_KIND in state pending_approval, whose execution (once approved) posts «lead recorded» in the
  dialog's topic;
- a card in the topic (LEAD_CARD_KIND, a keyed post) with Approve / Reject buttons (callback data `lead:ok:<id>` /
  `lead:no:<id>`, handled by bot/handlers/leads.py through `decide_lead`).

Approving records the lead as a `lead_created` event (product, quantity, contact, comment, the dialog, who approved);
rejecting cancels the command, posts «rejected» under the card and records `lead_rejected`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events, outbox
from ..db import Database, lock_dialog
from ..dispatcher import notify
from ..models import CommandState, Dialog, DocType, OutboxCommand, Product
from ..permissions import Permission
from .retrieval import Hit, ProductFact, hybrid_search, product_fact, product_name_hits, rank_products
from .textutil import format_price

log = logging.getLogger(__name__)

SEARCH_CATALOG = "search_catalog"
SEARCH_KNOWLEDGE = "search_knowledge"
CREATE_LEAD = "create_lead"

LEAD_KIND = "ai_lead"  # pending approval; executed: «lead recorded» in the topic ({topic_id, view, data, lead})
LEAD_CARD_KIND = "ai_lead_card"  # the card with Approve / Reject ({topic_id, view "keyed", data})
LEAD_NOTICE_KIND = "ai_lead_notice"  # «rejected» under the card
LEAD_CALLBACK = "lead"  # callback data prefix: lead:<ok|no>:<command id>

CATALOG_RESULTS = 5
KNOWLEDGE_RESULTS = 4
MAX_TOOL_CALLS = 8  # per draft: a model that keeps calling gets an error result instead
MAX_LEADS = 2
TEXT_LIMIT = 200  # characters of a lead's free-text fields kept


def _nullable(kind: str, description: str) -> dict:
    return {"type": [kind, "null"], "description": description}


TOOL_SPECS: list[dict] = [
    {"type": "function", "function": {
        "name": SEARCH_CATALOG,
        "description": "Search the shop's catalog by product name, brand, SKU or attributes. Returns each product's "
                       "exact price, stock and variants: quote prices and stock only from here or from the "
                       "products already given to you.",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {
                "query": _nullable("string", "Name, brand, kind or attributes, e.g. 'кофемашина DeLonghi'"),
                "sku": _nullable("string", "An exact SKU, when the customer gave one"),
                "max_price": _nullable("number", "Only products up to this price"),
                "in_stock_only": _nullable("boolean", "Only products in stock"),
            },
            "required": ["query", "sku", "max_price", "in_stock_only"],
            "additionalProperties": False,
        },
    }},
    {"type": "function", "function": {
        "name": SEARCH_KNOWLEDGE,
        "description": "Search the shop's knowledge base (delivery, payment, returns, warranty, services, FAQ). "
                       "Quote terms, fees and addresses only from here or from the documents already given to you.",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "What to look up, e.g. 'доставка в Казань'"}},
            "required": ["query"],
            "additionalProperties": False,
        },
    }},
    {"type": "function", "function": {
        "name": CREATE_LEAD,
        "description": "Pass the customer's order or request to a manager, who confirms it. Use it when the "
                       "customer wants to buy, reserve or be called back. The lead is not confirmed until a "
                       "manager approves it: never tell the customer it is done, say a manager will confirm.",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {
                "product_sku": _nullable("string", "The SKU of the product, if any"),
                "quantity": _nullable("integer", "How many"),
                "customer_name": _nullable("string", "The customer's name, if they gave it"),
                "contact": _nullable("string", "A phone number or other contact the customer gave"),
                "comment": {"type": "string", "description": "What the customer wants, in a sentence"},
            },
            "required": ["product_sku", "quantity", "customer_name", "contact", "comment"],
            "additionalProperties": False,
        },
    }},
]


@dataclass
class ToolRun:
    """What the tools returned while one reply was drafted."""

    products: dict[int, ProductFact] = field(default_factory=dict)
    knowledge: dict[int, Hit] = field(default_factory=dict)  # chunk id → knowledge hit
    product_hits: dict[int, Hit] = field(default_factory=dict)  # chunk id → product hit (for the sources)
    leads: list[dict] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)  # {name, arguments, ok, error?}

    @property
    def knowledge_texts(self) -> list[str]:
        return [h.text for h in self.knowledge.values()]

    def hits(self) -> list[Hit]:
        return [*self.product_hits.values(), *self.knowledge.values()]


@dataclass
class ToolContext:
    db: Database
    tenant_id: int
    embedder_name: str | None


def assistant_message(text: str, tool_calls: list[dict]) -> dict:
    """The model's turn that asked for tools, in the wire form the API expects back in the history."""
    return {"role": "assistant", "content": text or None, "tool_calls": [
        {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"] or "{}"}}
        for c in tool_calls]}


def _result(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False)


async def execute(ctx: ToolContext, run: ToolRun, call: dict) -> dict:
    """Run one tool call; returns the `tool` message answering it (errors are results the model can read)."""
    name = call.get("name")
    record = {"name": name, "arguments": call.get("arguments"), "ok": False}
    run.calls.append(record)
    try:
        arguments = json.loads(call.get("arguments") or "{}")
        if not isinstance(arguments, dict):
            raise ValueError("arguments must be a JSON object")
    except ValueError as exc:
        record["error"] = f"invalid arguments: {exc}"
        return _tool_message(call, {"error": record["error"]})
    if len(run.calls) > MAX_TOOL_CALLS:
        record["error"] = "too many tool calls"
        return _tool_message(call, {"error": "too many tool calls: answer with what you have"})
    try:
        if name == SEARCH_CATALOG:
            payload = await _search_catalog(ctx, run, arguments)
        elif name == SEARCH_KNOWLEDGE:
            payload = await _search_knowledge(ctx, run, arguments)
        elif name == CREATE_LEAD:
            payload = await _create_lead(ctx, run, arguments)
        else:
            payload = {"error": f"unknown tool {name!r}"}
    except (TypeError, ValueError, InvalidOperation) as exc:
        payload = {"error": f"invalid arguments: {exc}"}
    record["ok"] = "error" not in payload
    if not record["ok"]:
        record["error"] = payload["error"]
    return _tool_message(call, payload)


def _tool_message(call: dict, payload: dict) -> dict:
    return {"role": "tool", "tool_call_id": call.get("id"), "content": _result(payload)}


def _availability(p: ProductFact) -> str:
    if p.stock is None:
        return "to_order"
    return "in_stock" if p.stock > 0 else "out_of_stock"


def product_result(p: ProductFact) -> dict:
    return {
        "sku": p.sku, "name": p.name, "price": format_price(p.price, p.currency), "stock": p.stock,
        "availability": _availability(p),
        "variants": [{"name": name, "price": format_price(price, p.currency) if price is not None else None}
                     for name, price in p.variants],
        "delivery": p.delivery or None, "description": p.description[:300],
    }


async def _search_catalog(ctx: ToolContext, run: ToolRun, args: dict) -> dict:
    query = str(args.get("query") or "").strip()
    sku = str(args.get("sku") or "").strip()
    max_price = Decimal(str(args["max_price"])) if args.get("max_price") not in (None, "") else None
    in_stock_only = bool(args.get("in_stock_only"))
    if not query and not sku:
        return {"error": "give a query or a sku"}
    async with ctx.db.unit_of_work() as session:
        found: list[tuple[ProductFact, Hit | None]] = []
        if sku:
            rows = (await session.execute(select(Product).where(
                Product.tenant_id == ctx.tenant_id, Product.is_active, func.lower(Product.sku) == sku.lower(),
            ))).scalars()
            found = [(product_fact(p), None) for p in rows]
        if query and not found:
            hits = await hybrid_search(session, ctx.tenant_id, query, None, embedder_name=ctx.embedder_name,
                                       limit=12, doc_types=[DocType.PRODUCT])
            seen = {h.chunk_id for h in hits}
            hits += [h for h in await product_name_hits(session, ctx.tenant_id, query, limit=6)
                     if h.chunk_id not in seen]
            by_product = {h.product.id: h for h in hits if h.product is not None}
            found = [(m.product, by_product.get(m.product.id)) for m in rank_products(query, hits)]
    if max_price is not None:
        found = [(p, h) for p, h in found
                 if p.price <= max_price or any(v <= max_price for v in p.variant_prices)]
    if in_stock_only:
        found = [(p, h) for p, h in found if p.stock is None or p.stock > 0]
    found = found[:CATALOG_RESULTS]
    for product, hit in found:
        run.products[product.id] = product
        if hit is not None:
            run.product_hits[hit.chunk_id] = hit
    return {"products": [product_result(p) for p, _ in found]}


async def _search_knowledge(ctx: ToolContext, run: ToolRun, args: dict) -> dict:
    query = str(args.get("query") or "").strip()
    if not query:
        return {"error": "give a query"}
    types = [t for t in DocType if t != DocType.PRODUCT]
    async with ctx.db.unit_of_work() as session:
        hits = await hybrid_search(session, ctx.tenant_id, query, None, embedder_name=ctx.embedder_name,
                                   limit=KNOWLEDGE_RESULTS, doc_types=types)
    for hit in hits:
        run.knowledge[hit.chunk_id] = hit
    return {"results": [{"title": h.title, "text": h.text} for h in hits]}


def _text(value, limit: int = TEXT_LIMIT) -> str | None:
    value = " ".join(str(value).split()) if value not in (None, "") else ""
    return value[:limit] or None


async def _create_lead(ctx: ToolContext, run: ToolRun, args: dict) -> dict:
    if len(run.leads) >= MAX_LEADS:
        return {"error": "this conversation already has a lead waiting for a manager"}
    comment = _text(args.get("comment"))
    if not comment:
        return {"error": "describe the request in comment"}
    quantity = args.get("quantity")
    if quantity is not None:
        quantity = int(quantity)
        if not 1 <= quantity <= 10_000:
            return {"error": "quantity must be between 1 and 10000"}
    lead = {"product_sku": None, "product_id": None, "product": None, "price": None, "quantity": quantity,
            "customer_name": _text(args.get("customer_name"), 100), "contact": _text(args.get("contact"), 100),
            "comment": comment}
    sku = _text(args.get("product_sku"), 64)
    if sku:
        async with ctx.db.unit_of_work() as session:
            product = (await session.execute(select(Product).where(
                Product.tenant_id == ctx.tenant_id, Product.is_active, func.lower(Product.sku) == sku.lower(),
            ))).scalars().first()
        if product is None:
            return {"error": f"no product with SKU {sku}: search the catalog first"}
        fact = product_fact(product)
        run.products[fact.id] = fact
        lead.update(product_sku=fact.sku, product_id=fact.id, product=fact.name,
                    price=format_price(fact.price, fact.currency))
    run.leads.append(lead)
    return {"status": "waiting_for_manager_approval",
            "note": "A manager will confirm this request; tell the customer so, do not confirm it yourself."}


# ---------------------------------------------------------------------------------------------------- leads

def lead_callback(action: str, command_id: int) -> str:
    """Callback data of the card's buttons: aiogram's CallbackData format for LeadAction (bot/handlers/leads.py)."""
    return f"{LEAD_CALLBACK}:{action}:{command_id}"


def _keyed(key: str, buttons: list[list[dict]] | None = None, **params) -> dict:
    return {"key": key, "params": params, "buttons": buttons or []}


def _card_params(lead: dict, locale_none: str = "—") -> dict:
    product = lead.get("product")
    if product and lead.get("product_sku"):
        product = f"{product} ({lead['product_sku']}), {lead.get('price')}"
    return {"product": product or locale_none, "quantity": lead.get("quantity") or 1,
            "name": lead.get("customer_name") or locale_none, "contact": lead.get("contact") or locale_none,
            "comment": lead.get("comment") or locale_none}


async def stage_leads(session: AsyncSession, dialog: Dialog, suggestion_id: int, leads: list[dict]) -> list[int]:
    """In the pipeline's final unit of work (the dialog row locked): each lead the model asked for becomes a command
    waiting for approval and a card in the dialog's topic. Returns the commands' ids (none without a manager group:
    nobody could approve them)."""
    from ..services.workspace import routing, topics

    if not leads:
        return []
    group = await routing.route_dialog(session, dialog)
    if group is None:
        events.record(session, "lead_unrouted", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                      suggestion_id=suggestion_id, leads=leads)
        return []
    topic, _ = await topics.ensure_topic(session, dialog, group)
    ids = []
    for n, lead in enumerate(leads):
        params = _card_params(lead)
        command = await outbox.enqueue(
            session, kind=LEAD_KIND, destination=outbox.tg_group(group.chat_id),
            idempotency_key=f"lead:{suggestion_id}:{n}", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
            suggestion_id=suggestion_id, state=CommandState.PENDING_APPROVAL,
            payload={"topic_id": topic.id, "view": "keyed", "data": _keyed("tools.lead.approved", **params),
                     "reply_to": None, "lead": lead},
        )
        buttons = [[{"key": "tools.lead.approve", "data": lead_callback("ok", command.id)},
                    {"key": "tools.lead.reject", "data": lead_callback("no", command.id)}]]
        await outbox.enqueue(
            session, kind=LEAD_CARD_KIND, destination=outbox.tg_group(group.chat_id),
            idempotency_key=f"lead-card:{command.id}", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
            suggestion_id=suggestion_id,
            payload={"topic_id": topic.id, "view": "keyed", "data": _keyed("tools.lead.card", buttons, **params),
                     "reply_to": None},
        )
        events.record(session, "lead_requested", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                      command_id=command.id, suggestion_id=suggestion_id, **lead)
        ids.append(command.id)
    await notify(session)
    return ids


async def decide_lead(session: AsyncSession, actor, command_id: int, *, approve: bool,
                      card_message_id: int | None = None) -> OutboxCommand:
    """A manager's Approve / Reject on a lead card. Approve: the command goes out («lead recorded» under the card)
    and the lead is recorded as a `lead_created` event; Reject: the command is cancelled, «rejected» is posted under
    the card and `lead_rejected` recorded. A lead already decided (a second press, a colleague first) is refused."""
    from ..services.workspace.base import WorkspaceError

    actor.require(Permission.MANAGE_CONVERSATIONS)
    command = await session.get(OutboxCommand, command_id)
    if command is None or command.kind != LEAD_KIND or command.tenant_id != actor.tenant_id:
        raise WorkspaceError("tools.lead.unknown", "no such lead")
    await lock_dialog(session, command.dialog_id)  # the lock order (core.db): the dialog row before its commands
    command = (await session.execute(
        select(OutboxCommand).where(OutboxCommand.id == command_id).with_for_update().execution_options(
            populate_existing=True))).scalar_one()
    if command.state != CommandState.PENDING_APPROVAL:
        raise WorkspaceError("tools.lead.handled", "this lead was already decided")
    lead = dict(command.payload.get("lead") or {})
    params = {**_card_params(lead), "manager": actor.name}
    if approve:
        command.payload = {**command.payload, "reply_to": card_message_id,
                           "data": _keyed("tools.lead.approved", lead=command.id, **params)}
        await outbox.approve(session, command.id, staff_id=actor.staff_id)
        events.record(session, "lead_created", tenant_id=command.tenant_id, dialog_id=command.dialog_id,
                      actor_staff_id=actor.staff_id, command_id=command.id, suggestion_id=command.suggestion_id,
                      **lead)
    else:
        await outbox.cancel(session, command.id, reason=f"rejected by {actor.name}")
        await outbox.enqueue(
            session, kind=LEAD_NOTICE_KIND, destination=command.destination,
            idempotency_key=f"lead-rejected:{command.id}", tenant_id=command.tenant_id,
            dialog_id=command.dialog_id, suggestion_id=command.suggestion_id,
            payload={"topic_id": command.payload["topic_id"], "view": "keyed", "reply_to": card_message_id,
                     "data": _keyed("tools.lead.rejected", lead=command.id, **params)},
        )
        events.record(session, "lead_rejected", tenant_id=command.tenant_id, dialog_id=command.dialog_id,
                      actor_staff_id=actor.staff_id, command_id=command.id, suggestion_id=command.suggestion_id,
                      **lead)
    return command
