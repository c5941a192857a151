"""Deals: won and lost outcomes set in the period (and not taken back), revenue per currency, by channel and by the
manager who set them, and why deals were lost."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ...models import ChannelAccount, Dialog, Event, Outcome, StaffMember
from .conditions import EVENT_SLACK, _changed_dialogs, _in
from .period import NO_FILTERS, Filters, Period


@dataclass(frozen=True)
class OutcomeRow:
    key: int | None  # channel id or staff id (None: nobody recorded)
    name: str | None
    won: int
    lost: int
    revenue: Decimal


@dataclass(frozen=True)
class Outcomes:
    won: int
    lost: int
    revenue: Decimal  # in `currency`; won deals in other currencies are in revenue_by_currency
    currency: str | None
    revenue_by_currency: dict[str, Decimal]
    by_channel: list[OutcomeRow]
    by_manager: list[OutcomeRow]  # the staff member who marked the dialog won or lost


@dataclass(frozen=True)
class ReasonCount:
    reason: str | None  # None: lost without a reason
    count: int


def _outcome_set(tenant_id: int, period: Period, filters: Filters):
    """Dialogs whose outcome was set in the period, with who set it (the latest won/lost event's actor)."""
    changed = _changed_dialogs(tenant_id, period, ("dialog_won", "dialog_lost"))
    actor = (
        select(Event.actor_staff_id)
        .where(Event.tenant_id == tenant_id, Event.dialog_id == Dialog.id,
               Event.kind.in_(("dialog_won", "dialog_lost")),
               Event.created_at >= period.start - EVENT_SLACK, Event.created_at < period.end + EVENT_SLACK)
        .order_by(Event.created_at.desc(), Event.id.desc()).limit(1)
        .scalar_subquery()
    )
    return filters.apply(
        select(Dialog.id.label("dialog_id"), Dialog.channel_id.label("channel_id"), Dialog.outcome.label("outcome"),
               Dialog.outcome_amount.label("amount"), Dialog.outcome_currency.label("currency"),
               Dialog.outcome_reason.label("reason"), actor.label("staff_id"))
        .where(Dialog.id.in_(changed), Dialog.tenant_id == tenant_id, Dialog.outcome.is_not(None),
               _in(Dialog.outcome_at, period))
    ).cte("outcomes")


async def outcomes(session: AsyncSession, tenant_id: int, period: Period, filters: Filters = NO_FILTERS, *,
                   currency: str | None = None) -> Outcomes:
    """Won and lost in the period; `currency` (the tenant's) is the one `revenue` is in."""
    o = _outcome_set(tenant_id, period, filters)
    won = func.count().filter(o.c.outcome == Outcome.WON)
    lost = func.count().filter(o.c.outcome == Outcome.LOST)
    revenue = func.coalesce(func.sum(o.c.amount).filter(o.c.outcome == Outcome.WON), 0)
    totals = (await session.execute(select(won, lost).select_from(o))).one()
    by_currency = {cur: Decimal(amount) for cur, amount in (await session.execute(
        select(o.c.currency, revenue).select_from(o)
        .where(o.c.outcome == Outcome.WON, o.c.amount.is_not(None)).group_by(o.c.currency).order_by(o.c.currency)
    )).all()}
    main = currency or (next(iter(by_currency)) if len(by_currency) == 1 else None)
    in_main = func.coalesce(func.sum(o.c.amount).filter(o.c.outcome == Outcome.WON, o.c.currency == main), 0)
    by_channel = [OutcomeRow(r[0], r[1], r[2], r[3], Decimal(r[4])) for r in (await session.execute(
        select(o.c.channel_id, ChannelAccount.title, won, lost, in_main).select_from(o)
        .outerjoin(ChannelAccount, ChannelAccount.id == o.c.channel_id)
        .group_by(o.c.channel_id, ChannelAccount.title).order_by(o.c.channel_id)
    )).all()]
    by_manager = [OutcomeRow(r[0], r[1], r[2], r[3], Decimal(r[4])) for r in (await session.execute(
        select(o.c.staff_id, StaffMember.name, won, lost, in_main).select_from(o)
        .outerjoin(StaffMember, StaffMember.id == o.c.staff_id)
        .group_by(o.c.staff_id, StaffMember.name).order_by(o.c.staff_id.asc().nulls_last())
    )).all()]
    return Outcomes(won=totals[0], lost=totals[1], revenue=by_currency.get(main, Decimal(0)) if main else Decimal(0),
                    currency=main, revenue_by_currency=by_currency, by_channel=by_channel, by_manager=by_manager)


async def lost_reasons(session: AsyncSession, tenant_id: int, period: Period, filters: Filters = NO_FILTERS, *,
                       limit: int = 10) -> list[ReasonCount]:
    """Why deals were lost in the period, the commonest first (reasons compared without case and outer spaces)."""
    o = _outcome_set(tenant_id, period, filters)
    reason = func.nullif(func.lower(func.btrim(o.c.reason)), "")
    rows = (await session.execute(
        select(reason, func.count()).select_from(o).where(o.c.outcome == Outcome.LOST)
        .group_by(reason).order_by(func.count().desc(), reason.asc().nulls_last()).limit(limit)
    )).all()
    return [ReasonCount(r[0], r[1]) for r in rows]
