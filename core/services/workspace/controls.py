"""Per-dialog controls (AI mode, assignee, won/lost, close/reopen) and /inbox, the list of dialogs waiting for an
answer.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ... import events, outbox
from ...ai import learning
from ...models import (
    AIMode,
    Customer,
    Dialog,
    DialogStatus,
    DialogTopic,
    ManagerGroup,
    OutboxCommand,
    Outcome,
    StaffMember,
    Tenant,
)
from ...permissions import Permission
from .base import Actor, Kind, Marker, WorkspaceError, _dialog, _key, _now
from .replies import _topic_dialog
from .topics import refresh_pinned_card, set_marker

AI_MODE_ALIASES = {"off": AIMode.OFF, "learning": AIMode.LEARNING, "semi": AIMode.SEMI_AUTO,
                   "semi_auto": AIMode.SEMI_AUTO, "auto": AIMode.AUTO}


async def dialog_in_group(session: AsyncSession, actor: Actor, group: ManagerGroup, thread_id: int | None) -> Dialog:
    _, dialog = await _topic_dialog(session, group, thread_id)
    if dialog.tenant_id != actor.tenant_id:
        raise WorkspaceError("dialog_unknown", "this dialog is not known")
    return dialog


async def set_ai_mode(session: AsyncSession, actor: Actor, dialog_id: int, mode: str) -> Dialog:
    actor.require(Permission.MANAGE_AUTOSEND)
    if mode not in AI_MODE_ALIASES:
        raise WorkspaceError("bad_ai_mode", "AI mode: off, learning, semi or auto")
    dialog = await _dialog(session, actor, dialog_id)
    previous, dialog.ai_mode = dialog.ai_mode, AI_MODE_ALIASES[mode]
    if previous != dialog.ai_mode:
        events.record(session, "ai_mode_changed", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                      actor_staff_id=actor.staff_id, mode=dialog.ai_mode.value, previous=previous.value)
        await refresh_pinned_card(session, dialog)
    return dialog


async def assign(session: AsyncSession, actor: Actor, dialog_id: int, *, staff_id: int | None = None,
                 username: str | None = None) -> StaffMember:
    """Assign the dialog to a staff member (the actor by default, or @username)."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    dialog = await _dialog(session, actor, dialog_id)
    query = select(StaffMember).where(StaffMember.tenant_id == actor.tenant_id, StaffMember.is_active.is_(True))
    if username:
        query = query.where(func.lower(StaffMember.username) == username.lstrip("@").lower())
    else:
        query = query.where(StaffMember.id == (staff_id or actor.staff_id))
    staff = (await session.execute(query)).scalar_one_or_none()
    if staff is None:
        raise WorkspaceError("staff_unknown", "no such staff member", who=username or "")
    if dialog.assignee_id != staff.id:
        dialog.assignee_id = staff.id
        events.record(session, "dialog_assigned", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                      actor_staff_id=actor.staff_id, assignee_id=staff.id)
        await refresh_pinned_card(session, dialog)
    return staff


def parse_amount(raw: str | None) -> Decimal | None:
    if not raw or not raw.strip():
        return None
    try:
        amount = Decimal(raw.strip().replace(" ", "").replace(",", "."))
    except InvalidOperation:
        raise WorkspaceError("bad_amount", "the amount must be a number", raw=raw) from None
    if amount < 0 or amount >= Decimal("1e12"):
        raise WorkspaceError("bad_amount", "the amount must be a number", raw=raw)
    return amount


async def mark_won(session: AsyncSession, actor: Actor, dialog_id: int, amount: Decimal | None = None,
                   now: datetime | None = None) -> Dialog:
    """Won: a sale. The dialog's approved replies become few-shot examples for the assistant."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    dialog = await _dialog(session, actor, dialog_id)
    tenant = await session.get(Tenant, dialog.tenant_id)
    dialog.outcome, dialog.outcome_amount, dialog.outcome_at = Outcome.WON, amount, _now(now)
    dialog.outcome_currency, dialog.outcome_reason = tenant.currency, None
    await session.flush()
    await learning.on_dialog_outcome(session, dialog.id)
    events.record(session, "dialog_won", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=actor.staff_id, amount=str(amount) if amount is not None else None)
    await set_marker(session, dialog, Marker.WON)
    await refresh_pinned_card(session, dialog)
    return dialog


async def mark_lost(session: AsyncSession, actor: Actor, dialog_id: int, reason: str | None = None,
                    now: datetime | None = None) -> Dialog:
    actor.require(Permission.MANAGE_CONVERSATIONS)
    dialog = await _dialog(session, actor, dialog_id)
    dialog.outcome, dialog.outcome_reason, dialog.outcome_at = Outcome.LOST, (reason or None), _now(now)
    dialog.outcome_amount = None
    await session.flush()
    await learning.on_dialog_outcome(session, dialog.id)
    events.record(session, "dialog_lost", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=actor.staff_id, reason=reason)
    await set_marker(session, dialog, Marker.LOST)
    await refresh_pinned_card(session, dialog)
    return dialog


async def close_dialog(session: AsyncSession, actor: Actor, dialog_id: int, now: datetime | None = None) -> Dialog:
    actor.require(Permission.MANAGE_CONVERSATIONS)
    dialog = await _dialog(session, actor, dialog_id)
    if dialog.status != DialogStatus.RESOLVED:
        dialog.status, dialog.closed_at = DialogStatus.RESOLVED, _now(now)
        events.record(session, "dialog_closed", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                      actor_staff_id=actor.staff_id)
        if dialog.outcome is None:
            await set_marker(session, dialog, Marker.CLOSED)
        await refresh_pinned_card(session, dialog)
    return dialog


async def reopen_dialog(session: AsyncSession, actor: Actor, dialog_id: int) -> Dialog:
    actor.require(Permission.MANAGE_CONVERSATIONS)
    dialog = await _dialog(session, actor, dialog_id)
    if dialog.status in (DialogStatus.RESOLVED, DialogStatus.ESCALATED) or dialog.outcome is not None:
        dialog.status, dialog.closed_at = DialogStatus.ACTIVE, None
        dialog.outcome = dialog.outcome_amount = dialog.outcome_reason = dialog.outcome_at = None
        events.record(session, "dialog_reopened", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                      actor_staff_id=actor.staff_id)
        await set_marker(session, dialog, Marker.UNREAD if dialog.unread_count else Marker.ANSWERED)
        await refresh_pinned_card(session, dialog)
    return dialog


async def unanswered(session: AsyncSession, tenant_id: int, limit: int = 30) -> list[dict]:
    """Dialogs waiting for an answer, oldest first, with where their topics are."""
    rows = (await session.execute(
        select(Dialog, Customer.display_name, DialogTopic.thread_id, ManagerGroup.chat_id)
        .join(Customer, Customer.id == Dialog.customer_id)
        .outerjoin(DialogTopic, (DialogTopic.dialog_id == Dialog.id)
                   & (DialogTopic.manager_group_id == Dialog.manager_group_id))
        .outerjoin(ManagerGroup, ManagerGroup.id == DialogTopic.manager_group_id)
        .where(Dialog.tenant_id == tenant_id, Dialog.unread_count > 0,
               Dialog.status.notin_([DialogStatus.RESOLVED, DialogStatus.INACTIVE]))
        .order_by(Dialog.last_customer_message_at.asc().nulls_last(), Dialog.id)
        .limit(limit)
    )).all()
    return [
        {"dialog_id": dialog.id, "name": name, "unread": dialog.unread_count,
         "since": dialog.last_customer_message_at.isoformat() if dialog.last_customer_message_at else None,
         "chat_id": chat_id, "thread_id": thread_id}
        for dialog, name, thread_id, chat_id in rows
    ]


async def request_inbox(session: AsyncSession, actor: Actor, group: ManagerGroup, *, thread_id: int | None,
                        reply_to: int | None) -> OutboxCommand:
    actor.require(Permission.VIEW_CONVERSATIONS)
    return await outbox.enqueue(
        session, kind=Kind.INBOX, destination=outbox.tg_group(group.chat_id), idempotency_key=_key("inbox"),
        tenant_id=group.tenant_id,
        payload={"chat_id": group.chat_id, "thread_id": thread_id, "tenant_id": group.tenant_id,
                 "reply_to": reply_to},
    )
