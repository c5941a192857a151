"""What waits for people now, whatever the period: dialogs whose customer wrote last and got no answer yet
(ix_dialogs_unanswered) and escalations nobody has handled (ix_escalations_tenant_status), the oldest first, each
with the manager group's topic it lives in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ...models import Customer, Dialog, DialogStatus, DialogTopic, Escalation, EscalationStatus, ManagerGroup
from .period import NO_FILTERS, Filters


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
