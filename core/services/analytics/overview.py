"""Every figure at once, for a status report or the dashboard's first screen."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from .deals import Outcomes, ReasonCount, lost_reasons, outcomes
from .dialogs import DialogCounts, dialog_counts
from .drafts import AIShare, IntentCount, ai_share, intents
from .period import NO_FILTERS, Filters, Period
from .problems import ChannelProblems, channel_problems
from .queues import PendingEscalations, Waiting, pending_escalations, waiting
from .response_times import FirstResponse, first_response
from .spending import Spend, spend


@dataclass(frozen=True)
class Summary:
    """Everything at once, for a report or the dashboard's first screen."""

    period: Period
    filters: Filters
    dialogs: DialogCounts
    waiting: Waiting
    first_response: FirstResponse
    outcomes: Outcomes
    lost_reasons: list[ReasonCount]
    ai_share: AIShare
    intents: list[IntentCount]
    spend: Spend
    escalations: PendingEscalations
    problems: ChannelProblems
    extra: dict = field(default_factory=dict)


async def summary(session: AsyncSession, tenant_id: int, period: Period, filters: Filters = NO_FILTERS, *,
                  now: datetime, currency: str | None = None, waiting_limit: int = 10,
                  escalation_limit: int = 5, top: int = 5) -> Summary:
    return Summary(
        period=period, filters=filters,
        dialogs=await dialog_counts(session, tenant_id, period, filters),
        waiting=await waiting(session, tenant_id, filters, limit=waiting_limit),
        first_response=await first_response(session, tenant_id, period, filters),
        outcomes=await outcomes(session, tenant_id, period, filters, currency=currency),
        lost_reasons=await lost_reasons(session, tenant_id, period, filters, limit=top),
        ai_share=await ai_share(session, tenant_id, period, filters),
        intents=await intents(session, tenant_id, period, filters, limit=top),
        spend=await spend(session, tenant_id, period),
        escalations=await pending_escalations(session, tenant_id, filters, limit=escalation_limit),
        problems=await channel_problems(session, tenant_id, now=now),
    )
