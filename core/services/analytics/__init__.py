"""A tenant's figures for a period: the one place the status reports (core.services.reports) and the Mini App dashboard
read them from, so both always show the same numbers for the same period.

Every function takes the caller's session, the tenant, a `Period` (an interval in the tenant's time zone) and
optional `Filters` (channel, manager, manager group), and returns plain frozen dataclasses; nothing here is text
(`as_json` turns any result into JSON-ready data). Nothing is written.

Definitions (what each figure counts):
- new: dialogs created in the period (a dialog brought in by a history import whose messages are all older than a
  day before the period is not a new conversation and is left out);
- active: dialogs with a live (not imported) message in the period, either side;
- answered: dialogs that got a reply — a manager's or the AI's — in the period;
- escalated: dialogs escalated in the period; resolved: dialogs closed in the period (and still closed);
- status: where the filtered dialogs stand now (active / waiting for the customer / escalated / resolved / inactive);
- waiting: dialogs whose customer wrote last and got no answer yet, oldest first, with their topics;
- first response: for the period's new dialogs, the time from the customer's first live message to the first reply
  after it, as median and 90th percentile, overall, for the AI and per manager (who sent that reply);
- won / lost / revenue: outcomes set in the period (and not taken back), by channel and by the manager who set them;
- AI share: the AI's drafts made in the period by what became of them;
- spend: core.ai.spend over [start, end) — tenant-wide (embeddings and other calls belong to no dialog), so its
  total is exactly what `salesop spend` adds up for the same interval.

Speed (a tenant with 200,000 dialogs): only existing indexes are used. Dialogs touched in the period are found
through ix_dialogs_list (tenant, status, last_message_at); their messages through ix_messages_history (dialog,
sent_at) and their drafts through ix_suggestions_dialog (dialog, created_at); outcome and closing changes through
the event log's ix_events_tenant_time; waiting dialogs through the partial ix_dialogs_unanswered; escalations through
ix_escalations_tenant_status; spend through ix_ai_usage_tenant_day. So a report on yesterday reads yesterday's rows,
never the tenant's whole history.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, exists, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ...ai import spend as ai_spend
from ...models import (
    AuthorKind,
    ChannelAccount,
    Customer,
    Dialog,
    DialogStatus,
    DialogTopic,
    Direction,
    Escalation,
    EscalationStatus,
    Event,
    ManagerGroup,
    Message,
    Outcome,
    StaffMember,
    Suggestion,
    SuggestionState,
)
from .. import readiness

# A dialog created in the period whose last message is older than this before the period came in by an import.
NEW_DIALOG_SLACK = timedelta(days=1)
# Drafts are made within moments of the customer's message; a dialog quiet for longer than this before the period
# cannot have drafts made in it.
DRAFT_LOOKBACK = timedelta(days=7)
# An outcome's or a closing's event is written in the same transaction as the change: the event log finds them
# within this much of the dialog's own timestamp, which then decides.
EVENT_SLACK = timedelta(hours=1)
ALL_STATUSES = tuple(DialogStatus)


# ------------------------------------------------------------------------------------------------ period, filters


@dataclass(frozen=True)
class Period:
    """[start, end) as aware datetimes; `timezone` is the tenant's, for days and hours."""

    start: datetime
    end: datetime
    timezone: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period needs aware datetimes")
        if self.end < self.start:
            raise ValueError("a period ends after it starts")
        ZoneInfo(self.timezone)  # an unknown zone fails here, not in SQL

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @staticmethod
    def midnight(day: date, timezone: str) -> datetime:
        return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone))

    @classmethod
    def day(cls, day: date, timezone: str) -> Period:
        """One whole local day."""
        return cls(cls.midnight(day, timezone), cls.midnight(day + timedelta(days=1), timezone), timezone)

    @classmethod
    def days(cls, first: date, last: date, timezone: str) -> Period:
        """Local days `first` to `last`, both included."""
        return cls(cls.midnight(first, timezone), cls.midnight(last + timedelta(days=1), timezone), timezone)

    @classmethod
    def day_until(cls, day: date, end: datetime, timezone: str) -> Period:
        """A local day from its midnight until `end` (today so far)."""
        start = cls.midnight(day, timezone)
        return cls(start, max(start, end), timezone)

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(self.zone)

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(self.zone)


@dataclass(frozen=True)
class Filters:
    """Narrow the dialogs counted. `manager_id` is the staff member a dialog is assigned to."""

    channel_id: int | None = None
    manager_id: int | None = None
    manager_group_id: int | None = None

    def apply(self, query: Select, dialog=Dialog) -> Select:
        if self.channel_id is not None:
            query = query.where(dialog.channel_id == self.channel_id)
        if self.manager_id is not None:
            query = query.where(dialog.assignee_id == self.manager_id)
        if self.manager_group_id is not None:
            query = query.where(dialog.manager_group_id == self.manager_group_id)
        return query


NO_FILTERS = Filters()


def _touched(tenant_id: int, since: datetime, filters: Filters) -> Select:
    """Dialogs with a message at or after `since` (ix_dialogs_list: the status list lets older PostgreSQL use the
    index as well as 18's skip scan)."""
    query = select(Dialog.id).where(Dialog.tenant_id == tenant_id, Dialog.status.in_(ALL_STATUSES),
                                    Dialog.last_message_at >= since)
    return filters.apply(query)


def _in(column, period: Period):
    return and_(column >= period.start, column < period.end)


def _live_message(dialog_id, period: Period, direction: Direction | None = None):
    condition = [Message.dialog_id == dialog_id, _in(Message.sent_at, period), Message.is_imported.is_(False)]
    if direction is not None:
        condition.append(Message.direction == direction)
    return exists().where(*condition)


# ------------------------------------------------------------------------------------------------------ dialogs


@dataclass(frozen=True)
class StatusCounts:
    """Where dialogs stand now."""

    active: int = 0
    waiting: int = 0
    escalated: int = 0
    resolved: int = 0
    inactive: int = 0

    @property
    def total(self) -> int:
        return self.active + self.waiting + self.escalated + self.resolved + self.inactive


@dataclass(frozen=True)
class DialogCounts:
    new: int
    active: int
    answered: int
    escalated: int
    resolved: int
    status: StatusCounts


async def dialog_counts(session: AsyncSession, tenant_id: int, period: Period,
                        filters: Filters = NO_FILTERS) -> DialogCounts:
    d = aliased(Dialog)
    base = select(
        func.count().filter(_in(d.created_at, period)),
        func.count().filter(_live_message(d.id, period)),
        func.count().filter(_live_message(d.id, period, Direction.OUT)),
    ).where(d.tenant_id == tenant_id, d.status.in_(ALL_STATUSES), d.last_message_at >= period.start - NEW_DIALOG_SLACK)
    new, active, answered = (await session.execute(filters.apply(base, d))).one()

    escalated = (await session.execute(filters.apply(
        select(func.count(func.distinct(Escalation.dialog_id)))
        .join(Dialog, Dialog.id == Escalation.dialog_id)
        .where(Escalation.tenant_id == tenant_id, _in(Escalation.created_at, period))
    ))).scalar_one()

    closed = _changed_dialogs(tenant_id, period, ("dialog_closed",))
    resolved = (await session.execute(filters.apply(
        select(func.count(Dialog.id)).where(Dialog.id.in_(closed), Dialog.status == DialogStatus.RESOLVED,
                                            _in(Dialog.closed_at, period))
    ))).scalar_one()

    by_status = dict((await session.execute(filters.apply(
        select(Dialog.status, func.count(Dialog.id)).where(Dialog.tenant_id == tenant_id).group_by(Dialog.status)
    ))).all())
    status = StatusCounts(**{s.value: by_status.get(s, 0) for s in DialogStatus})
    return DialogCounts(new=new, active=active, answered=answered, escalated=escalated, resolved=resolved,
                        status=status)


def _changed_dialogs(tenant_id: int, period: Period, kinds: tuple[str, ...]) -> Select:
    """Dialogs with an event of `kinds` around the period (ix_events_tenant_time); the dialog's own timestamp then
    decides whether the change fell in the period."""
    return select(Event.dialog_id).where(
        Event.tenant_id == tenant_id, Event.created_at >= period.start - EVENT_SLACK,
        Event.created_at < period.end + EVENT_SLACK, Event.kind.in_(kinds), Event.dialog_id.is_not(None))


# ------------------------------------------------------------------------------------------------------ waiting


@dataclass(frozen=True)
class WaitingDialog:
    dialog_id: int
    name: str
    unread: int
    since: datetime | None  # the customer's last message
    chat_id: int | None  # where its topic is (None: no topic yet)
    thread_id: int | None


@dataclass(frozen=True)
class Waiting:
    total: int
    oldest: list[WaitingDialog]


def _waiting_query(tenant_id: int, filters: Filters) -> Select:
    return filters.apply(select(Dialog.id).where(
        Dialog.tenant_id == tenant_id, Dialog.unread_count > 0,
        Dialog.status.notin_([DialogStatus.RESOLVED, DialogStatus.INACTIVE])))


async def waiting(session: AsyncSession, tenant_id: int, filters: Filters = NO_FILTERS, *,
                  limit: int = 10) -> Waiting:
    """Dialogs waiting for an answer now (ix_dialogs_unanswered), the oldest first."""
    total = (await session.execute(
        select(func.count()).select_from(_waiting_query(tenant_id, filters).subquery()))).scalar_one()
    rows = (await session.execute(
        _waiting_query(tenant_id, filters)
        .add_columns(Customer.display_name, Dialog.unread_count, Dialog.last_customer_message_at,
                     ManagerGroup.chat_id, DialogTopic.thread_id)
        .join(Customer, Customer.id == Dialog.customer_id)
        .outerjoin(DialogTopic, (DialogTopic.dialog_id == Dialog.id)
                   & (DialogTopic.manager_group_id == Dialog.manager_group_id))
        .outerjoin(ManagerGroup, ManagerGroup.id == DialogTopic.manager_group_id)
        .order_by(Dialog.last_customer_message_at.asc().nulls_last(), Dialog.id)
        .limit(limit)
    )).all()
    return Waiting(total=total, oldest=[
        WaitingDialog(dialog_id=r[0], name=r[1] or "", unread=r[2], since=r[3], chat_id=r[4],
                      thread_id=r[5] if r[4] is not None else None)
        for r in rows
    ])


# ----------------------------------------------------------------------------------------------- first response


@dataclass(frozen=True)
class ResponseStats:
    count: int = 0
    median_seconds: float | None = None
    p90_seconds: float | None = None


@dataclass(frozen=True)
class ManagerResponse:
    staff_id: int | None  # None: answered from the channel's own app, outside the product
    name: str | None
    stats: ResponseStats


@dataclass(frozen=True)
class FirstResponse:
    overall: ResponseStats
    ai: ResponseStats
    managers: ResponseStats  # every manager's first replies together
    by_manager: list[ManagerResponse]
    unanswered: int  # new dialogs of the period with no reply yet


async def first_response(session: AsyncSession, tenant_id: int, period: Period,
                         filters: Filters = NO_FILTERS) -> FirstResponse:
    d = aliased(Dialog)
    first_in = (
        select(Message.sent_at.label("at"))
        .where(Message.dialog_id == d.id, Message.direction == Direction.IN, Message.is_imported.is_(False))
        .order_by(Message.sent_at, Message.id).limit(1)
        .lateral("first_in")
    )
    first_out = (
        select(Message.sent_at.label("at"), Message.author_kind.label("kind"),
               Message.author_staff_id.label("staff_id"))
        .where(Message.dialog_id == d.id, Message.direction == Direction.OUT, Message.is_imported.is_(False),
               Message.sent_at >= first_in.c.at)
        .order_by(Message.sent_at, Message.id).limit(1)
        .lateral("first_out")
    )
    new_dialogs = filters.apply(
        select(d.id.label("dialog_id"), first_in.c.at.label("asked"), first_out.c.at.label("answered"),
               first_out.c.kind.label("kind"), first_out.c.staff_id.label("staff_id"))
        .select_from(d)
        .join(first_in, true())
        .outerjoin(first_out, true())
        .where(d.tenant_id == tenant_id, d.status.in_(ALL_STATUSES),
               d.last_message_at >= period.start - NEW_DIALOG_SLACK, _in(d.created_at, period)),
        d,
    ).cte("new_dialogs")
    seconds = func.extract("epoch", new_dialogs.c.answered - new_dialogs.c.asked)
    is_ai = new_dialogs.c.kind == AuthorKind.AI
    responder = case((is_ai, literal("ai")), else_=literal("manager"))
    median = func.percentile_cont(0.5).within_group(seconds)
    p90 = func.percentile_cont(0.9).within_group(seconds)
    answered = new_dialogs.c.answered.is_not(None)

    # percentile_cont leaves out the NULLs of unanswered dialogs; count() counts them, so they are subtracted.
    overall = (await session.execute(
        select(func.count(), median, p90, func.count().filter(~answered)).select_from(new_dialogs)
    )).one()
    answered_count = overall[0] - overall[3]
    by_side = {row[0]: ResponseStats(row[1], _f(row[2]), _f(row[3])) for row in (await session.execute(
        select(responder, func.count(), median, p90).select_from(new_dialogs).where(answered).group_by(responder)
    )).all()}
    rows = (await session.execute(
        select(new_dialogs.c.staff_id, StaffMember.name, func.count(), median, p90)
        .select_from(new_dialogs)
        .outerjoin(StaffMember, StaffMember.id == new_dialogs.c.staff_id)
        .where(answered, ~is_ai)
        .group_by(new_dialogs.c.staff_id, StaffMember.name)
        .order_by(func.count().desc(), new_dialogs.c.staff_id.asc().nulls_last())
    )).all()
    return FirstResponse(
        overall=ResponseStats(answered_count, _f(overall[1]), _f(overall[2])),
        ai=by_side.get("ai", ResponseStats()),
        managers=by_side.get("manager", ResponseStats()),
        by_manager=[ManagerResponse(r[0], r[1], ResponseStats(r[2], _f(r[3]), _f(r[4]))) for r in rows],
        unanswered=overall[3],
    )


def _f(value) -> float | None:
    return None if value is None else round(float(value), 3)


# ----------------------------------------------------------------------------------------------------- outcomes


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


# ------------------------------------------------------------------------------------------------ AI and intents


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


# -------------------------------------------------------------------------------------------------------- spend


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


# -------------------------------------------------------------------------------------------------- escalations


@dataclass(frozen=True)
class PendingEscalation:
    escalation_id: int
    dialog_id: int
    name: str
    reason: str
    created_at: datetime
    chat_id: int | None
    thread_id: int | None


@dataclass(frozen=True)
class PendingEscalations:
    total: int
    oldest: list[PendingEscalation]


async def pending_escalations(session: AsyncSession, tenant_id: int, filters: Filters = NO_FILTERS, *,
                              limit: int = 5) -> PendingEscalations:
    """Escalations nobody has handled yet (ix_escalations_tenant_status), the oldest first."""
    base = filters.apply(
        select(Escalation.id).join(Dialog, Dialog.id == Escalation.dialog_id)
        .where(Escalation.tenant_id == tenant_id, Escalation.status == EscalationStatus.PENDING))
    total = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    rows = (await session.execute(
        base.add_columns(Escalation.dialog_id, Customer.display_name, Escalation.reason, Escalation.created_at,
                         ManagerGroup.chat_id, DialogTopic.thread_id)
        .join(Customer, Customer.id == Dialog.customer_id)
        .outerjoin(DialogTopic, (DialogTopic.dialog_id == Dialog.id)
                   & (DialogTopic.manager_group_id == Dialog.manager_group_id))
        .outerjoin(ManagerGroup, ManagerGroup.id == DialogTopic.manager_group_id)
        .order_by(Escalation.created_at, Escalation.id).limit(limit)
    )).all()
    return PendingEscalations(total=total, oldest=[
        PendingEscalation(r[0], r[1], r[2] or "", r[3] or "", r[4], r[5], r[6] if r[5] is not None else None)
        for r in rows
    ])


# --------------------------------------------------------------------------------------------- channel problems


@dataclass(frozen=True)
class ChannelProblem:
    channel_id: int
    kind: str
    title: str
    status: str  # core.models.ChannelStatus value
    fix: str | None  # core.services.readiness.Fix value


@dataclass(frozen=True)
class GroupProblem:
    chat_id: int
    title: str
    removed: bool  # the bot is no longer in the group
    not_forum: bool
    missing_rights: list[str]
    fix: str | None


@dataclass(frozen=True)
class ChannelProblems:
    channels: list[ChannelProblem]
    groups: list[GroupProblem]

    @property
    def total(self) -> int:
        return len(self.channels) + len(self.groups)


async def channel_problems(session: AsyncSession, tenant_id: int, *, now: datetime) -> ChannelProblems:
    """Channels that do not work (revoked tokens, errors, captcha, flood waits, disabled, a paused import) and
    manager groups the bot cannot work in (removed, no topics, rights missing): core.services.readiness's reading."""
    checked = await readiness.check(session, tenant_id, readiness.Platform(), now=now)
    return ChannelProblems(
        channels=[ChannelProblem(c.id, c.kind, c.title, c.status.value, c.fix.value if c.fix else None)
                  for c in checked.channels if c.level is not readiness.Level.OK],
        groups=[GroupProblem(g.chat_id, g.title, not g.is_active, not g.is_forum, list(g.missing_rights),
                             g.fix.value if g.fix else None)
                for g in checked.groups if g.level is not readiness.Level.OK],
    )


# ----------------------------------------------------------------------------------------------------- activity


@dataclass(frozen=True)
class ActivityPoint:
    start: datetime  # the bucket's start, local time
    new: int  # dialogs created
    answered: int  # dialogs that got a reply


async def activity(session: AsyncSession, tenant_id: int, period: Period, filters: Filters = NO_FILTERS, *,
                   bucket: Literal["day", "hour"] = "day") -> list[ActivityPoint]:
    """New and answered dialogs per local day or hour of the period, every bucket present (zeros included)."""
    if bucket not in ("day", "hour"):
        raise ValueError("bucket is day or hour")
    tz = literal(period.timezone)
    d = aliased(Dialog)
    new_bucket = func.date_trunc(bucket, func.timezone(tz, d.created_at))
    new_rows = dict((await session.execute(filters.apply(
        select(new_bucket, func.count())
        .where(d.tenant_id == tenant_id, d.status.in_(ALL_STATUSES),
               d.last_message_at >= period.start - NEW_DIALOG_SLACK, _in(d.created_at, period))
        .group_by(new_bucket), d)
    )).all())
    touched = _touched(tenant_id, period.start, filters).subquery()
    out_bucket = func.date_trunc(bucket, func.timezone(tz, Message.sent_at))
    answered_rows = dict((await session.execute(
        select(out_bucket, func.count(func.distinct(Message.dialog_id)))
        .where(Message.dialog_id.in_(select(touched.c.id)), _in(Message.sent_at, period),
               Message.direction == Direction.OUT, Message.is_imported.is_(False))
        .group_by(out_bucket)
    )).all())
    points = []
    step = timedelta(days=1) if bucket == "day" else timedelta(hours=1)
    cursor = period.local_start.replace(tzinfo=None)
    cursor = cursor.replace(hour=0, minute=0, second=0, microsecond=0) if bucket == "day" else \
        cursor.replace(minute=0, second=0, microsecond=0)
    end = period.local_end.replace(tzinfo=None)
    while cursor < end:
        points.append(ActivityPoint(cursor.replace(tzinfo=period.zone), new_rows.get(cursor, 0),
                                    answered_rows.get(cursor, 0)))
        cursor += step
    return points


# ------------------------------------------------------------------------------------------------------ summary


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


# --------------------------------------------------------------------------------------------------------- JSON


def as_json(value):
    """Any result of this module as JSON-ready data: dataclasses → dicts, Decimal → exact string, datetimes and dates
    → ISO strings, enums → their value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in ("total", "sent"):  # derived figures the readers want too
            if isinstance(getattr(type(value), name, None), property):
                data[name] = as_json(getattr(value, name))
        return data
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [as_json(v) for v in value]
    return value
