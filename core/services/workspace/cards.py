"""Reply cards: the AI's draft shown as a card in the dialog's topic, its edits when its state changes, what made it
outdated (a person's answer: what the customer got instead), and the escalation chat told about an escalation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ... import events, outbox
from ...models import (
    AIMode,
    Attachment,
    ChannelAccount,
    CommandState,
    Decision,
    Dialog,
    Escalation,
    Event,
    Message,
    OutboxCommand,
    StaffMember,
    Suggestion,
    SuggestionState,
    Tenant,
)
from .base import Kind, Marker, _key
from .routing import route_dialog
from .topics import _topic_command, ensure_topic, set_marker, topic_for_dialog


async def post_suggestion_card(session: AsyncSession, suggestion_id: int) -> bool:
    """Task "post_suggestion_card": the AI drafted a reply; show it as a card in the dialog's topic."""
    suggestion = await session.get(Suggestion, suggestion_id)
    if suggestion is None or suggestion.state == SuggestionState.OUTDATED:
        return False  # a newer customer message arrived first: the card would be stale on arrival
    if (suggestion.inputs or {}).get("dialog_mode") == AIMode.LEARNING.value:
        # Drafted in learning mode: kept silently, compared with the manager's own reply (core.ai.learning).
        return False
    dialog = (await session.execute(select(Dialog).where(Dialog.id == suggestion.dialog_id).with_for_update())).scalar_one()
    group = await route_dialog(session, dialog)
    if group is None:
        return False
    topic, _ = await ensure_topic(session, dialog, group)
    await _topic_command(session, group, topic, Kind.POST_REPLY_CARD, f"card:{suggestion.id}",
                         suggestion_id=suggestion.id)
    if suggestion.state == SuggestionState.PENDING:
        if suggestion.decision == Decision.ESCALATE:
            await set_marker(session, dialog, Marker.ESCALATED)
            escalation = (await session.execute(
                select(Escalation).where(Escalation.suggestion_id == suggestion.id).order_by(Escalation.id).limit(1)
            )).scalar_one_or_none()
            if escalation is not None:
                await notify_escalation(session, dialog, escalation)
        elif suggestion.decision == Decision.NEED_APPROVAL:
            await set_marker(session, dialog, Marker.WAITING)
    return True


async def refresh_cards(session: AsyncSession, suggestion_ids: list[int]) -> int:
    """Task REFRESH_CARDS: suggestions changed state (e.g. outdated by a newer customer message). A card not posted
    yet is simply not posted; a posted one is edited (its buttons go away). Returns the number of edits queued."""
    edits = 0
    for suggestion_id in suggestion_ids:
        post = (await session.execute(
            select(OutboxCommand).where(OutboxCommand.idempotency_key == f"card:{suggestion_id}")
        )).scalar_one_or_none()
        if post is None:
            continue
        if post.state in (CommandState.QUEUED, CommandState.APPROVED):
            await outbox.cancel(session, post.id, reason="suggestion outdated before its card was posted")
            continue
        if await queue_card_edit(session, suggestion_id):
            edits += 1
    return edits


async def queue_card_edit(session: AsyncSession, suggestion_id: int) -> bool:
    suggestion = await session.get(Suggestion, suggestion_id)
    if suggestion is None:
        return False
    dialog = await session.get(Dialog, suggestion.dialog_id)
    found = await topic_for_dialog(session, dialog)
    if found is None:
        return False
    topic, group = found
    await _topic_command(session, group, topic, Kind.EDIT_REPLY_CARD, _key(f"card-edit:{suggestion_id}"),
                         suggestion_id=suggestion_id)
    return True


# A person's answer made a pending draft outdated (payload: suggestion_id, via, staff_id, command_id | message_id).
OUTDATED_BY_ANSWER = "suggestion_outdated_by_answer"


def _record_outdating(session: AsyncSession, suggestion_id: int, dialog: Dialog, answer: dict | None,
                      now: datetime) -> None:
    if answer is None:
        return
    events.record(session, OUTDATED_BY_ANSWER, tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=answer.get("staff_id"), command_id=answer.get("command_id"),
                  suggestion_id=suggestion_id, via=answer["via"], message_id=answer.get("message_id"),
                  at=now.isoformat())


async def outdating_answer(session: AsyncSession, suggestion: Suggestion) -> dict | None:
    """The person's answer that made this draft outdated — what the customer got instead: {via, who (a staff name,
    None for the shop's own account), channel_kind, at, text, media} — or None when none did (a newer customer
    message outdated it, or nothing did). The text is read where it lives (the send, the message), so forgetting a
    customer forgets it here too."""
    event = (await session.execute(
        select(Event).where(Event.dialog_id == suggestion.dialog_id, Event.kind == OUTDATED_BY_ANSWER,
                            Event.payload["suggestion_id"].as_integer() == suggestion.id)
        .order_by(Event.id.desc()).limit(1)
    )).scalar_one_or_none()
    if event is None:
        return None
    p = event.payload
    text, media = "", False
    if event.command_id is not None and (command := await session.get(OutboxCommand, event.command_id)) is not None:
        text, media = command.payload.get("text") or "", bool(command.payload.get("media"))
    elif p.get("message_id") and (message := await session.get(Message, p["message_id"])) is not None:
        text = message.text or ""
        media = (await session.execute(
            select(Attachment.id).where(Attachment.message_id == message.id).limit(1))).first() is not None
    staff = await session.get(StaffMember, event.actor_staff_id) if event.actor_staff_id else None
    dialog = await session.get(Dialog, suggestion.dialog_id)
    channel = await session.get(ChannelAccount, dialog.channel_id)
    return {"via": p.get("via"), "who": staff.name if staff else None, "channel_kind": channel.kind.value,
            "at": p.get("at") or event.created_at.isoformat(), "text": text, "media": media}


async def notify_escalation(session: AsyncSession, dialog: Dialog, escalation: Escalation) -> None:
    """Tell the tenant's escalation chat (a group or a person), once per escalation."""
    tenant = await session.get(Tenant, dialog.tenant_id)
    if not tenant.escalation_chat_id:
        return
    chat_id = tenant.escalation_chat_id
    await outbox.enqueue(
        session, kind=Kind.NOTIFY_ESCALATION,
        destination=outbox.tg_group(chat_id) if chat_id < 0 else outbox.tg_chat(chat_id),
        idempotency_key=f"escalation:{escalation.id}:notify", tenant_id=dialog.tenant_id,
        payload={"escalation_id": escalation.id, "chat_id": chat_id},
    )
