"""AI spend in the period, by day, model and purpose: core.ai.spend over [start, end), tenant-wide (embeddings and
other calls belong to no dialog), so its total is exactly what `salesop spend` adds up for the same interval."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from ...ai import spend as ai_spend
from .period import Period


@dataclass(frozen=True)
class SpendLine:
    key: str  # the day (ISO date, tenant's zone), model or purpose
    cost_usd: Decimal
    calls: int
    characters: int | None = field(default=None, compare=False)  # spoken by speech synthesis (see Spend)
    seconds: int | None = field(default=None, compare=False)  # of audio transcribed


@dataclass(frozen=True)
class Spend:
    total_usd: Decimal  # exact (12 decimals): the same sum `salesop spend` prints for the same interval
    calls: int
    by_day: list[SpendLine]
    by_model: list[SpendLine]
    by_purpose: list[SpendLine]
    # Units, each of its own kind, for the AI spend page: None where they were not summed (the dashboard's rollup
    # keeps cost and calls only), so they take no part in comparing the money figures of both ways.
    characters: int | None = field(default=None, compare=False)  # spoken by speech synthesis (priced per character)
    seconds: int | None = field(default=None, compare=False)  # of audio transcribed (priced per second)

    @property
    def total_cents(self) -> Decimal:
        return self.total_usd.quantize(Decimal("0.01"))


async def spend(session: AsyncSession, tenant_id: int, period: Period) -> Spend:
    """AI spend in the period (core.ai.spend, the same rows and sums as the CLI's)."""
    total = await ai_spend.spend_total(session, tenant_id, since=period.start, until=period.end)

    async def by(grouping: str) -> list[SpendLine]:
        rows = await ai_spend.spend_summary(session, tenant_id, since=period.start, until=period.end,
                                            by=(grouping,), timezone=period.timezone)
        return [SpendLine(str(r.as_dict()[grouping]), r.cost_usd, r.calls, r.characters, r.seconds) for r in rows]

    return Spend(total_usd=total.cost_usd, calls=total.calls, by_day=await by("day"), by_model=await by("model"),
                 by_purpose=await by("purpose"), characters=total.characters, seconds=total.seconds)
