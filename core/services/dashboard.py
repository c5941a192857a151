"""What the Mini App's dashboard and AI spend pages need beyond core.services.analytics: the period a person picks,
the filter choices, new dialogs per day, customer satisfaction (CSAT) and AI spend per dialog.

Speed (`figures`): a 30-day dashboard of a 200,000-dialog shop read figure by figure from the raw tables took 4–6 s
on a busy machine. `figures` reads what migration 0015 keeps beside them instead — message activity per dialog and UTC
day and each dialog's first response (triggers on messages, in the messages' own transaction), where dialogs stand now
(a +1/-1 log a trigger on dialogs appends to, folded by the reader), AI spend per hour (rolled up to the start of the
oldest running transaction, the rest read raw) — and the rest through covering indexes by time, in few round trips.
The rollup is per dialog, not per channel and manager: filters apply to where a dialog stands now, counts of distinct
dialogs and exact percentiles span any period, and none of that adds up from daily counters without going stale.
tests/services/test_dashboard_rollup.py holds both ways equal on random shops, before and after changes.

Periods: "today" is the tenant's local day so far; "7" and "30" are the last 7 or 30 × 24 hours up to now — the very
interval `salesop spend --days N` adds up, so the figures agree to the cent; "custom" is whole local days, first to
last, both included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Date, String, and_, case, cast, exists, func, literal, null, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ..ai import spend as ai_spend
from ..errors import UserError
from ..models import (
    AIUsage,
    AuthorKind,
    ChannelAccount,
    Customer,
    DashboardActivity,
    DashboardDialogCounts,
    DashboardFirstResponse,
    DashboardSpend,
    Dialog,
    DialogStatus,
    Escalation,
    Event,
    ManagerGroup,
    Outcome,
    StaffMember,
    Suggestion,
    SuggestionState,
)
from . import analytics
from .analytics import ALL_STATUSES, DRAFT_LOOKBACK, EVENT_SLACK, NEW_DIALOG_SLACK, Filters, Period

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


@dataclass(frozen=True)
class Figures:
    """Everything GET /api/dashboard shows for one period and filter (webapp/api/dashboard.py turns it into tiles
    and charts); the bench times this very call."""

    counts: analytics.DialogCounts
    waiting: analytics.Waiting
    response: analytics.FirstResponse
    outcomes: analytics.Outcomes
    reasons: list[analytics.ReasonCount]
    share: analytics.AIShare
    intents: list[analytics.IntentCount]
    by_day: list[DayCount]
    rated: Csat
    spend: analytics.Spend | None
    choices: FilterChoices


async def figures(session: AsyncSession, tenant_id: int, period: Period, filters: Filters = Filters(), *,
                  currency: str | None, with_spend: bool, rollup: bool = True) -> Figures:
    """The dashboard's figures. `rollup` (the default) reads message activity and first responses from the rollup
    of migration 0015 and everything else through the period's own indexes, a pass per table; False asks
    core.services.analytics figure by figure, as the status reports do. Both give the same figures (tests/services/
    test_dashboard_rollup.py compares them on random shops); the first is what keeps a 30-day dashboard of a
    200,000-dialog shop well under a second."""
    if not rollup:
        return Figures(
            counts=await analytics.dialog_counts(session, tenant_id, period, filters),
            waiting=await analytics.waiting(session, tenant_id, filters, limit=0),
            response=await analytics.first_response(session, tenant_id, period, filters),
            outcomes=await analytics.outcomes(session, tenant_id, period, filters, currency=currency),
            reasons=await analytics.lost_reasons(session, tenant_id, period, filters),
            share=await analytics.ai_share(session, tenant_id, period, filters),
            intents=await analytics.intents(session, tenant_id, period, filters),
            by_day=await new_by_day(session, tenant_id, period, filters),
            rated=await csat(session, tenant_id, period, filters),
            spend=await analytics.spend(session, tenant_id, period) if with_spend else None,
            choices=await filter_choices(session, tenant_id),
        )
    # A round trip costs more than most of these queries on a busy machine: the small figures come in one.
    # Folds the dialog-count log and rolls AI spend up to now's horizon (migration 0015): one round trip.
    rolled = (await session.execute(select(func.dashboard_refresh(tenant_id)))).scalar_one()
    by_day = await new_by_day(session, tenant_id, period, filters)
    outcomes, reasons = await _outcomes(session, tenant_id, period, filters, currency)
    share, intents = await _drafts(session, tenant_id, period, filters)
    counts, waiting_total, rated = await _counts(session, tenant_id, period, filters,
                                                 new=sum(d.new for d in by_day))
    return Figures(
        counts=counts, waiting=analytics.Waiting(total=waiting_total, oldest=[]),
        response=await _first_response(session, tenant_id, period, filters),
        outcomes=outcomes, reasons=reasons, share=share, intents=intents, by_day=by_day, rated=rated,
        spend=await _spend(session, tenant_id, period, rolled) if with_spend else None,
        choices=await filter_choices(session, tenant_id),
    )


# ------------------------------------------------------------------------------------------ the rollup's readings
# Each mirrors the core.services.analytics function of the same name condition for condition (the same dialogs, the
# same definitions); only the way to the rows differs.


def _in(column, period: Period):
    return and_(column >= period.start, column < period.end)


def _recent(tenant_id: int, since, filters: Filters, query):
    """The dialogs analytics looks at: the tenant's, touched since `since`, under the filters."""
    return filters.apply(query.where(Dialog.tenant_id == tenant_id, Dialog.status.in_(ALL_STATUSES),
                                     Dialog.last_message_at >= since))


async def _counts(session: AsyncSession, tenant_id: int, period: Period, filters: Filters, *,
                  new: int) -> tuple[analytics.DialogCounts, int, Csat]:
    """analytics.dialog_counts, the number analytics.waiting counts, and csat() — in one or two round trips."""
    a = DashboardActivity
    utc_days = (period.start.astimezone(UTC).date(), (period.end - timedelta(microseconds=1)).astimezone(UTC).date())

    def inside(column):
        return and_(column >= period.start, column < period.end)

    def straddles(first, last):  # the day's messages begin before and end after the period: one may lie within
        return and_(first < period.start, last >= period.end)

    def any_(condition):
        return func.coalesce(func.bool_or(condition), False)

    per_dialog = _recent(tenant_id, period.start - NEW_DIALOG_SLACK, filters, select(
        a.dialog_id.label("dialog_id"),
        any_(or_(inside(a.first_in), inside(a.last_in), inside(a.first_out), inside(a.last_out))).label("active"),
        any_(or_(inside(a.first_out), inside(a.last_out))).label("answered"),
        any_(or_(straddles(a.first_in, a.last_in), straddles(a.first_out, a.last_out))).label("active_open"),
        any_(straddles(a.first_out, a.last_out)).label("answered_open"),
    ).join(Dialog, Dialog.id == a.dialog_id).where(
        a.tenant_id == tenant_id, a.day >= utc_days[0], a.day <= utc_days[1],
    )).group_by(a.dialog_id).subquery()
    active, answered, active_open, answered_open = (await session.execute(select(
        func.count().filter(per_dialog.c.active),
        func.count().filter(per_dialog.c.answered),
        func.array_agg(per_dialog.c.dialog_id).filter(~per_dialog.c.active, per_dialog.c.active_open),
        func.array_agg(per_dialog.c.dialog_id).filter(~per_dialog.c.answered, per_dialog.c.answered_open),
    ))).one()
    # The rare dialog whose bounds straddle the period (a period inside one UTC day) is asked of its messages.
    for ids, direction, add in ((active_open, None, "active"), (answered_open, analytics.Direction.OUT, "answered")):
        if ids:
            found = (await session.execute(select(func.count()).where(
                Dialog.id.in_(ids), analytics._live_message(Dialog.id, period, direction)))).scalar_one()
            if add == "active":
                active += found
            else:
                answered += found

    escalated = filters.apply(
        select(literal("escalated").label("what"), literal(None, String).label("key"),
               func.count(func.distinct(Escalation.dialog_id)).label("n"))
        .join(Dialog, Dialog.id == Escalation.dialog_id)
        .where(Escalation.tenant_id == tenant_id, _in(Escalation.created_at, period)))
    resolved = filters.apply(select(literal("resolved"), literal(None, String), func.count()).where(
        Dialog.tenant_id == tenant_id, Dialog.status == DialogStatus.RESOLVED, Dialog.closed_at.is_not(None),
        _in(Dialog.closed_at, period), _event(tenant_id, period, ("dialog_closed",))))
    # Where dialogs stand now, from the log the dialogs' trigger keeps (analytics: a count of every dialog).
    c = DashboardDialogCounts
    now_ = [c.tenant_id == tenant_id]
    for column, value in ((c.channel_id, filters.channel_id), (c.assignee_id, filters.manager_id),
                          (c.manager_group_id, filters.manager_group_id)):
        if value is not None:
            now_.append(column == value)
    waiting = select(literal("waiting"), literal(None, String), func.coalesce(func.sum(c.n), 0)).where(
        *now_, c.unread.is_(True), c.status.notin_([DialogStatus.RESOLVED.value, DialogStatus.INACTIVE.value]))
    status = select(literal("status"), c.status, func.sum(c.n)).where(*now_).group_by(c.status)
    rated = filters.apply(select(literal("csat"), cast(Dialog.csat, String), func.count()).where(
        Dialog.tenant_id == tenant_id, Dialog.status == DialogStatus.RESOLVED, Dialog.csat.is_not(None),
        Dialog.closed_at >= period.start, Dialog.closed_at < period.end).group_by(Dialog.csat))
    got: dict[str, dict] = {"escalated": {}, "resolved": {}, "waiting": {}, "status": {}, "csat": {}}
    for what, key, n in (await session.execute(escalated.union_all(resolved, waiting, status, rated))).all():
        got[what][key] = int(n)
    by_status = {DialogStatus(k): n for k, n in got["status"].items()}
    counts = analytics.DialogCounts(
        new=new, active=active, answered=answered, escalated=got["escalated"].get(None, 0),
        resolved=got["resolved"].get(None, 0),
        status=analytics.StatusCounts(**{s.value: by_status.get(s, 0) for s in DialogStatus}))
    by_score = {int(k): n for k, n in got["csat"].items()}  # csat() above, the same rows
    rated_total = sum(by_score.values())
    average = round(sum(k * n for k, n in by_score.items()) / rated_total, 2) if rated_total else None
    return counts, got["waiting"].get(None, 0), Csat(rated=rated_total, average=average,
                                                      by_score={k: by_score.get(k, 0) for k in range(1, 6)})


def _event(tenant_id: int, period: Period, kinds: tuple[str, ...]):
    """The dialog has an event of `kinds` around the period (analytics._changed_dialogs, asked per dialog)."""
    return exists().where(Event.dialog_id == Dialog.id, Event.tenant_id == tenant_id, Event.kind.in_(kinds),
                          Event.created_at >= period.start - EVENT_SLACK, Event.created_at < period.end + EVENT_SLACK)


async def _first_response(session: AsyncSession, tenant_id: int, period: Period,
                          filters: Filters) -> analytics.FirstResponse:
    f = DashboardFirstResponse
    answered = f.answered_at.is_not(None)
    side = case((~answered, None), (f.answered_kind == AuthorKind.AI.value, literal("ai")), else_=literal("manager"))
    rows = _recent(tenant_id, period.start - NEW_DIALOG_SLACK, filters, select(
        side.label("side"), f.answered_staff_id.label("staff_id"),
        func.extract("epoch", f.answered_at - f.asked_at).label("seconds"),
    ).join(Dialog, Dialog.id == f.dialog_id).where(
        f.tenant_id == tenant_id, _in(f.created_at, period), f.asked_at.is_not(None),
        _in(Dialog.created_at, period))).subquery()
    seconds = rows.c.seconds
    grouped = (await session.execute(
        select(rows.c.side, rows.c.staff_id, func.grouping(rows.c.side, rows.c.staff_id), func.count(),
               func.count(seconds), func.percentile_cont(0.5).within_group(seconds),
               func.percentile_cont(0.9).within_group(seconds))
        .group_by(func.grouping_sets(tuple_(), tuple_(rows.c.side), tuple_(rows.c.side, rows.c.staff_id)))
    )).all()
    overall, by_side, per_staff = analytics.ResponseStats(), {}, []
    unanswered = 0
    for side_, staff_id, level, total, count, median, p90 in grouped:
        stats = analytics.ResponseStats(count, analytics._f(median), analytics._f(p90))
        if level == 3:
            overall, unanswered = stats, total - count
        elif level == 1 and side_ is not None:
            by_side[side_] = stats
        elif level == 0 and side_ == "manager":
            per_staff.append((staff_id, stats))
    names = await _names(session, StaffMember, [i for i, _ in per_staff])
    per_staff.sort(key=lambda r: (-r[1].count, r[0] is None, r[0] or 0))
    return analytics.FirstResponse(
        overall=overall, ai=by_side.get("ai", analytics.ResponseStats()),
        managers=by_side.get("manager", analytics.ResponseStats()),
        by_manager=[analytics.ManagerResponse(i, names.get(i), stats) for i, stats in per_staff],
        unanswered=unanswered,
    )


async def _names(session: AsyncSession, model, ids) -> dict[int, str]:
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return {}
    column = model.title if model is ChannelAccount else model.name
    return dict((await session.execute(select(model.id, column).where(model.id.in_(ids)))).all())


async def _outcomes(session: AsyncSession, tenant_id: int, period: Period, filters: Filters,
                    currency: str | None) -> tuple[analytics.Outcomes, list[analytics.ReasonCount]]:
    kinds = ("dialog_won", "dialog_lost")
    # Who set each outcome: the latest won/lost event around the period (one pass over ix_events_dashboard rather
    # than a probe per dialog); a dialog without such an event is left out, as analytics does.
    actor = (
        select(Event.dialog_id, Event.actor_staff_id)
        .distinct(Event.dialog_id)
        .where(Event.tenant_id == tenant_id, Event.kind.in_(kinds), Event.dialog_id.is_not(None),
               Event.created_at >= period.start - EVENT_SLACK, Event.created_at < period.end + EVENT_SLACK)
        .order_by(Event.dialog_id, Event.created_at.desc(), Event.id.desc())
        .subquery()
    )
    o = filters.apply(
        select(Dialog.channel_id.label("channel_id"), Dialog.outcome.label("outcome"),
               Dialog.outcome_amount.label("amount"), Dialog.outcome_currency.label("currency"),
               Dialog.outcome_reason.label("reason"), actor.c.actor_staff_id.label("staff_id"))
        .join(actor, actor.c.dialog_id == Dialog.id)
        .where(Dialog.tenant_id == tenant_id, Dialog.outcome.is_not(None), _in(Dialog.outcome_at, period))
    ).cte("outcomes")
    reason = func.nullif(func.lower(func.btrim(o.c.reason)), "")
    order = (func.count().desc(), reason.asc().nulls_last())
    lost_reasons = (select(reason.label("reason"), func.count().label("n"),
                           func.row_number().over(order_by=order).label("rank")).select_from(o)
                    .where(o.c.outcome == Outcome.LOST).group_by(reason).order_by(*order).limit(10).subquery())
    # The outcomes and, after them, the lost reasons in their order: one round trip.
    rows = (await session.execute(
        select(literal(0).label("part"), o.c.channel_id, o.c.outcome, o.c.amount, o.c.currency, o.c.staff_id,
               ChannelAccount.title.label("channel"), StaffMember.name.label("staff"),
               literal(None, String).label("reason"), literal(0).label("n"), literal(0).label("rank"))
        .select_from(o).outerjoin(ChannelAccount, ChannelAccount.id == o.c.channel_id)
        .outerjoin(StaffMember, StaffMember.id == o.c.staff_id)
        .union_all(select(literal(1), null(), null(), null(), null(), null(), null(), null(), lost_reasons.c.reason,
                          lost_reasons.c.n, lost_reasons.c.rank).select_from(lost_reasons))
    )).all()
    reasons = [analytics.ReasonCount(r.reason, r.n) for r in sorted((r for r in rows if r.part == 1),
                                                                    key=lambda r: r.rank)]
    rows = [r for r in rows if r.part == 0]
    won = [r for r in rows if r.outcome == Outcome.WON]
    by_currency: dict[str, Decimal] = {}
    for r in won:
        if r.amount is not None:
            by_currency[r.currency] = by_currency.get(r.currency, Decimal(0)) + r.amount
    by_currency = {k: Decimal(by_currency[k]) for k in sorted(by_currency, key=lambda c: (c is None, c or ""))}
    main = currency or (next(iter(by_currency)) if len(by_currency) == 1 else None)

    def tally(key) -> dict:
        out: dict = {}
        for r in rows:
            w, lo, rev = out.get(key(r), (0, 0, Decimal(0)))
            if r.outcome == Outcome.WON:
                w += 1
                if r.currency == main and r.amount is not None:
                    rev += r.amount
            else:
                lo += 1
            out[key(r)] = (w, lo, rev)
        return out

    channels, staff = tally(lambda r: r.channel_id), tally(lambda r: r.staff_id)
    channel_names = {r.channel_id: r.channel for r in rows}
    staff_names = {r.staff_id: r.staff for r in rows}
    outcomes = analytics.Outcomes(
        won=len(won), lost=len(rows) - len(won),
        revenue=by_currency.get(main, Decimal(0)) if main else Decimal(0), currency=main,
        revenue_by_currency=by_currency,
        by_channel=[analytics.OutcomeRow(k, channel_names.get(k), *channels[k])
                    for k in sorted(channels, key=lambda k: (k is None, k or 0))],
        by_manager=[analytics.OutcomeRow(k, staff_names.get(k), *staff[k])
                    for k in sorted(staff, key=lambda k: (k is None, k or 0))],
    )
    return outcomes, reasons


async def _drafts(session: AsyncSession, tenant_id: int, period: Period,
                  filters: Filters) -> tuple[analytics.AIShare, list[analytics.IntentCount]]:
    s = Suggestion
    by_ai = s.decided_by_id.is_(None)
    drafts = _recent(tenant_id, period.start - DRAFT_LOOKBACK, filters, select(
        s.state.label("state"), by_ai.label("by_ai"), s.intent.label("intent"),
    ).join(Dialog, Dialog.id == s.dialog_id).where(s.tenant_id == tenant_id, _in(s.created_at, period))).subquery()
    level = func.grouping(drafts.c.state, drafts.c.by_ai)
    rows = (await session.execute(
        select(level, drafts.c.state, drafts.c.by_ai, drafts.c.intent, func.count())
        .group_by(func.grouping_sets(tuple_(drafts.c.state, drafts.c.by_ai), tuple_(drafts.c.intent)))
        .order_by(level, func.count().desc(), drafts.c.intent)
    )).all()
    states: dict = {}
    intents = []
    for lvl, state, by_ai_, intent, n in rows:
        if lvl == 0:
            states[(state, by_ai_)] = n
        elif len(intents) < 10:
            intents.append(analytics.IntentCount(intent, n))

    def of(state, by_ai_=None) -> int:
        return sum(n for (st, ai), n in states.items() if st == state and (by_ai_ is None or ai is by_ai_))

    share = analytics.AIShare(
        sum(states.values()), of(SuggestionState.SENT, True), of(SuggestionState.SENT, False),
        of(SuggestionState.EDITED), of(SuggestionState.REJECTED), of(SuggestionState.ESCALATED),
        of(SuggestionState.PENDING), of(SuggestionState.OUTDATED), of(SuggestionState.FAILED))
    return share, intents


def _whole_hours(period: Period) -> bool:
    """Hours map to the zone's local days (the zone is a whole number of hours off UTC at both ends)."""
    return all(int(moment.astimezone(period.zone).utcoffset().total_seconds()) % 3600 == 0
               for moment in (period.start, period.end))


async def _spend(session: AsyncSession, tenant_id: int, period: Period, rolled: datetime) -> analytics.Spend:
    """core.ai.spend's sums (the total `salesop spend` prints, by day, model and purpose) from the hourly rollup of
    migration 0015 for the period's whole hours it holds (before `rolled`), and from the usage rows themselves for the
    rest (the part-hours at both ends, the hours since the rollup's horizon); keys ordered as spend_summary's."""
    if not _whole_hours(period):
        return await analytics.spend(session, tenant_id, period)
    hour = timedelta(hours=1)
    first = period.start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first = first if first == period.start else first + hour  # the first whole hour in the period
    last = min(period.end.astimezone(UTC).replace(minute=0, second=0, microsecond=0), rolled)  # its end
    u, r = AIUsage, DashboardSpend
    if last > first:
        raw_part = or_(and_(u.created_at >= period.start, u.created_at < first),
                       and_(u.created_at >= last, u.created_at < period.end))
        rows = select(r.hour.label("at"), r.model.label("model"), r.purpose.label("purpose"),
                      r.cost_usd.label("cost"), r.calls.label("calls")).where(
            r.tenant_id == tenant_id, r.hour >= first, r.hour < last)
    else:
        raw_part, rows = and_(u.created_at >= period.start, u.created_at < period.end), None
    raw = select(u.created_at.label("at"), u.model.label("model"), cast(u.purpose, String).label("purpose"),
                 u.cost_usd.label("cost"), literal(1).label("calls")).where(u.tenant_id == tenant_id, raw_part)
    both = (raw.union_all(rows) if rows is not None else raw).subquery()
    day = cast(func.timezone(literal(period.timezone), both.c.at), Date)
    level = func.grouping(day, both.c.model, both.c.purpose)
    grouped = (await session.execute(
        select(level, day, both.c.model, both.c.purpose, func.coalesce(func.sum(both.c.cost), 0),
               func.coalesce(func.sum(both.c.calls), 0))
        .group_by(func.grouping_sets(tuple_(), tuple_(day), tuple_(both.c.model), tuple_(both.c.purpose)))
        .order_by(level, day, both.c.model, both.c.purpose)
    )).all()
    total, calls = Decimal(0), 0
    lines: dict[str, list[analytics.SpendLine]] = {"day": [], "model": [], "purpose": []}
    # grouping() sets a bit per column left out: day, model, purpose → 4, 2, 1
    for lvl, day_, model, purpose, cost, n in grouped:
        if lvl == 7:
            total, calls = Decimal(cost), int(n)
        elif lvl == 3:
            lines["day"].append(analytics.SpendLine(str(day_), Decimal(cost), int(n)))
        elif lvl == 5:
            lines["model"].append(analytics.SpendLine(str(model), Decimal(cost), int(n)))
        elif lvl == 6:
            lines["purpose"].append(analytics.SpendLine(str(purpose), Decimal(cost), int(n)))
    return analytics.Spend(total_usd=total, calls=calls, by_day=lines["day"], by_model=lines["model"],
                           by_purpose=lines["purpose"])
