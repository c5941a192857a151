"""What the Mini App shows, as plain data, checked server-side against the staff member's role.

Fields the role hides (core.permissions.Field) are never serialised, so no page can leak them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import NotFound, PermissionDenied
from ..models import (
    Attachment,
    ChannelAccount,
    Customer,
    Dialog,
    DialogStatus,
    Message,
    Role,
    StaffMember,
    Tenant,
    TrafficTouch,
)
from ..permissions import Field, Permission, can

PAGE = 100


async def memberships(session: AsyncSession, telegram_user_id: int) -> list[tuple[StaffMember, Role, Tenant]]:
    rows = await session.execute(
        select(StaffMember, Role, Tenant)
        .join(Role, Role.id == StaffMember.role_id)
        .join(Tenant, Tenant.id == StaffMember.tenant_id)
        .where(StaffMember.telegram_user_id == telegram_user_id, StaffMember.is_active.is_(True))
        .order_by(Tenant.id)
    )
    return [tuple(r) for r in rows]


async def staff_for(session: AsyncSession, telegram_user_id: int, tenant_id: int,
                    permission: Permission) -> tuple[StaffMember, Role]:
    """The active staff member of that tenant, if the role grants the permission. Removed staff are refused at once."""
    for staff, role, tenant in await memberships(session, telegram_user_id):
        if tenant.id == tenant_id:
            if not can(role.permissions, permission):
                raise PermissionDenied(f"your role «{role.name}» does not allow this")
            return staff, role
    raise PermissionDenied("you are not a staff member of this business")


def _customer(customer: Customer, hidden: set[str], touch: TrafficTouch | None) -> dict:
    out: dict = {"name": customer.display_name, "blocked": customer.blocked}
    optional = {
        Field.USERNAME: customer.username, Field.PHONE: customer.phone, Field.EMAIL: customer.email,
        Field.PROFILE_LINK: customer.profile_url, Field.TAGS: list(customer.tags or []), Field.NOTES: customer.notes,
    }
    for field, value in optional.items():
        if field.value not in hidden and value:
            out[field.value] = value
    if Field.TRAFFIC_SOURCE.value not in hidden and touch is not None:
        out["traffic_source"] = {k: v for k, v in {
            "source": touch.source, "medium": touch.medium, "campaign": touch.campaign, "ref": touch.ref,
        }.items() if v}
    return out


def _dialog_row(dialog: Dialog, customer: dict, channel: ChannelAccount, hidden: set[str]) -> dict:
    row = {
        "id": dialog.id, "status": dialog.status.value, "ai_mode": dialog.ai_mode.value,
        "unread": dialog.unread_count, "messages": dialog.message_count,
        "last_message_at": dialog.last_message_at.isoformat() if dialog.last_message_at else None,
        "channel": {"kind": channel.kind.value, "title": channel.title}, "customer": customer,
        "outcome": dialog.outcome.value if dialog.outcome else None,
    }
    if Field.DEAL_AMOUNT.value not in hidden and dialog.outcome_amount is not None:
        row["amount"] = str(dialog.outcome_amount)
    return row


async def list_dialogs(session: AsyncSession, *, tenant_id: int, role: Role, status: DialogStatus | None = None,
                       limit: int = 50) -> list[dict]:
    """The tenant's dialogs, freshest first. Dialogs with no messages are not dialogs and are not listed."""
    query = (
        select(Dialog, Customer, ChannelAccount, TrafficTouch)
        .join(Customer, Customer.id == Dialog.customer_id)
        .join(ChannelAccount, ChannelAccount.id == Dialog.channel_id)
        .outerjoin(TrafficTouch, TrafficTouch.id == Customer.first_touch_id)
        .where(Dialog.tenant_id == tenant_id, Dialog.message_count > 0)
        .order_by(Dialog.last_message_at.desc().nulls_last(), Dialog.id.desc())
        .limit(min(limit, 200))
    )
    if status is not None:
        query = query.where(Dialog.status == status)
    hidden = set(role.hidden_fields)
    return [
        _dialog_row(dialog, _customer(customer, hidden, touch), channel, hidden)
        for dialog, customer, channel, touch in await session.execute(query)
    ]


async def dialog_history(session: AsyncSession, *, dialog_id: int, telegram_user_id: int,
                         before: datetime | None = None) -> dict:
    dialog = await session.get(Dialog, dialog_id)
    if dialog is None:
        raise NotFound(f"no dialog {dialog_id}")
    _, role = await staff_for(session, telegram_user_id, dialog.tenant_id, Permission.VIEW_CONVERSATIONS)
    customer = await session.get(Customer, dialog.customer_id)
    channel = await session.get(ChannelAccount, dialog.channel_id)
    touch = await session.get(TrafficTouch, customer.first_touch_id) if customer.first_touch_id else None
    hidden = set(role.hidden_fields)
    query = select(Message).where(Message.dialog_id == dialog_id).order_by(Message.sent_at.desc(), Message.id.desc())
    if before is not None:
        query = query.where(Message.sent_at < before)
    messages = list((await session.execute(query.limit(PAGE))).scalars())
    attachments: dict[int, list[dict]] = {}
    if messages:
        for att in (await session.execute(
            select(Attachment).where(Attachment.message_id.in_([m.id for m in messages])).order_by(Attachment.ordinal)
        )).scalars():
            attachments.setdefault(att.message_id, []).append(
                {"kind": att.kind.value, "name": att.file_name, "mime": att.mime, "error": att.error})
    return {
        "dialog": _dialog_row(dialog, _customer(customer, hidden, touch), channel, hidden),
        "messages": [
            {"id": m.id, "direction": m.direction.value, "author": m.author_kind.value, "text": m.text,
             "sent_at": m.sent_at.isoformat(), "edited": m.edit_count > 0, "deleted": m.deleted_at is not None,
             "imported": m.is_imported, "attachments": attachments.get(m.id, [])}
            for m in reversed(messages)
        ],
        "has_more": len(messages) == PAGE,
    }
