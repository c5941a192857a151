"""Tools for the model, through the real openai client against the OpenAI stand-in with scripted tool calls: catalog
and knowledge-base search whose results the self-check trusts (and nothing else a reply could not have been given),
and a lead the model passes on, which waits for a manager's Approve on its card in the dialog's topic before it is
recorded."""

from __future__ import annotations

import json

import openai
import pytest
from sqlalchemy import select, update

from core.ai import tools
from core.ai.demo import load_demo_shop
from core.ai.embedding import LocalEmbedder
from core.ai.pipeline import SEND_CUSTOMER_MESSAGE
from core.ai.providers import build_providers
from core.ai.retrieval import chunk_texts
from core.models import (
    AIMode,
    CommandState,
    Decision,
    Dialog,
    Event,
    OutboxCommand,
    Suggestion,
    Tenant,
)
from tests.bot.desk import build_desk, close_desk

from .conftest import API_KEY, customer_says, intent_json, make_shop, pipeline, reply_json

OPEN_LOCKS = dict(autosend_allowed=True, intents_autosend=["price", "availability", "shipping", "other"],
                  allow_discounts=False)
GIFT_QUESTION = "Мама любит гладить рубашки, что подарить?"  # retrieval finds neither the iron nor СДЭК
IRON = "Утюг Tefal FV6872"  # TD-009 in the demo catalog: 6 790 ₽, 15 in stock
IRON_REPLY = "Посмотрите утюг Tefal FV6872: он стоит 6 790 ₽, в наличии 15 шт."


def call(name: str, call_id: str, **arguments) -> dict:
    return {"id": call_id, "name": name, "arguments": arguments}


async def _suggestion(db, suggestion_id) -> Suggestion:
    async with db.unit_of_work() as session:
        return await session.get(Suggestion, suggestion_id)


async def _auto_dialogs(db) -> None:
    async with db.unit_of_work() as session:
        await session.execute(update(Dialog).values(ai_mode=AIMode.AUTO))


def _reply_requests(sandbox) -> list[dict]:
    return [r for r in sandbox.requests if r.get("tools")]


async def test_a_price_from_a_catalog_search_is_trusted_and_leaves(db, ai_settings, online, openai_sandbox):
    shop = await make_shop(db, online, ai_settings, **OPEN_LOCKS)
    message_id = await customer_says(db, shop, GIFT_QUESTION)
    await _auto_dialogs(db)
    openai_sandbox.script_reply(json=intent_json("other"))
    openai_sandbox.script_reply(tool_calls=[call(tools.SEARCH_CATALOG, "call_iron", query="утюг", sku=None,
                                                 max_price=8000, in_stock_only=True)])
    openai_sandbox.script_reply(json=reply_json(IRON_REPLY, 0.95))
    result = await pipeline(db, online, ai_settings).run(message_id)

    # The model asked, got the catalog's figures back as a tool message, then answered with them.
    first, second = _reply_requests(openai_sandbox)
    assert {t["function"]["name"] for t in first["tools"]} == {"search_catalog", "search_knowledge", "create_lead"}
    assert second["messages"][-2]["tool_calls"][0]["id"] == "call_iron"
    answer = second["messages"][-1]
    assert answer["role"] == "tool" and answer["tool_call_id"] == "call_iron"
    found = json.loads(answer["content"])["products"]
    assert found[0]["sku"] == "TD-009" and found[0]["price"] == "6\u00a0790 ₽" and found[0]["stock"] == 15
    assert all(p["availability"] == "in_stock" for p in found)

    suggestion = await _suggestion(db, result.suggestion_id)
    assert suggestion.checks["prices"] == {"ok": True, "problems": []}
    assert suggestion.checks["stock"]["ok"] is True
    assert result.decision == Decision.AUTO_SEND
    assert suggestion.inputs["tool_calls"] == [{"name": "search_catalog", "arguments": json.dumps(
        {"query": "утюг", "sku": None, "max_price": 8000, "in_stock_only": True}, ensure_ascii=False), "ok": True}]
    # The product the tool found is among the sources the card can list.
    assert "TD-009" in {s["product"]["sku"] for s in suggestion.sources if "product" in s}


async def test_the_same_price_with_nothing_behind_it_is_held(db, ai_settings, online, openai_sandbox):
    """Without the tool call the iron was never given to the model: its catalog price backs nothing."""
    shop = await make_shop(db, online, ai_settings, **OPEN_LOCKS)
    message_id = await customer_says(db, shop, GIFT_QUESTION)
    await _auto_dialogs(db)
    openai_sandbox.script_reply(json=intent_json("other"))
    openai_sandbox.script_reply(json=reply_json(IRON_REPLY, 0.95))
    result = await pipeline(db, online, ai_settings).run(message_id)

    suggestion = await _suggestion(db, result.suggestion_id)
    assert "TD-009" not in {s["product"]["sku"] for s in suggestion.sources if "product" in s}
    assert not suggestion.checks["prices"]["ok"] and "6 790" in " ".join(suggestion.checks["prices"]["problems"])
    assert result.decision != Decision.AUTO_SEND
    async with db.unit_of_work() as session:
        sends = (await session.execute(select(OutboxCommand).where(OutboxCommand.kind == SEND_CUSTOMER_MESSAGE)))
        assert sends.scalars().all() == []


async def test_a_figure_the_tool_did_not_return_fails_the_check(db, ai_settings, online, openai_sandbox):
    shop = await make_shop(db, online, ai_settings, **OPEN_LOCKS)
    message_id = await customer_says(db, shop, GIFT_QUESTION)
    await _auto_dialogs(db)
    openai_sandbox.script_reply(json=intent_json("other"))
    openai_sandbox.script_reply(tool_calls=[call(tools.SEARCH_CATALOG, "call_1", query=None, sku="td-009",
                                                 max_price=None, in_stock_only=None)])
    openai_sandbox.script_reply(json=reply_json("Утюг Tefal FV6872 сейчас всего 5 990 ₽, в наличии 20 шт.", 0.95))
    result = await pipeline(db, online, ai_settings).run(message_id)

    suggestion = await _suggestion(db, result.suggestion_id)
    assert not suggestion.checks["prices"]["ok"] and not suggestion.checks["stock"]["ok"]
    assert result.decision != Decision.AUTO_SEND


async def test_delivery_terms_from_a_knowledge_search_are_trusted(db, ai_settings, online, openai_sandbox):
    shop = await make_shop(db, online, ai_settings, **OPEN_LOCKS)
    message_id = await customer_says(db, shop, GIFT_QUESTION)
    await _auto_dialogs(db)
    reply = "Утюг Tefal FV6872 стоит 6 790 ₽. Доставка до пункта выдачи СДЭК стоит 490 рублей, срок 2–7 дней."
    openai_sandbox.script_reply(json=intent_json("other"))
    openai_sandbox.script_reply(tool_calls=[
        call(tools.SEARCH_CATALOG, "call_a", query="утюг Tefal", sku=None, max_price=None, in_stock_only=None),
        call(tools.SEARCH_KNOWLEDGE, "call_b", query="доставка по России срок"),
    ])
    openai_sandbox.script_reply(json=reply_json(reply, 0.95))
    result = await pipeline(db, online, ai_settings).run(message_id)

    _, second = _reply_requests(openai_sandbox)
    answers = {m["tool_call_id"]: json.loads(m["content"]) for m in second["messages"] if m["role"] == "tool"}
    assert any("490" in r["text"] and "2–7" in r["text"] for r in answers["call_b"]["results"])
    suggestion = await _suggestion(db, result.suggestion_id)
    assert suggestion.checks["prices"]["ok"] and suggestion.checks["terms"]["ok"], suggestion.checks
    assert result.decision == Decision.AUTO_SEND

    # The same terms with no knowledge search behind them are not trusted.
    message_id = await customer_says(db, shop, GIFT_QUESTION, user="502")
    await _auto_dialogs(db)
    openai_sandbox.script_reply(json=intent_json("other"))
    openai_sandbox.script_reply(tool_calls=[
        call(tools.SEARCH_CATALOG, "call_c", query="утюг Tefal", sku=None, max_price=None, in_stock_only=None)])
    openai_sandbox.script_reply(json=reply_json(reply, 0.95))
    result = await pipeline(db, online, ai_settings).run(message_id)
    suggestion = await _suggestion(db, result.suggestion_id)
    async with db.unit_of_work() as session:
        seen = await chunk_texts(session, [s["chunk_id"] for s in suggestion.sources if s.get("chunk_id")])
    assert not any("СДЭК" in text_ for text_ in seen.values())  # nothing gave the model the delivery terms
    assert not suggestion.checks["prices"]["ok"] and not suggestion.checks["terms"]["ok"], suggestion.checks
    assert result.decision != Decision.AUTO_SEND


async def test_bad_tool_calls_get_error_results_and_a_model_that_never_answers_fails(db, ai_settings, online,
                                                                                      openai_sandbox):
    shop = await make_shop(db, online, ai_settings)
    message_id = await customer_says(db, shop, GIFT_QUESTION)
    openai_sandbox.script_reply(json=intent_json("other"))
    for n in range(4):
        openai_sandbox.script_reply(tool_calls=[
            {"id": f"c{n}", "name": tools.CREATE_LEAD, "arguments": "{not json"},
            call(tools.CREATE_LEAD, f"d{n}", product_sku="NO-SUCH", quantity=1, customer_name=None, contact=None,
                 comment="купить")])
    result = await pipeline(db, online, ai_settings).run(message_id)

    suggestion = await _suggestion(db, result.suggestion_id)
    assert suggestion.state.value == "failed" and "kept calling tools" in suggestion.inputs["ai_error"]
    last = _reply_requests(openai_sandbox)[-1]["messages"]
    errors = [json.loads(m["content"])["error"] for m in last if m["role"] == "tool"]
    assert errors[:2] == ["invalid arguments: Expecting property name enclosed in double quotes: line 1 column 2 "
                          "(char 1)", "no product with SKU NO-SUCH: search the catalog first"]
    async with db.unit_of_work() as session:
        assert (await session.execute(select(OutboxCommand).where(OutboxCommand.kind == tools.LEAD_KIND))
                ).scalars().all() == []


async def test_the_stand_in_checks_tool_turns_as_the_api_does(openai_sandbox):
    client = openai.AsyncOpenAI(base_url=openai_sandbox.base_url, api_key=API_KEY, max_retries=0)
    try:
        # Our tool definitions pass the strict schema rules.
        openai_sandbox.script_reply(tool_calls=[call(tools.SEARCH_KNOWLEDGE, "k1", query="оплата")])
        response = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Как оплатить?"}], tools=tools.TOOL_SPECS)
        assert response.choices[0].finish_reason == "tool_calls"
        assert response.choices[0].message.tool_calls[0].function.name == "search_knowledge"
        # A tool result must answer a call of the previous assistant turn.
        with pytest.raises(openai.BadRequestError, match="must be a response to a preceeding message"):
            await client.chat.completions.create(model="gpt-4o-mini", tools=tools.TOOL_SPECS, messages=[
                {"role": "user", "content": "Как оплатить?"},
                {"role": "tool", "tool_call_id": "k1", "content": "{}"}])
        with pytest.raises(openai.BadRequestError, match="did not have response messages: k1"):
            await client.chat.completions.create(model="gpt-4o-mini", tools=tools.TOOL_SPECS, messages=[
                {"role": "user", "content": "Как оплатить?"},
                tools.assistant_message("", [{"id": "k1", "name": "search_knowledge", "arguments": "{}"}]),
                {"role": "user", "content": "?"}])
        # Strict function schemas must list every property as required.
        loose = {"type": "function", "function": {"name": "find", "strict": True, "parameters": {
            "type": "object", "properties": {"q": {"type": "string"}}, "required": [],
            "additionalProperties": False}}}
        with pytest.raises(openai.BadRequestError, match="Missing 'q'"):
            await client.chat.completions.create(model="gpt-4o-mini", tools=[loose],
                                                 messages=[{"role": "user", "content": "?"}])
    finally:
        await client.close()


# ------------------------------------------------------------------------------------------------ leads

@pytest.fixture
async def desk(settings):
    desk, resources = await build_desk(database_url=settings.db.database_url.get_secret_value(),
                                       master_key=settings.security.master_key.get_secret_value(),
                                       data_dir=settings.data_dir)
    try:
        async with desk.db.unit_of_work() as session:
            await load_demo_shop(session, desk.tenant_id, LocalEmbedder(), settings.ai.price_table)
            await session.execute(update(Tenant).where(Tenant.id == desk.tenant_id).values(name="ТехноДом"))
        yield desk
    finally:
        await close_desk(resources)


def _lead_cards(desk, thread_id: int) -> list[dict]:
    return [m for m in desk.thread(thread_id)
            if any(b.get("callback_data", "").startswith("lead:") for row in (m["reply_markup"] or {}).get(
                "inline_keyboard", []) for b in row)]


async def _customer_orders(desk, ai_settings, openai_sandbox, user: dict, *, contact: str) -> tuple[int, int]:
    received = await desk.customer_writes(user, "Беру кофемашину DeLonghi, оформите, пожалуйста. Мой телефон "
                                                + contact)
    openai_sandbox.script_reply(json=intent_json("order_status"))
    openai_sandbox.script_reply(tool_calls=[call(tools.CREATE_LEAD, "lead_1", product_sku="TD-001", quantity=1,
                                                 customer_name=user["first_name"], contact=contact,
                                                 comment="Хочет купить кофемашину, просит оформить")])
    openai_sandbox.script_reply(json=reply_json("Передала заявку менеджеру: он подтвердит заказ и свяжется с вами.",
                                                0.9))
    providers = build_providers(ai_settings)
    result = await pipeline(desk.db, providers, ai_settings).run(received.message_id)
    for name, kwargs in result.follow_ups:
        if name in desk.tasks:
            await desk.tasks[name](**kwargs)
    await desk.settle()
    topic = await desk.topic(received.dialog_id)
    async with desk.db.unit_of_work() as session:
        command = (await session.execute(select(OutboxCommand).where(
            OutboxCommand.kind == tools.LEAD_KIND, OutboxCommand.dialog_id == received.dialog_id))).scalar_one()
    return topic.thread_id, command.id


async def test_a_lead_waits_for_a_manager_and_approving_records_it(desk, ai_settings, openai_sandbox):
    customer = desk.customer("Мария", None)
    thread_id, command_id = await _customer_orders(desk, ai_settings, openai_sandbox, customer,
                                                   contact="+7 900 123-45-67")

    async with desk.db.unit_of_work() as session:
        command = await session.get(OutboxCommand, command_id)
        assert command.state == CommandState.PENDING_APPROVAL
        assert command.payload["lead"] == {
            "product_sku": "TD-001", "product_id": command.payload["lead"]["product_id"],
            "product": "Кофемашина DeLonghi Magnifica S", "price": "45\u00a0990 ₽", "quantity": 1,
            "customer_name": "Мария", "contact": "+7 900 123-45-67",
            "comment": "Хочет купить кофемашину, просит оформить"}
    [card] = _lead_cards(desk, thread_id)
    assert "Заявка клиента" in card["text"]
    assert "Кофемашина DeLonghi Magnifica S (TD-001), 45\u00a0990 ₽" in card["text"]
    assert "+7 900 123-45-67" in card["text"]
    buttons = [b["callback_data"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == [f"lead:ok:{command_id}", f"lead:no:{command_id}"]

    # A viewer may not decide; nothing is recorded.
    await desk.press(desk.viewer, card["message_id"], f"lead:ok:{command_id}")
    async with desk.db.unit_of_work() as session:
        assert (await session.get(OutboxCommand, command_id)).state == CommandState.PENDING_APPROVAL
        assert (await session.execute(select(Event).where(Event.kind == "lead_created"))).scalars().all() == []

    await desk.press(desk.manager, card["message_id"], f"lead:ok:{command_id}")
    assert desk.sb.callback_answers[-1]["text"] == "Заявка записана."
    async with desk.db.unit_of_work() as session:
        command = await session.get(OutboxCommand, command_id)
        [event] = (await session.execute(select(Event).where(Event.kind == "lead_created"))).scalars().all()
        manager_id = (await session.execute(select(Event.actor_staff_id).where(
            Event.kind == "command_approved", Event.command_id == command_id))).scalar_one()
    assert command.state == CommandState.DONE
    assert event.command_id == command_id and event.actor_staff_id == manager_id
    assert event.payload["product_sku"] == "TD-001" and event.payload["contact"] == "+7 900 123-45-67"
    recorded = desk.thread(thread_id)[-1]
    assert recorded["text"].startswith(f"✅ Заявка №{command_id} записана (Иван)")
    assert recorded["reply_to_message_id"] == card["message_id"]

    # A second press (or a colleague's) finds it decided.
    await desk.press(desk.owner, card["message_id"], f"lead:no:{command_id}")
    assert "уже рассмотрели" in desk.sb.callback_answers[-1]["text"]
    async with desk.db.unit_of_work() as session:
        assert (await session.get(OutboxCommand, command_id)).state == CommandState.DONE


async def test_a_rejected_lead_is_not_recorded(desk, ai_settings, openai_sandbox):
    customer = desk.customer("Пётр", None)
    thread_id, command_id = await _customer_orders(desk, ai_settings, openai_sandbox, customer, contact="@petr")
    [card] = _lead_cards(desk, thread_id)
    await desk.press(desk.manager, card["message_id"], f"lead:no:{command_id}")

    assert desk.sb.callback_answers[-1]["text"] == "Заявка отклонена."
    async with desk.db.unit_of_work() as session:
        assert (await session.get(OutboxCommand, command_id)).state == CommandState.CANCELLED
        kinds = [e.kind for e in (await session.execute(select(Event).where(
            Event.kind.in_(["lead_requested", "lead_created", "lead_rejected"])).order_by(Event.id))).scalars()]
    assert kinds == ["lead_requested", "lead_rejected"]
    notice = desk.thread(thread_id)[-1]
    assert notice["text"] == f"✖️ Заявка №{command_id} отклонена (Иван)."
    assert notice["reply_to_message_id"] == card["message_id"]
