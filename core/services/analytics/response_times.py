"""First response times of the period's new dialogs: from the customer's first live message to the first reply
after it, as median and 90th percentile — overall, for the AI, for managers together and per manager."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ...models import AuthorKind, Dialog, Direction, Message, StaffMember
from .conditions import ALL_STATUSES, NEW_DIALOG_SLACK, _in
from .period import NO_FILTERS, Filters, Period


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
