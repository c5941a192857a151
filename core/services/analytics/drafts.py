"""The AI's drafts made in the period: what became of them (the AI's share of the replies) and what customers wrote
about (the intent of each draft)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ...models import Dialog, Suggestion, SuggestionState
from .conditions import ALL_STATUSES, DRAFT_LOOKBACK, _in
from .period import NO_FILTERS, Filters, Period


@dataclass(frozen=True)
class AIShare:
    """The AI's drafts made in the period, by what became of them."""

    drafts: int = 0
    auto_sent: int = 0  # sent by the AI alone
    approved: int = 0  # sent by a manager as drafted
    edited: int = 0  # sent after a manager's edit
    rejected: int = 0
    escalated: int = 0
    pending: int = 0  # still waiting for a manager
    outdated: int = 0  # the customer wrote again before anyone acted
    failed: int = 0  # the AI was unavailable

    @property
    def sent(self) -> int:
        return self.auto_sent + self.approved + self.edited


@dataclass(frozen=True)
class IntentCount:
    intent: str
    count: int


def _drafts(tenant_id: int, period: Period, filters: Filters):
    """The period's drafts, dialog by dialog: each recently touched dialog's drafts through ix_suggestions_dialog
    (OFFSET 0 keeps PostgreSQL from turning the probes into a scan of every draft ever made)."""
    d = aliased(Dialog)
    per_dialog = (
        select(Suggestion.state, Suggestion.decided_by_id, Suggestion.intent)
        .where(Suggestion.dialog_id == d.id, _in(Suggestion.created_at, period))
        .offset(0)
        .lateral("per_dialog")
    )
    return filters.apply(
        select(per_dialog.c.state, per_dialog.c.decided_by_id, per_dialog.c.intent)
        .select_from(d).join(per_dialog, true())
        .where(d.tenant_id == tenant_id, d.status.in_(ALL_STATUSES),
               d.last_message_at >= period.start - DRAFT_LOOKBACK),
        d,
    ).subquery("drafts")


async def ai_share(session: AsyncSession, tenant_id: int, period: Period, filters: Filters = NO_FILTERS) -> AIShare:
    s = _drafts(tenant_id, period, filters)
    state = s.c.state
    rows = (await session.execute(
        select(
            func.count(),
            func.count().filter(state == SuggestionState.SENT, s.c.decided_by_id.is_(None)),
            func.count().filter(state == SuggestionState.SENT, s.c.decided_by_id.is_not(None)),
            *(func.count().filter(state == value) for value in (
                SuggestionState.EDITED, SuggestionState.REJECTED, SuggestionState.ESCALATED, SuggestionState.PENDING,
                SuggestionState.OUTDATED, SuggestionState.FAILED)),
        ).select_from(s)
    )).one()
    return AIShare(*rows)


async def intents(session: AsyncSession, tenant_id: int, period: Period, filters: Filters = NO_FILTERS, *,
                  limit: int = 10) -> list[IntentCount]:
    """What customers wrote about in the period (the intent of each draft), the commonest first."""
    s = _drafts(tenant_id, period, filters)
    rows = (await session.execute(
        select(s.c.intent, func.count()).select_from(s).group_by(s.c.intent)
        .order_by(func.count().desc(), s.c.intent).limit(limit)
    )).all()
    return [IntentCount(r[0], r[1]) for r in rows]
