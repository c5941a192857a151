"""Exact AI spend: one AIUsage row per provider call, priced from settings.ai.price_table with Decimal arithmetic.

Cost is stored with 12 decimal places, enough for any per-1M-token price with up to 6 decimals, so a row is exactly
tokens × price and any aggregate is exactly the sum of its rows — the figures owners and finance see add up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import AIUsage, UsagePurpose

log = logging.getLogger(__name__)

# The price table is USD per 1M of the model's unit: tokens for LLMs and embeddings, characters for speech synthesis,
# seconds of audio for transcription ("input": whisper-1 is $0.006 a minute, 100 per 1M seconds).
PER_UNITS = Decimal(1_000_000)
ZERO = Decimal(0)

PriceTable = dict[str, dict[str, Decimal]]


@dataclass(frozen=True)
class Usage:
    """What one provider call consumed."""

    purpose: UsagePurpose
    provider: str  # openai | elevenlabs | local
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # part of prompt_tokens billed at the cached rate
    characters: int = 0  # speech synthesis: characters spoken (AIUsage.characters)
    seconds: int = 0  # transcription: seconds of audio heard (AIUsage.seconds)


def model_prices(price_table: PriceTable, model: str) -> dict[str, Decimal] | None:
    """Exact name first, then the longest table key the name starts with (dated snapshots: gpt-4o-mini-2024-07-18)."""
    if model in price_table:
        return price_table[model]
    prefixes = [k for k in price_table if model.startswith(k)]
    return price_table[max(prefixes, key=len)] if prefixes else None


def cost_of(usage: Usage, price_table: PriceTable) -> Decimal:
    if usage.provider == "local":
        return ZERO
    prices = model_prices(price_table, usage.model)
    if prices is None:
        # Recorded at zero and logged: the row (tokens, model) is still there to be priced once the table has it.
        log.warning("no price for model %s in SALESOP_PRICE_TABLE; recorded at 0", usage.model)
        return ZERO
    input_price = Decimal(prices.get("input", ZERO))
    cached_price = Decimal(prices.get("cached", input_price))
    output_price = Decimal(prices.get("output", ZERO))
    uncached = max(0, usage.prompt_tokens - usage.cached_tokens)
    units = (
        uncached * input_price
        + usage.cached_tokens * cached_price
        + usage.completion_tokens * output_price
        + usage.characters * input_price  # a speech model's "input" is per 1M characters
        + usage.seconds * input_price  # a transcription model's "input" is per 1M seconds
    )
    return units / PER_UNITS


async def record_usage(session: AsyncSession, price_table: PriceTable, usage: Usage, *, tenant_id: int,
                       dialog_id: int | None = None) -> AIUsage:
    row = AIUsage(
        tenant_id=tenant_id, dialog_id=dialog_id, purpose=usage.purpose, provider=usage.provider, model=usage.model,
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
        cached_tokens=usage.cached_tokens, characters=usage.characters, seconds=usage.seconds,
        cost_usd=cost_of(usage, price_table),
    )
    session.add(row)
    return row


# ------------------------------------------------------------------------------------------------ aggregates

GROUPINGS = ("day", "purpose", "dialog", "model", "provider")


@dataclass
class SpendRow:
    cost_usd: Decimal = ZERO
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    characters: int = 0  # spoken by speech synthesis
    seconds: int = 0  # of audio transcribed
    keys: dict = field(default_factory=dict)  # e.g. {"day": date(2026, 11, 20), "purpose": "suggest"}

    def as_dict(self) -> dict:
        keys = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.keys.items()}
        return {**keys, "cost_usd": str(self.cost_usd), "calls": self.calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "cached_tokens": self.cached_tokens,
                "characters": self.characters, "seconds": self.seconds}


async def spend_summary(session: AsyncSession, tenant_id: int, *, since: datetime | None = None,
                        until: datetime | None = None, by: tuple[str, ...] = (), timezone: str = "UTC",
                        dialog_id: int | None = None) -> list[SpendRow]:
    """Spend of one tenant in [since, until), grouped by any of GROUPINGS (day in the given timezone).

    No grouping gives one total row. Rows are ordered by their keys. This is what the Mini App and reports call:
    `spend_summary(s, tenant.id, since=..., until=..., by=("day", "purpose"), timezone=tenant.timezone)`."""
    unknown = set(by) - set(GROUPINGS)
    if unknown:
        raise ValueError(f"unknown spend grouping {sorted(unknown)}; use {GROUPINGS}")
    columns = {
        "day": cast(func.timezone(literal(timezone), AIUsage.created_at), Date),
        "purpose": AIUsage.purpose,
        "dialog": AIUsage.dialog_id,
        "model": AIUsage.model,
        "provider": AIUsage.provider,
    }
    keys = [columns[k].label(k) for k in by]
    query = select(
        *keys,
        func.coalesce(func.sum(AIUsage.cost_usd), ZERO),
        func.count(AIUsage.id),
        func.coalesce(func.sum(AIUsage.prompt_tokens), 0),
        func.coalesce(func.sum(AIUsage.completion_tokens), 0),
        func.coalesce(func.sum(AIUsage.cached_tokens), 0),
        func.coalesce(func.sum(AIUsage.characters), 0),
        func.coalesce(func.sum(AIUsage.seconds), 0),
    ).where(AIUsage.tenant_id == tenant_id)
    if since is not None:
        query = query.where(AIUsage.created_at >= since)
    if until is not None:
        query = query.where(AIUsage.created_at < until)
    if dialog_id is not None:
        query = query.where(AIUsage.dialog_id == dialog_id)
    if keys:
        query = query.group_by(*keys).order_by(*keys)
    rows = []
    for row in (await session.execute(query)).all():
        key_values = dict(zip(by, row[: len(by)]))
        if "purpose" in key_values and isinstance(key_values["purpose"], UsagePurpose):
            key_values["purpose"] = key_values["purpose"].value
        cost, calls, prompt, completion, cached, chars, seconds = row[len(by):]
        rows.append(SpendRow(cost_usd=Decimal(cost), calls=calls, prompt_tokens=prompt, completion_tokens=completion,
                             cached_tokens=cached, characters=chars, seconds=seconds, keys=key_values))
    return rows


async def spend_total(session: AsyncSession, tenant_id: int, *, since: datetime | None = None,
                      until: datetime | None = None) -> SpendRow:
    return (await spend_summary(session, tenant_id, since=since, until=until))[0]
