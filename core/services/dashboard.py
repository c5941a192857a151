"""What the Mini App's dashboard and AI spend pages need beyond core.services.analytics: the period a person picks,
the filter choices, new dialogs per day, customer satisfaction (CSAT) and AI spend per dialog.

Periods: "today" is the tenant's local day so far; "7" and "30" are the last 7 or 30 × 24 hours up to now — the very
interval `salesop spend --days N` adds up, so the figures agree to the cent; "custom" is whole local days, first to
last, both included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..ai import spend as ai_spend
from ..errors import UserError
from ..models import ChannelAccount, Customer, Dialog, DialogStatus, ManagerGroup, StaffMember
from .analytics import ALL_STATUSES, NEW_DIALOG_SLACK, Filters, Period

PERIODS = ("today", "7", "30", "custom")
MAX_CUSTOM_DAYS = 366


def period_of(choice: str, *, now: datetime, timezone: str, first: str | None = None,
              last: str | None = None) -> Period:
    """The period a person picked on a page (see the module doc). Wrong input is a UserError (HTTP 400)."""
    if choice == "today":
        return Period.day_until(now.astimezone(ZoneInfo(timezone)).date(), now, timezone)
    if choice in ("7", "30"):
        return Period(now - timedelta(days=int(choice)), now, timezone)
    if choice == "custom":
        try:
            start, end = date.fromisoformat(first or ""), date.fromisoformat(last or "")
        except ValueError:
            raise UserError("a custom period needs from=YYYY-MM-DD and to=YYYY-MM-DD",
                            code="miniapp.period.bad_dates") from None
        if end < start or (end - start).days >= MAX_CUSTOM_DAYS:
            raise UserError("the custom period must end after it starts and span at most a year",
                            code="miniapp.period.bad_range")
        return Period.days(start, end, timezone)
    raise UserError(f"unknown period {choice!r}; use one of {', '.join(PERIODS)}", code="miniapp.period.unknown")


@dataclass(frozen=True)
class Choice:
    id: int
    name: str


@dataclass(frozen=True)
class FilterChoices:
    channels: list[Choice]
    managers: list[Choice]
    groups: list[Choice]


async def filter_choices(session: AsyncSession, tenant_id: int) -> FilterChoices:
    channels = (await session.execute(
        select(ChannelAccount.id, ChannelAccount.title, ChannelAccount.kind)
        .where(ChannelAccount.tenant_id == tenant_id).order_by(ChannelAccount.id))).all()
    managers = (await session.execute(
        select(StaffMember.id, StaffMember.name)
        .where(StaffMember.tenant_id == tenant_id, StaffMember.is_active.is_(True)).order_by(StaffMember.name))).all()
    groups = (await session.execute(
        select(ManagerGroup.id, ManagerGroup.title)
        .where(ManagerGroup.tenant_id == tenant_id).order_by(ManagerGroup.id))).all()
    return FilterChoices(
        channels=[Choice(i, title or kind.value) for i, title, kind in channels],
        managers=[Choice(i, name) for i, name in managers],
        groups=[Choice(i, title) for i, title in groups],
    )


async def check_filters(session: AsyncSession, tenant_id: int, filters: Filters) -> None:
    """A filter naming another tenant's channel, person or group is refused (it would only ever count nothing)."""
    for model, value in ((ChannelAccount, filters.channel_id), (StaffMember, filters.manager_id),
                         (ManagerGroup, filters.manager_group_id)):
        if value is not None:
            row = await session.get(model, value)
            if row is None or row.tenant_id != tenant_id:
                raise UserError(f"no such {model.__tablename__[:-1].replace('_', ' ')} here",
                                code="miniapp.filter.unknown")


@dataclass(frozen=True)
class DayCount:
    day: date
    new: int


async def new_by_day(session: AsyncSession, tenant_id: int, period: Period,
                     filters: Filters = Filters()) -> list[DayCount]:
    """New dialogs per local day of the period (the same dialogs analytics.dialog_counts counts as new), every day
    listed, quiet ones with 0."""
    day = cast(func.timezone(literal(period.timezone), Dialog.created_at), Date)
    query = filters.apply(
        select(day, func.count()).where(
            Dialog.tenant_id == tenant_id, Dialog.status.in_(ALL_STATUSES),
            Dialog.last_message_at >= period.start - NEW_DIALOG_SLACK,
            Dialog.created_at >= period.start, Dialog.created_at < period.end,
        ).group_by(day)
    )
    counts = dict((await session.execute(query)).all())
    first, last = period.local_start.date(), (period.local_end - timedelta(microseconds=1)).date()
    days = [first + timedelta(days=i) for i in range(max(0, (last - first).days + 1))]
    return [DayCount(d, counts.get(d, 0)) for d in days]


@dataclass(frozen=True)
class Csat:
    rated: int
    average: float | None
    by_score: dict[int, int]  # 1..5 → dialogs


async def csat(session: AsyncSession, tenant_id: int, period: Period, filters: Filters = Filters()) -> Csat:
    """Customer ratings (Dialog.csat, 1–5) of dialogs closed in the period."""
    query = filters.apply(
        select(Dialog.csat, func.count()).where(
            Dialog.tenant_id == tenant_id, Dialog.status == DialogStatus.RESOLVED, Dialog.csat.is_not(None),
            Dialog.closed_at >= period.start, Dialog.closed_at < period.end,
        ).group_by(Dialog.csat)
    )
    by_score = {int(score): n for score, n in (await session.execute(query)).all()}
    rated = sum(by_score.values())
    average = round(sum(s * n for s, n in by_score.items()) / rated, 2) if rated else None
    return Csat(rated=rated, average=average, by_score={s: by_score.get(s, 0) for s in range(1, 6)})


@dataclass(frozen=True)
class DialogSpend:
    dialog_id: int | None  # None: calls that belong to no dialog (embeddings, knowledge base, reports)
    customer: str | None
    cost_usd: Decimal
    calls: int


async def spend_by_dialog(session: AsyncSession, tenant_id: int, period: Period, *,
                          limit: int = 50) -> list[DialogSpend]:
    """The dialogs that cost the most in the period (core.ai.spend's rows), dearest first; the calls of no dialog
    are one line of their own, so the lines add up to the total when there are no more than `limit` dialogs."""
    rows = await ai_spend.spend_summary(session, tenant_id, since=period.start, until=period.end, by=("dialog",))
    rows.sort(key=lambda r: (-r.cost_usd, r.keys["dialog"] is not None, r.keys["dialog"] or 0))
    rows = rows[:limit]
    ids = [r.keys["dialog"] for r in rows if r.keys["dialog"] is not None]
    names = dict((await session.execute(
        select(Dialog.id, Customer.display_name).join(Customer, Customer.id == Dialog.customer_id)
        .where(Dialog.id.in_(ids), Dialog.tenant_id == tenant_id))).all()) if ids else {}
    return [DialogSpend(r.keys["dialog"], names.get(r.keys["dialog"]), r.cost_usd, r.calls) for r in rows]
