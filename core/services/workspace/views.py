"""What the workspace shows, as plain data: the pinned card, reply cards, mirrored messages, escalations, /inbox.

The bot renders these dicts (bot/render.py); fields a role may not see are left out here, so no renderer can leak
them. The cards in a manager group are seen by everyone in it, so they follow the visibility of the group's
audience role (core.services.workspace.base.AUDIENCE_ROLE).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ...ai.reasons import same_reason_code, suggestion_reason_code
from ...ai.retrieval import card_sources
from ...media import MediaStore, UnsafeStorageKey
from ...models import (
    Attachment,
    ChannelAccount,
    Customer,
    Dialog,
    DialogTopic,
    Escalation,
    Message,
    OutboxCommand,
    Role,
    StaffMember,
    Suggestion,
    Tenant,
    TrafficTouch,
)
from ...permissions import BUILTIN_ROLES
from ...permissions import Field as F
from .base import AUDIENCE_ROLE, Kind
from .topics import topic_for_dialog

HISTORY_LINES = 3
HISTORY_CHARS = 120
NOTES_LINES = 5


async def audience_hidden_fields(session: AsyncSession, tenant_id: int) -> set[str]:
    hidden = (await session.execute(
        select(Role.hidden_fields).where(Role.tenant_id == tenant_id, Role.code == AUDIENCE_ROLE)
    )).scalar_one_or_none()
    if hidden is None:  # the role was deleted: fall back to what the built-in manager role hides
        return {f.value for f in BUILTIN_ROLES[AUDIENCE_ROLE]["hidden"]}
    return set(hidden)


async def tenant_timezone(session: AsyncSession, tenant_id: int) -> str:
    return (await session.execute(select(Tenant.timezone).where(Tenant.id == tenant_id))).scalar_one()


async def staff_name(session: AsyncSession, staff_id: int | None) -> str | None:
    if staff_id is None:
        return None
    staff = await session.get(StaffMember, staff_id)
    return staff.name if staff else None


async def pinned_card(session: AsyncSession, topic: DialogTopic) -> dict:
    dialog = await session.get(Dialog, topic.dialog_id)
    customer = await session.get(Customer, dialog.customer_id)
    channel = await session.get(ChannelAccount, dialog.channel_id)
    hidden = await audience_hidden_fields(session, dialog.tenant_id)

    def show(field: F) -> bool:
        return field.value not in hidden

    person: dict = {"name": customer.display_name or f"#{dialog.id}"}
    if show(F.USERNAME) and customer.username:
        person["username"] = customer.username
    if show(F.PHONE) and customer.phone:
        person["phone"] = customer.phone
    if show(F.EMAIL) and customer.email:
        person["email"] = customer.email
    if show(F.PROFILE_LINK) and customer.profile_url:
        person["profile_link"] = customer.profile_url
    if show(F.TAGS) and customer.tags:
        person["tags"] = list(customer.tags)
    if show(F.NOTES) and customer.notes:
        person["notes"] = customer.notes.splitlines()[-NOTES_LINES:]
    data: dict = {
        "dialog_id": dialog.id,
        "customer": person,
        "channel": {"kind": channel.kind.value, "title": channel.title},
        "status": dialog.status.value,
        "ai_mode": dialog.ai_mode.value,
        "assignee": await staff_name(session, dialog.assignee_id),
        "outcome": dialog.outcome.value if dialog.outcome else None,
        "outcome_reason": dialog.outcome_reason,
        "blocked": customer.blocked,
        "summary": customer.summary,
        "timezone": await tenant_timezone(session, dialog.tenant_id),
    }
    if show(F.DEAL_AMOUNT) and dialog.outcome_amount is not None:
        data["amount"] = str(dialog.outcome_amount)
        data["currency"] = dialog.outcome_currency
    if show(F.TRAFFIC_SOURCE) and customer.first_touch_id:
        touch = await session.get(TrafficTouch, customer.first_touch_id)
        data["traffic"] = {k: getattr(touch, k) for k in ("source", "medium", "campaign", "ref") if getattr(touch, k)}
    recent = list((await session.execute(
        select(Message).where(Message.dialog_id == dialog.id, Message.deleted_at.is_(None))
        .order_by(Message.id.desc()).limit(HISTORY_LINES)
    )).scalars())
    data["history"] = [
        {"direction": m.direction.value, "text": (m.text or "")[:HISTORY_CHARS], "at": m.sent_at.isoformat()}
        for m in reversed(recent)
    ]
    return data


async def send_command_of(session: AsyncSession, suggestion_id: int) -> OutboxCommand | None:
    return (await session.execute(
        select(OutboxCommand)
        .where(OutboxCommand.suggestion_id == suggestion_id, OutboxCommand.kind == Kind.SEND_CUSTOMER)
        .order_by(OutboxCommand.id.desc()).limit(1)
    )).scalar_one_or_none()


async def reply_card(session: AsyncSession, suggestion: Suggestion) -> dict:
    data = {
        "suggestion_id": suggestion.id,
        "dialog_id": suggestion.dialog_id,
        "text": suggestion.text,
        "intent": suggestion.intent,
        "confidence": suggestion.confidence,
        "decision": suggestion.decision.value,
        "decision_reason": suggestion.decision_reason,
        "reason_code": suggestion_reason_code(suggestion),  # shown in the card reader's language
        "sources": await card_sources(session, suggestion.text, suggestion.sources or []),
        "state": suggestion.state.value,
        "final_text": suggestion.final_text,
        "reject_reason": suggestion.reject_reason,
        "decided_by": await staff_name(session, suggestion.decided_by_id),
        "decided_at": suggestion.decided_at.isoformat() if suggestion.decided_at else None,
        "delivery": None,
        "timezone": await tenant_timezone(session, suggestion.tenant_id),
    }
    command = await send_command_of(session, suggestion.id)
    if command is not None:
        data["delivery"] = {"state": command.state.value, "error": command.last_error,
                            "error_code": (command.result or {}).get("error_code"),
                            "at": command.done_at.isoformat() if command.done_at else None,
                            "automatic": command.payload.get("staff_id") is None,
                            # an account connected both ways (userbot and Telegram Business): which way it went
                            "via": (command.result or {}).get("via") if (command.result or {}).get("via_shown")
                            else None}
    return data


async def mirror_messages(session: AsyncSession, message_ids: list[int], media_root: Path) -> list[dict]:
    messages = list((await session.execute(
        select(Message).where(Message.id.in_(message_ids)).order_by(Message.id)
    )).scalars())
    attachments = list((await session.execute(
        select(Attachment).where(Attachment.message_id.in_(message_ids)).order_by(Attachment.message_id, Attachment.ordinal)
    )).scalars())
    by_message: dict[int, list[dict]] = {}
    store = MediaStore(media_root)
    for att in attachments:
        path = None
        if att.storage_key:
            try:  # a key that would leave the media store is never read, whatever the database says
                candidate = store.path_of(att.storage_key)
            except UnsafeStorageKey:
                candidate = None
            path = str(candidate) if candidate is not None and candidate.is_file() else None
        by_message.setdefault(att.message_id, []).append({
            "id": att.id, "kind": att.kind.value, "file_id": att.telegram_file_id, "path": path,
            "file_name": att.file_name, "mime": att.mime, "error": att.error, "duration": att.duration,
        })
    return [
        {"id": m.id, "text": m.text or "", "direction": m.direction.value, "author_kind": m.author_kind.value,
         "sent_at": m.sent_at.isoformat(), "deleted": m.deleted_at is not None, "edited": m.edit_count > 0,
         "media_group_id": m.media_group_id, "attachments": by_message.get(m.id, [])}
        for m in messages
    ]


async def escalation_card(session: AsyncSession, escalation: Escalation) -> dict:
    dialog = await session.get(Dialog, escalation.dialog_id)
    customer = await session.get(Customer, dialog.customer_id)
    found = await topic_for_dialog(session, dialog)
    topic = None
    if found is not None and found[0].thread_id is not None:
        topic = {"chat_id": found[1].chat_id, "thread_id": found[0].thread_id}
    draft = await session.get(Suggestion, escalation.suggestion_id) if escalation.suggestion_id else None
    return {
        "escalation_id": escalation.id, "dialog_id": dialog.id, "customer": customer.display_name,
        "reason": escalation.reason, "reason_code": same_reason_code(escalation.reason, draft),
        "to_clarify_code": same_reason_code(escalation.to_clarify, draft), "summary": escalation.summary, "proposed_answer": escalation.proposed_answer,
        "to_clarify": escalation.to_clarify, "by": await staff_name(session, escalation.created_by_id),
        "topic": topic,
    }
