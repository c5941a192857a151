"""Escalations as the people handling them see them: pending, handled or dismissed, with who raised each and when,
and who closed it and when (the Mini App's escalations page).

Handling ("I took care of it") and dismissing ("nothing to do") close a pending escalation once — a second press,
or two people at once, find it closed (the row is locked). When the dialog's last pending escalation is closed, a
dialog still marked escalated becomes active again: its topic's status marker and pinned card follow through the
outbox, as for /reopen. Each close is an event ("escalation_handled" / "escalation_dismissed"). Nothing commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..errors import NotFound, UserError
from ..models import Customer, Dialog, DialogStatus, Escalation, EscalationStatus, StaffMember
from .workspace import base, topics

PAGE = 50


@dataclass(frozen=True)
class EscalationRow:
    id: int
    dialog_id: int
    customer: str
    reason: str
    summary: str | None
    proposed_answer: str | None
    to_clarify: str | None
    status: str
    created_at: datetime
    created_by: str | None
    handled_at: datetime | None
    handled_by: str | None

    def as_dict(self) -> dict:
        out = dict(self.__dict__)
        out["created_at"] = self.created_at.isoformat() if self.created_at else None
        out["handled_at"] = self.handled_at.isoformat() if self.handled_at else None
        return out


def parse_status(value: str | None) -> EscalationStatus:
    try:
        return EscalationStatus(value or EscalationStatus.PENDING.value)
    except ValueError:
        raise UserError(f"unknown status {value!r}", code="miniapp.escalations.error.status",
                        status=str(value)) from None


async def counts(session: AsyncSession, tenant_id: int) -> dict[str, int]:
    rows = dict((await session.execute(
        select(Escalation.status, func.count()).where(Escalation.tenant_id == tenant_id).group_by(Escalation.status)
    )).all())
    return {s.value: rows.get(s, 0) for s in EscalationStatus}


async def list_escalations(session: AsyncSession, tenant_id: int, status: EscalationStatus, *,
                           before_id: int | None = None, limit: int = PAGE) -> list[EscalationRow]:
    """Newest first (pending: the oldest waiting is at the bottom); `before_id` pages on."""
    creator = select(StaffMember.name).where(StaffMember.id == Escalation.created_by_id).scalar_subquery()
    handler = select(StaffMember.name).where(StaffMember.id == Escalation.handled_by_id).scalar_subquery()
    stmt = (select(Escalation, Customer.display_name, creator, handler)
            .join(Dialog, Dialog.id == Escalation.dialog_id).join(Customer, Customer.id == Dialog.customer_id)
            .where(Escalation.tenant_id == tenant_id, Escalation.status == status))
    if before_id is not None:
        stmt = stmt.where(Escalation.id < before_id)
    rows = (await session.execute(stmt.order_by(Escalation.id.desc()).limit(limit))).all()
    return [EscalationRow(e.id, e.dialog_id, name or "", e.reason, e.summary, e.proposed_answer, e.to_clarify,
                          e.status.value, e.created_at, by, e.handled_at, handled)
            for e, name, by, handled in rows]


async def close(session: AsyncSession, tenant_id: int, escalation_id: int, status: EscalationStatus, *,
                staff_id: int, now: datetime | None = None) -> Escalation:
    """Mark a pending escalation handled or dismissed by `staff_id`."""
    if status == EscalationStatus.PENDING:
        raise UserError("an escalation is closed as handled or dismissed", code="miniapp.escalations.error.status",
                        status=status.value)
    escalation = (await session.execute(
        select(Escalation).where(Escalation.id == escalation_id).with_for_update()
    )).scalar_one_or_none()
    if escalation is None or escalation.tenant_id != tenant_id:
        raise NotFound(f"no escalation {escalation_id}", code="miniapp.escalations.error.unknown",
                       escalation=escalation_id)
    if escalation.status != EscalationStatus.PENDING:
        raise UserError("this escalation is closed already", code="miniapp.escalations.error.closed")
    escalation.status = status
    escalation.handled_by_id = staff_id
    escalation.handled_at = now or func.now()
    await session.flush()
    events.record(session, f"escalation_{status.value}", tenant_id=tenant_id, dialog_id=escalation.dialog_id,
                  actor_staff_id=staff_id, escalation_id=escalation.id, reason=escalation.reason)
    still_open = (await session.execute(select(func.count(Escalation.id)).where(
        Escalation.dialog_id == escalation.dialog_id, Escalation.status == EscalationStatus.PENDING))).scalar_one()
    dialog = await session.get(Dialog, escalation.dialog_id)
    if not still_open and dialog is not None and dialog.status == DialogStatus.ESCALATED:
        dialog.status = DialogStatus.ACTIVE
        await topics.set_marker(session, dialog, base.Marker.UNREAD if dialog.unread_count else base.Marker.ANSWERED)
        await topics.refresh_pinned_card(session, dialog)
    await session.refresh(escalation)
    return escalation
