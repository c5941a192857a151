"""Spend adds up exactly: every provider call is a row, each row is tokens × the price table, and every
aggregate (per day, purpose, dialog) sums to the same total — which also matches what the provider counted."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.ai.pipeline import refresh_customer_memory
from core.ai.spend import Usage, cost_of, spend_summary, spend_total
from core.models import AIUsage, Customer, Suggestion, UsagePurpose
from sandbox.openai_api import count_tokens

from .conftest import FixedClock, NOON, customer_says, intent_json, make_shop, pipeline, reply_json

PRICES = {"input": Decimal("0.15"), "cached": Decimal("0.075"), "output": Decimal("0.60")}
EMBED_PRICE = Decimal("0.02")
MILLION = Decimal(1_000_000)


async def _dialog_of(db, suggestion_id) -> int:
    async with db.unit_of_work() as session:
        return (await session.get(Suggestion, suggestion_id)).dialog_id


def chat_cost(prompt: int, completion: int, cached: int) -> Decimal:
    return ((prompt - cached) * PRICES["input"] + cached * PRICES["cached"] + completion * PRICES["output"]) / MILLION


async def test_spend_totals_equal_usage_times_price(db, ai_settings, online, openai_sandbox):
    shop = await make_shop(db, online, ai_settings)
    expected = Decimal(0)
    # Odd token counts and odd cached counts: exactness must not depend on round numbers.
    usages = [
        ({"prompt_tokens": 301, "completion_tokens": 7}, {"prompt_tokens": 2049, "completion_tokens": 123,
                                                         "prompt_tokens_details": {"cached_tokens": 1031}}),
        ({"prompt_tokens": 299, "completion_tokens": 5}, {"prompt_tokens": 1777, "completion_tokens": 99,
                                                         "prompt_tokens_details": {"cached_tokens": 3}}),
        ({"prompt_tokens": 333, "completion_tokens": 9}, {"prompt_tokens": 4097, "completion_tokens": 1,
                                                         "prompt_tokens_details": {"cached_tokens": 4095}}),
    ]
    dialog_ids = []
    for n, (intent_usage, reply_usage) in enumerate(usages):
        message_id = await customer_says(db, shop, "Сколько стоит кофемашина?", user=str(700 + n))
        openai_sandbox.script_reply(json=intent_json("price"), usage=intent_usage)
        openai_sandbox.script_reply(json=reply_json("Кофемашина стоит 45 990 ₽."), usage=reply_usage)
        result = await pipeline(db, online, ai_settings).run(message_id)
        dialog_ids.append(await _dialog_of(db, result.suggestion_id))
        for u in (intent_usage, reply_usage):
            expected += chat_cost(u["prompt_tokens"], u["completion_tokens"],
                                  u.get("prompt_tokens_details", {}).get("cached_tokens", 0))

    # A memory refresh is spend too.
    async with db.unit_of_work() as session:
        customer_id = (await session.execute(select(Customer.id).order_by(Customer.id))).scalars().first()
    openai_sandbox.script_reply(json={"summary": "Хочет кофемашину", "preferences": ["DeLonghi"], "topics": ["цена"]},
                                usage={"prompt_tokens": 513, "completion_tokens": 41})
    assert await refresh_customer_memory(db, online, ai_settings, FixedClock(NOON), customer_id)
    async with db.unit_of_work() as session:
        customer = await session.get(Customer, customer_id)
        assert (customer.summary, customer.memory["preferences"]) == ("Хочет кофемашину", ["DeLonghi"])
    expected += chat_cost(513, 41, 0)

    # Embeddings: what the stand-in billed for every input it received (catalog import and each question).
    embed_tokens = sum(count_tokens(text_) for r in openai_sandbox.requests if "input" in r for text_ in r["input"])
    expected += embed_tokens * EMBED_PRICE / MILLION

    async with db.unit_of_work() as session:
        total = await spend_total(session, shop.tenant_id)
        by_purpose = await spend_summary(session, shop.tenant_id, by=("purpose",))
        by_day = await spend_summary(session, shop.tenant_id, by=("day",), timezone="Europe/Moscow")
        by_dialog = await spend_summary(session, shop.tenant_id, by=("dialog",))
        one_dialog = await spend_summary(session, shop.tenant_id, dialog_id=dialog_ids[0])
        rows = (await session.execute(select(AIUsage))).scalars().all()

    assert total.cost_usd == expected  # exact Decimal equality, not approximately
    assert total.calls == len(rows) == 3 * 3 + 1 + 5  # (intent, embed, reply) × 3, summary, 5 imports
    assert {r.keys["purpose"] for r in by_purpose} == {"embed", "intent", "suggest", "summary"}
    for grouping in (by_purpose, by_day, by_dialog):
        assert sum(r.cost_usd for r in grouping) == total.cost_usd
        assert sum(r.calls for r in grouping) == total.calls
    assert len(by_day) == 1
    # The provider's own counters agree with ours.
    assert total.prompt_tokens == openai_sandbox.usage_totals["prompt_tokens"]
    assert total.completion_tokens == openai_sandbox.usage_totals["completion_tokens"]
    assert total.cached_tokens == openai_sandbox.usage_totals["cached_tokens"] == 1031 + 3 + 4095
    # Per dialog: that dialog's intent, embedding and reply.
    assert one_dialog[0].calls == 3 and one_dialog[0].cost_usd == \
        chat_cost(301, 7, 0) + chat_cost(2049, 123, 1031) + next(r.cost_usd for r in rows if r.dialog_id ==
                                                               dialog_ids[0] and r.purpose == UsagePurpose.EMBED)


def test_cost_of_tts_and_unknown_models():
    table = {"eleven_multilingual_v2": {"input": Decimal("180"), "cached": Decimal("0"), "output": Decimal("0")},
             "gpt-4o-mini": PRICES}
    assert cost_of(Usage(UsagePurpose.TTS, "elevenlabs", "eleven_multilingual_v2", characters=1234), table) == \
        Decimal("0.22212")
    # A dated snapshot is priced as its model.
    assert cost_of(Usage(UsagePurpose.SUGGEST, "openai", "gpt-4o-mini-2024-07-18", prompt_tokens=1000), table) == \
        Decimal("0.00015")
    assert cost_of(Usage(UsagePurpose.SUGGEST, "openai", "mystery-model", prompt_tokens=1000), table) == 0
    assert cost_of(Usage(UsagePurpose.EMBED, "local", "local-hash-v2", prompt_tokens=1000), table) == 0
