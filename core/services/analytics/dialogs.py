"""How many dialogs: new, active, answered, escalated and resolved in the period, where they all stand now, and new
and answered dialogs per local day or hour (the dashboard's activity chart)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ...models import Dialog, DialogStatus, Direction, Escalation, Message
from .conditions import ALL_STATUSES, NEW_DIALOG_SLACK, _changed_dialogs, _in, _live_message, _touched
from .period import NO_FILTERS, Filters, Period


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
