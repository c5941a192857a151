"""What managers do with a reply card: Send (asking a second tap when a person already answered), Edit, Reject with a
reason, Escalate. Each decision is a training sample (core.ai.learning) and changes the card.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ... import events, outbox
from ...ai import learning
from ...db import lock_dialog
from ...models import (
    CommandOrigin,
    CommandState,
    Customer,
    Dialog,
    DialogStatus,
    Escalation,
    Message,
    OutboxCommand,
    Suggestion,
    SuggestionState,
    TrainingAction,
)
from ...permissions import Permission
from .base import REJECT_REASONS, Actor, Kind, Marker, WorkspaceError, _dialog, _key, _now
from .cards import notify_escalation, outdating_answer, queue_card_edit
from .replies import _after_manager_answer, send_to_customer
from .topics import _topic_command, refresh_pinned_card, set_marker, topic_for_dialog


async def request_send(session: AsyncSession, actor: Actor, suggestion_id: int, *, card_message_id: int | None = None,
                       now: datetime | None = None) -> OutboxCommand | None:
    """Send pressed on a card. A draft that a person's answer made outdated (its card may not have lost its buttons
    yet, or the manager's screen is behind) is not sent: a prompt replying to the card shows what the customer got —
    the text, who, when — with a confirm button (confirm_send); only that second tap sends. Returns the send, or
    None when the confirmation was asked for."""
    actor.require(Permission.MANAGE_CONVERSATIONS)
    suggestion = await _lock_suggestion(session, actor, suggestion_id)
    if suggestion.state == SuggestionState.OUTDATED and await outdating_answer(session, suggestion) is not None:
        dialog = await session.get(Dialog, suggestion.dialog_id)
        found = await topic_for_dialog(session, dialog)
        if found is not None:
            topic, group = found
            # One prompt per draft: pressing Send again does not post another.
            await _topic_command(session, group, topic, Kind.SEND_CONFIRM, f"send-confirm:{suggestion.id}",
                                 suggestion_id=suggestion.id, reply_to=card_message_id)
        events.record(session, "suggestion_send_confirm_asked", tenant_id=actor.tenant_id, dialog_id=dialog.id,
                      actor_staff_id=actor.staff_id, suggestion_id=suggestion.id)
        return None
    return await approve_suggestion(session, actor, suggestion_id, now=now)


async def confirm_send(session: AsyncSession, actor: Actor, suggestion_id: int, *,
                       prompt: tuple[int, int] | None = None, now: datetime | None = None) -> OutboxCommand:
    """The second tap: the manager saw what the customer already got and sends the draft as well. `prompt` (chat id,
    message id) is the confirmation prompt, which then loses its button."""
    now = _now(now)
    actor.require(Permission.MANAGE_CONVERSATIONS)
    suggestion = await _lock_suggestion(session, actor, suggestion_id)
    if suggestion.state == SuggestionState.PENDING:
        return await approve_suggestion(session, actor, suggestion_id, now=now)
    if suggestion.state != SuggestionState.OUTDATED:
        raise WorkspaceError("card_done", "this card has been handled already", state=suggestion.state.value)
    if await outdating_answer(session, suggestion) is None:
        raise WorkspaceError("card_outdated", "a newer customer message made this draft outdated")
    suggestion.state, suggestion.final_text = SuggestionState.SENT, suggestion.text
    suggestion.decided_by_id, suggestion.decided_at = actor.staff_id, now
    await _sample(session, suggestion, TrainingAction.SENT, suggestion.text)
    events.record(session, "suggestion_approved", tenant_id=actor.tenant_id, dialog_id=suggestion.dialog_id,
                  actor_staff_id=actor.staff_id, suggestion_id=suggestion.id, after_answer=True)
    command = await _send_suggestion(session, actor, suggestion, suggestion.text, now)
    if prompt is not None:
        chat_id, message_id = prompt
        await outbox.enqueue(
            session, kind=Kind.EDIT_SEND_CONFIRM, destination=outbox.tg_group(chat_id),
            idempotency_key=_key(f"send-confirm-edit:{suggestion.id}"), tenant_id=actor.tenant_id,
            dialog_id=suggestion.dialog_id,
            payload={"chat_id": chat_id, "message_id": message_id, "suggestion_id": suggestion.id},
        )
    await queue_card_edit(session, suggestion.id)
    return command


async def _lock_suggestion(session: AsyncSession, actor: Actor, suggestion_id: int) -> Suggestion:
    dialog_id = (await session.execute(
        select(Suggestion.dialog_id).where(Suggestion.id == suggestion_id))).scalar_one_or_none()
    if dialog_id is not None:
        await lock_dialog(session, dialog_id)  # the lock order (core.db): the dialog row before the suggestion
    suggestion = (
        await session.execute(select(Suggestion).where(Suggestion.id == suggestion_id).with_for_update())
    ).scalar_one_or_none()
    if suggestion is None or suggestion.tenant_id != actor.tenant_id:
        raise WorkspaceError("card_unknown", "this card is not known")
    return suggestion


async def _pending(session: AsyncSession, actor: Actor, suggestion_id: int) -> Suggestion:
    actor.require(Permission.MANAGE_CONVERSATIONS)
    suggestion = await _lock_suggestion(session, actor, suggestion_id)
    if suggestion.state == SuggestionState.OUTDATED:
        if await outdating_answer(session, suggestion) is not None:
            raise WorkspaceError("card_answered", "the customer has been answered meanwhile")
        raise WorkspaceError("card_outdated", "a newer customer message made this draft outdated")
    if suggestion.state != SuggestionState.PENDING:
        raise WorkspaceError("card_done", "this card has been handled already", state=suggestion.state.value)
    return suggestion


async def _customer_text(session: AsyncSession, message_id: int) -> str:
    message = await session.get(Message, message_id)
    return message.text if message else ""


async def _sample(session: AsyncSession, suggestion: Suggestion, action: TrainingAction, final: str | None) -> None:
    """Every Send/Edit/Reject/Escalate is a training sample (core.ai.learning owns what a sample is)."""
    await learning.record_sample(session, suggestion, action, final)


async def _send_suggestion(session: AsyncSession, actor: Actor, suggestion: Suggestion, text: str,
                           now: datetime) -> OutboxCommand:
    dialog = await session.get(Dialog, suggestion.dialog_id)
    waiting = (await session.execute(
        select(OutboxCommand).where(OutboxCommand.suggestion_id == suggestion.id,
                                    OutboxCommand.kind == Kind.SEND_CUSTOMER,
                                    OutboxCommand.state == CommandState.PENDING_APPROVAL)
    )).scalar_one_or_none()
    if waiting is not None:
        # The AI queued the reply awaiting approval: approve that command (with the final text) instead of a copy.
        waiting.payload = {**waiting.payload, "text": text, "staff_id": actor.staff_id}
        await outbox.approve(session, waiting.id, staff_id=actor.staff_id)
        await _after_manager_answer(session, dialog, except_command_id=waiting.id, now=now,
                                    answer={"via": "card", "staff_id": actor.staff_id, "command_id": waiting.id})
        return waiting
    return await send_to_customer(
        session, dialog, text=text, origin=CommandOrigin.AI, staff_id=actor.staff_id, suggestion_id=suggestion.id,
        key=f"suggestion:{suggestion.id}:send", intent=suggestion.intent, confidence=suggestion.confidence,
        state=CommandState.APPROVED, now=now,
    )


async def approve_suggestion(session: AsyncSession, actor: Actor, suggestion_id: int,
                             now: datetime | None = None) -> OutboxCommand:
    """Send: the draft goes to the customer as it is; the card changes once delivery is known."""
    now = _now(now)
    suggestion = await _pending(session, actor, suggestion_id)
    suggestion.state, suggestion.final_text = SuggestionState.SENT, suggestion.text
    suggestion.decided_by_id, suggestion.decided_at = actor.staff_id, now
    await _sample(session, suggestion, TrainingAction.SENT, suggestion.text)
    events.record(session, "suggestion_approved", tenant_id=actor.tenant_id, dialog_id=suggestion.dialog_id,
                  actor_staff_id=actor.staff_id, suggestion_id=suggestion.id)
    return await _send_suggestion(session, actor, suggestion, suggestion.text, now)


async def edit_suggestion(session: AsyncSession, actor: Actor, suggestion_id: int, text: str,
                          now: datetime | None = None) -> OutboxCommand:
    """Edit: the manager's version goes to the customer; the draft/final pair is kept for training."""
    now = _now(now)
    text = text.strip()
    if not text:
        raise WorkspaceError("empty_text", "the edited text is empty")
    suggestion = await _pending(session, actor, suggestion_id)
    suggestion.state, suggestion.final_text = SuggestionState.EDITED, text
    suggestion.decided_by_id, suggestion.decided_at = actor.staff_id, now
    await _sample(session, suggestion, TrainingAction.EDITED, text)
    events.record(session, "suggestion_edited", tenant_id=actor.tenant_id, dialog_id=suggestion.dialog_id,
                  actor_staff_id=actor.staff_id, suggestion_id=suggestion.id,
                  similarity=learning.similarity(suggestion.text, text))
    return await _send_suggestion(session, actor, suggestion, text, now)


async def _cancel_waiting_sends(session: AsyncSession, suggestion: Suggestion, reason: str) -> None:
    ids = (await session.execute(
        select(OutboxCommand.id).where(OutboxCommand.suggestion_id == suggestion.id,
                                       OutboxCommand.kind == Kind.SEND_CUSTOMER,
                                       OutboxCommand.state.in_([CommandState.PENDING_APPROVAL, *outbox.RUNNABLE]))
    )).scalars()
    for command_id in list(ids):
        await outbox.cancel(session, command_id, reason=reason)


async def reject_suggestion(session: AsyncSession, actor: Actor, suggestion_id: int, reason: str | None = None,
                            now: datetime | None = None) -> None:
    """Reject: nothing is sent. The card then offers reason buttons (optional) until one is chosen."""
    now = _now(now)
    suggestion = await _pending(session, actor, suggestion_id)
    suggestion.state, suggestion.reject_reason = SuggestionState.REJECTED, reason
    suggestion.decided_by_id, suggestion.decided_at = actor.staff_id, now
    await _sample(session, suggestion, TrainingAction.REJECTED, None)
    await _cancel_waiting_sends(session, suggestion, "rejected by a manager")
    events.record(session, "suggestion_rejected", tenant_id=actor.tenant_id, dialog_id=suggestion.dialog_id,
                  actor_staff_id=actor.staff_id, suggestion_id=suggestion.id, reason=reason)
    await queue_card_edit(session, suggestion.id)


async def set_reject_reason(session: AsyncSession, actor: Actor, suggestion_id: int, reason: str) -> None:
    actor.require(Permission.MANAGE_CONVERSATIONS)
    if reason not in REJECT_REASONS:
        raise WorkspaceError("bad_reason", "unknown reason")
    suggestion = await _lock_suggestion(session, actor, suggestion_id)
    if suggestion.state != SuggestionState.REJECTED or suggestion.reject_reason:
        raise WorkspaceError("card_done", "this card has been handled already", state=suggestion.state.value)
    suggestion.reject_reason = reason
    events.record(session, "suggestion_reject_reason", tenant_id=actor.tenant_id, dialog_id=suggestion.dialog_id,
                  actor_staff_id=actor.staff_id, suggestion_id=suggestion.id, reason=reason)
    await queue_card_edit(session, suggestion.id)


async def _summary(session: AsyncSession, dialog: Dialog) -> str:
    customer = await session.get(Customer, dialog.customer_id)
    if customer.summary:
        return customer.summary
    recent = list((await session.execute(
        select(Message.text).where(Message.dialog_id == dialog.id, Message.text != "")
        .order_by(Message.id.desc()).limit(3)
    )).scalars())
    return " / ".join(reversed([t[:200] for t in recent]))


async def escalate(session: AsyncSession, actor: Actor, *, dialog_id: int, suggestion_id: int | None = None,
                   reason: str = "manager", now: datetime | None = None) -> Escalation:
    """Escalate: an escalation with reason, summary and the proposed answer; the tenant's escalation chat is told."""
    now = _now(now)
    suggestion = None
    if suggestion_id is not None:
        suggestion = await _pending(session, actor, suggestion_id)
        dialog_id = suggestion.dialog_id
    else:
        actor.require(Permission.MANAGE_CONVERSATIONS)
    dialog = await _dialog(session, actor, dialog_id)
    escalation = Escalation(
        tenant_id=dialog.tenant_id, dialog_id=dialog.id, suggestion_id=suggestion.id if suggestion else None,
        reason=reason, summary=await _summary(session, dialog), proposed_answer=suggestion.text if suggestion else None,
        to_clarify=(suggestion.decision_reason or None) if suggestion else None, created_by_id=actor.staff_id,
    )
    session.add(escalation)
    if suggestion is not None:
        suggestion.state, suggestion.decided_by_id, suggestion.decided_at = SuggestionState.ESCALATED, actor.staff_id, now
        await _sample(session, suggestion, TrainingAction.ESCALATED, None)
        await _cancel_waiting_sends(session, suggestion, "escalated by a manager")
        await queue_card_edit(session, suggestion.id)
    dialog.status = DialogStatus.ESCALATED
    await session.flush()
    events.record(session, "dialog_escalated", tenant_id=dialog.tenant_id, dialog_id=dialog.id,
                  actor_staff_id=actor.staff_id, escalation_id=escalation.id, reason=reason)
    await set_marker(session, dialog, Marker.ESCALATED)
    await refresh_pinned_card(session, dialog)
    await notify_escalation(session, dialog, escalation)
    return escalation
